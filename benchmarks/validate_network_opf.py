"""The network-aware figures against pandapower's AC optimal power flow on SimBench grids.

For sampled hours of a SimBench MV grid's year (its own 2016 profiles, hourly means, 29
February dropped: ``atlas.network.simbench``), every generator a resource whose capability
is the P-Q box of its technology's grid-code limits (``atlas.engine.capability.box_set``:
pandapower's OPF takes boxes, not circles), and each of the four directions:

- the atlas: the network linearised at the hour's operating point (pandapower's power flow
  and Jacobian), the network-aware programme, its linear model corrected by the AC power flow
  of its dispatch (``atlas.network.dispatch.corrected_figures``, ``--rounds``; the figures
  without the correction are printed too);
- the reference: pandapower's AC OPF of the same problem (``atlas.network.check.opf_figure``);
- the AC power flow of the atlas's dispatch (``atlas.network.check.ac_check``).

Prints the agreement (within 2 % or 0.1 MW/Mvar; within 5 % or 0.25), the OPF's failures,
the AC excesses and the time per OPF; asserts nothing. Issue 14's acceptance check.

    python benchmarks/validate_network_opf.py --code 1-MV-urban--0-sw --hours 100
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default="1-MV-semiurb--0-sw")
    parser.add_argument("--hours", type=int, default=100, help="sampled hours of the year")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--v-min", type=float, default=0.95)
    parser.add_argument("--v-max", type=float, default=1.05)
    parser.add_argument("--rounds", type=int, default=2, help="AC corrections of the linear model")
    args = parser.parse_args()

    from atlas.network.check import ac_check, opf_figure
    from atlas.network.dispatch import DIRECTIONS, corrected_figures, network_figures
    from atlas.network.linearise import hour_state, linearise
    from atlas.network.simbench import read_simbench

    warnings.filterwarnings("ignore", category=FutureWarning)
    year = read_simbench(args.code)
    net = year.net
    hours = np.sort(np.random.default_rng(args.seed).choice(8760, args.hours, replace=False))
    buses = list(net.sgen.bus)
    rows = []  # (direction, hour, atlas, blind, opf, v excess, loading excess, binding)
    t_atlas = t_opf = 0.0
    n_opf = 0
    for h in hours:
        year.at_hour(int(h))
        limits = year.limits(int(h))
        t0 = time.perf_counter()
        lin = linearise(net, buses, v_min=args.v_min, v_max=args.v_max)
        sets = year.deviation_sets(slice(h, h + 1), box=True)
        linear = network_figures(sets, lin)
        result = corrected_figures(sets, lin, hour_state(net, buses), rounds=args.rounds)
        t_atlas += time.perf_counter() - t0
        for d in DIRECTIONS:
            check = ac_check(net, buses, result.dispatch[d][0], args.v_min, args.v_max)
            t0 = time.perf_counter()
            ref = opf_figure(net, limits, d, args.v_min, args.v_max)
            t_opf += time.perf_counter() - t0
            n_opf += 1
            rows.append((d, int(h), float(result.figure[d][0]), float(result.blind[d][0]), ref,
                         max(check.v_max_excess, check.v_min_excess), check.loading_excess,
                         result.binding[d][0], float(linear.figure[d][0])))  # fmt: skip

    print(f"SimBench {args.code}: {len(net.bus)} buses, {len(net.sgen)} generators as "
          f"resources (P-Q boxes), {len(hours)} sampled hours x 4 directions (seed {args.seed})")  # fmt: skip
    print(f"  atlas: {t_atlas / len(hours) * 1e3:.0f} ms per hour (linearisation at the hour's "
          f"operating point and 4 directions); pandapower AC OPF {t_opf / n_opf * 1e3:.0f} ms "
          f"per snapshot and direction")  # fmt: skip
    worst_v = max(r[5] for r in rows)
    worst_l = max(r[6] for r in rows)
    print(f"  AC power flow of the atlas's dispatch: worst voltage excess {worst_v:.5f} pu "
          f"(tolerance 0.005), worst loading excess {100 * worst_l:.2f} % (tolerance 2 %)")  # fmt: skip
    failed = sum(r[4] is None for r in rows)
    print(f"  OPF not converged in {failed} of {len(rows)} hour-directions ({failed / len(rows):.1%}; "
          "at most 2 % allowed)")  # fmt: skip
    for d in DIRECTIONS:
        sel = [r for r in rows if r[0] == d]
        ok = [r for r in sel if r[4] is not None]
        above = sum(r[2] > r[3] + 1e-9 for r in sel)
        binding = sum(bool(r[7]) for r in sel)
        if not ok:
            print(f"  {d}: the OPF converged in none of {len(sel)} hours")
            continue
        diff = np.array([r[2] - r[4] for r in ok])
        ref = np.abs([r[4] for r in ok])
        tight = np.abs(diff) <= np.maximum(0.02 * ref, 0.1)
        loose = np.abs(diff) <= np.maximum(0.05 * ref, 0.25)
        lin_diff = np.array([r[8] - r[4] for r in ok])
        lin_tight = np.abs(lin_diff) <= np.maximum(0.02 * ref, 0.1)
        print(f"  {d}: OPF converged {len(ok)}/{len(sel)}; within 2 % or 0.1: "
              f"{tight.mean():.1%}; within 5 % or 0.25: {loose.mean():.1%}; largest |atlas - "
              f"OPF| {np.abs(diff).max():.4f}; network binds in {binding} h; atlas above "
              f"blind in {above} h; without the AC correction: within 2 % or 0.1 "
              f"{lin_tight.mean():.1%}, largest {np.abs(lin_diff).max():.4f}")  # fmt: skip
        for r, lo in zip(ok, loose, strict=True):
            if not lo:
                print(f"    hour {r[1]}: atlas {r[2]:.4f}, OPF {r[4]:.4f}, blind {r[3]:.4f}, "
                      f"binding {r[7]!r}")  # fmt: skip


if __name__ == "__main__":
    main()
