"""The network-aware LP's cost per hour on a SYNTHETIC linearised MV feeder (no pandapower).

A radial feeder of ``--buses`` buses in a line, a resource at every ``--every``-th bus (a
box-disc set of 0.5 MVA), LinDistFlow-like sensitivities (a bus's voltage moves with the
injections downstream of the path they share: R and X of 0.2 and 0.1 ohm-equivalent pu per
segment, invented), branch ratings of 10 MVA, and an operating point pushed near v_max. A
STRESS case: the blind optimum breaks limits in every hour and direction, so every one is an
LP with hundreds of broken rows; a real network needs far fewer. Prints the time per LP and
what a grid-year would take at that share; asserts nothing. With ``--highs`` the same hours
are solved again by HiGHS alone (``scipy.optimize.linprog``, as before the dual simplex):
the figures of both and their largest difference are printed.

    python benchmarks/bench_network_lp.py --buses 150 --hours 2000
    python benchmarks/bench_network_lp.py --buses 150 --hours 200 --highs
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from atlas.network import dispatch
from atlas.network.dispatch import LinearNetwork, network_figures


def synthetic(n_bus: int, every: int, n_hours: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    at = np.arange(every - 1, n_bus, every)  # resource buses
    n_res = len(at)
    depth = np.arange(1, n_bus + 1)
    shared = np.minimum(depth[:, None], depth[at][None, :])  # segments shared with the path
    r, x = 2e-4, 1e-4  # pu per MW and per Mvar per segment (INVENTED)
    vp, vq = r * shared, x * shared
    # branch k carries the injections of every resource downstream of it
    fp = (np.arange(n_bus)[:, None] <= at[None, :]).astype(float)
    sets = []
    for _ in range(n_res):
        theta = np.linspace(0, 2 * np.pi, 17)[:-1]
        disc = 0.5 * np.column_stack([np.cos(theta), np.sin(theta)])
        sets.append(np.repeat(disc[None], n_hours, axis=0))
    v0 = 1.0 + 0.05 * rng.uniform(0.4, 1.0, (n_hours, 1)) * depth[None, :] / n_bus
    zeros = np.zeros((n_bus, n_res))
    net = LinearNetwork(
        v0=v0, vp=vp, vq=vq,
        f0=rng.uniform(0, 5, (n_hours, n_bus)), g0=np.zeros((n_hours, n_bus)),
        fp=fp, fq=zeros, gp=zeros, gq=fp.copy(),
        rating=np.full(n_bus, 10.0),
    )  # fmt: skip
    return sets, net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buses", type=int, default=150)
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--hours", type=int, default=2000)
    parser.add_argument("--highs", action="store_true", help="and HiGHS alone, to compare")
    args = parser.parse_args()
    sets, net = synthetic(args.buses, args.every, args.hours)
    t0 = time.perf_counter()
    result = network_figures(sets, net)
    wall = time.perf_counter() - t0
    n_lp = sum(int(v.sum()) for v in result.lp_hours.values())
    methods = collections.Counter(m for v in result.method.values() for m in v if m)
    print(
        f"SYNTHETIC feeder: {args.buses} buses, {len(sets)} resources, {args.hours} hours x 4 "
        f"directions: {wall:.1f} s, {n_lp} optimised ({n_lp / (4 * args.hours):.0%} of "
        f"hour-directions; {dict(methods)})"
    )
    if n_lp:
        print(f"  about {1000 * wall / n_lp:.1f} ms per optimised hour (screening included)")
    print(f"  one grid-year (8760 h x 4) at this share: about {wall * 8760 / args.hours:.0f} s")
    if args.highs:
        dispatch.MAX_PIVOTS, dispatch.ONE_ROW_TRIES = 0, 0  # every hour to HiGHS
        t0 = time.perf_counter()
        highs = network_figures(sets, net)
        wall_h = time.perf_counter() - t0
        gap = max(np.abs(highs.figure[d] - result.figure[d]).max() for d in result.figure)
        print(f"  HiGHS alone (scipy.optimize.linprog, cutting planes): {wall_h:.1f} s, about "
              f"{1000 * wall_h / max(n_lp, 1):.1f} ms per optimised hour; largest difference "
              f"of the figures {gap:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
