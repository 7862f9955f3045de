"""Network-aware years on SimBench MV grids: batch power flow, linearisation, optimisation.

Each grid, its loads and generators and their 2016 quarter-hour profiles come from SimBench
(ODbL; the ``network`` extra), as hourly means with 29 February dropped
(``atlas.network.simbench``). Every generator is a resource with the atlas's grid-code set
of its technology (``atlas.network.simbench.TECHNOLOGY``). Prints the time of each step,
the hour-directions that needed an optimisation and how they were solved, the binding
limits, and, measured in the same run, pandapower's AC OPF per snapshot; asserts nothing.

    python benchmarks/bench_network_simbench.py --code 1-MV-semiurb--0-sw    # one grid-year
    python benchmarks/bench_network_simbench.py --networks 30 --workers 2     # 30 grid-years

With ``--networks N`` the grid-years run in ``--workers`` processes, cycling through
SimBench's twelve MV grids with switches (rural, semi-urban, urban, commercial; scenarios
0, 1, 2): each one read, solved and linearised in its worker, as if N PS each had its own
network. Not yet the product's engine (issue 14: networks as study inputs).
"""

from __future__ import annotations

import argparse
import collections
import os
import time
import warnings

import numpy as np

MV_GRIDS = [
    f"1-MV-{kind}--{scenario}-sw"
    for scenario in (0, 1, 2)
    for kind in ("rural", "semiurb", "urban", "comm")
]


def grid_year(code: str, v_max: float = 1.05, hours: int = 8760) -> dict:
    """One grid-year: times [s] and the figures' summary."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pandapower as pp

    from atlas.network.dispatch import network_figures
    from atlas.network.linearise import linearise
    from atlas.network.simbench import read_simbench

    t0 = time.perf_counter()
    year = read_simbench(code)
    net = year.net
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    lookup = net._pd2ppc_lookups["bus"]
    base = float(ppc["baseMVA"])
    p0 = year.limits(slice(0, hours))["p0"]  # (hours, n_sgen) the grid code's operating point
    s_hours = np.zeros((len(ppc["V"]), hours), dtype=complex)
    np.add.at(s_hours, lookup[net.load.bus.to_numpy()],
              -(year.load_p[:hours] + 1j * year.load_q[:hours]).T / base)  # fmt: skip
    np.add.at(s_hours, lookup[net.sgen.bus.to_numpy()], p0.T / base)
    sets = year.deviation_sets(slice(0, hours))
    lin = linearise(net, list(net.sgen.bus), v_max=v_max, s_hours=s_hours)
    t_lin = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = network_figures(sets, lin)
    t_opt = time.perf_counter() - t0
    return {
        "code": code,
        "buses": len(net.bus),
        "resources": len(net.sgen),
        "read": t_read,
        "linearise": t_lin,
        "optimise": t_opt,
        "optimised": {d: int(v.sum()) for d, v in result.lp_hours.items()},
        "methods": {d: dict(collections.Counter(m for m in v if m)) for d, v in result.method.items()},
        "summary": {
            d: (int((result.figure[d] < result.blind[d] - 1e-6).sum()), float(result.figure[d].mean()),
                float(result.blind[d].mean()),
                dict(collections.Counter(b.split()[0] for b in result.binding[d] if b)))
            for d in result.figure
        },
    }  # fmt: skip


def opf_seconds(code: str, snapshots: int, seed: int = 1) -> tuple[float, int]:
    """pandapower's AC OPF (upward Q, P-Q boxes) at sampled hours: seconds per snapshot and
    the number that converged."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    from atlas.network.check import opf_figure
    from atlas.network.simbench import read_simbench

    year = read_simbench(code)
    total, ok = 0.0, 0
    for h in np.random.default_rng(seed).choice(8760, snapshots, replace=False):
        year.at_hour(int(h))
        t0 = time.perf_counter()
        ok += opf_figure(year.net, year.limits(int(h)), "q_up") is not None
        total += time.perf_counter() - t0
    return total / snapshots, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default="1-MV-semiurb--0-sw")
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--v-max", type=float, default=1.05)
    parser.add_argument("--networks", type=int, default=0, help="N grid-years in parallel")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--opf-snapshots", type=int, default=5)
    args = parser.parse_args()

    if args.networks:
        from concurrent.futures import ProcessPoolExecutor

        codes = [MV_GRIDS[k % len(MV_GRIDS)] for k in range(args.networks)]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(grid_year, codes, [args.v_max] * len(codes)))
        wall = time.perf_counter() - t0
        steps = {k: sum(r[k] for r in results) for k in ("read", "linearise", "optimise")}
        print(f"{args.networks} SimBench MV grid-years (8760 h x 4 directions each) in "
              f"{args.workers} processes: {wall:.1f} s wall (goal 600 s)")  # fmt: skip
        print(f"  CPU time summed over the grids: read {steps['read']:.1f} s, power flow and "
              f"linearisation {steps['linearise']:.1f} s, optimisation {steps['optimise']:.1f} s")  # fmt: skip
        by_code = collections.defaultdict(list)
        for r in results:
            by_code[r["code"]].append(r)
        for code, rs in by_code.items():
            r = rs[0]
            print(f"  {code}: {r['buses']} buses, {r['resources']} resources, optimised "
                  f"{r['optimised']}, {np.mean([x['optimise'] for x in rs]):.1f} s")  # fmt: skip
    else:
        r = grid_year(args.code, args.v_max, args.hours)
        print(f"SimBench {args.code}: {r['buses']} buses, {r['resources']} generators as "
              f"resources, {args.hours} hours x 4 directions")  # fmt: skip
        print(f"  read and hourly means {r['read']:.1f} s; power flow of every hour and "
              f"linearisation {r['linearise']:.1f} s; optimisation {r['optimise']:.1f} s; "
              f"in all {r['read'] + r['linearise'] + r['optimise']:.1f} s (goal 60 s)")  # fmt: skip
        print(f"  hour-directions optimised: {r['optimised']}; by method: {r['methods']}")
        for d, (below, mean, blind, binding) in r["summary"].items():
            print(f"  {d}: network-aware below blind in {below} h; mean {mean:.2f} vs blind "
                  f"{blind:.2f}; binding {binding}")  # fmt: skip
    if args.opf_snapshots:
        code = args.code
        per, ok = opf_seconds(code, args.opf_snapshots)
        print(f"  pandapower AC OPF on {code} (upward Q, P-Q boxes, numba off): {per:.2f} s per "
              f"snapshot ({ok}/{args.opf_snapshots} converged); 8760 h x 4 directions would "
              f"take {per * 8760 * 4 / 3600:.1f} h")  # fmt: skip


if __name__ == "__main__":
    main()
