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


def grid_year(
    code: str, v_max: float = 1.05, hours: int = 8760, ac_checks: int = 0, rounds: int = 2
) -> dict:
    """One grid-year: times [s], the figures' summary, and with ``ac_checks`` the AC power
    flow of the dispatch at that many hours where the network binds and as many others.
    ``rounds``: AC corrections of the linear model where a limit binds (the batch power flow
    of the hours' dispatch, ``atlas.network.dispatch.corrected_figures``)."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    import pandapower as pp

    from atlas.network.dispatch import corrected_figures
    from atlas.network.linearise import batch_state, linearise
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
    state = batch_state(net, list(net.sgen.bus), s_hours)
    result = corrected_figures(sets, lin, state, rounds=rounds)
    t_opt = time.perf_counter() - t0
    checks = None
    if ac_checks:
        from atlas.network.check import sampled_checks

        rng = np.random.default_rng(7)
        bound = np.flatnonzero(np.any([v for v in result.lp_hours.values()], axis=0))
        sample = np.union1d(
            rng.choice(bound, min(ac_checks, len(bound)), replace=False),
            rng.choice(hours, ac_checks, replace=False),
        )
        t0 = time.perf_counter()
        checks = sampled_checks(net, year.at_hour, list(net.sgen.bus), result.dispatch, sample,
                                v_max=v_max)  # fmt: skip
        checks["seconds"] = time.perf_counter() - t0
    return {
        "figures": {k: getattr(result, k) for k in ("figure", "blind", "binding")},
        "checks": checks,
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


def plot_year(code: str, r: dict, path: str) -> None:
    """One PS's year: network-blind and network-aware figures by day, and the hours per month
    where a network limit binds, by limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from atlas.inputs.timeaxis import hourly_axis

    axis = hourly_axis(2016)
    figs = r["figures"]
    fig, axes = plt.subplots(3, 1, figsize=(11, 9), height_ratios=[2, 1.6, 1.4])
    ax = axes[0]
    blind = pd.Series(figs["blind"]["q_up"], axis).resample("D")
    aware = pd.Series(figs["figure"]["q_up"], axis).resample("D")
    ax.fill_between(aware.min().index, aware.min(), aware.max(), color="C0", alpha=0.2, lw=0,
                    label="network-aware, daily min-max")  # fmt: skip
    ax.plot(
        blind.mean().index, blind.mean(), color="0.4", lw=1.5, label="network-blind, daily mean"
    )
    ax.plot(aware.mean().index, aware.mean(), color="C0", lw=1.2,
            label="network-aware, daily mean")  # fmt: skip
    ax.set_ylabel("upward Q [Mvar]")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncols=3)
    ax.grid(alpha=0.3)
    ax = axes[1]
    withheld = pd.Series(figs["blind"]["q_up"] - figs["figure"]["q_up"], axis).resample("D")
    ax.bar(withheld.max().index, withheld.max(), width=1.0, color="C3", alpha=0.8,
           label="largest hour of the day")  # fmt: skip
    ax.plot(withheld.mean().index, withheld.mean(), color="k", lw=0.8, label="daily mean")
    ax.set_ylabel("upward Q the network\nwithholds [Mvar]")
    ax.legend(loc="upper right", fontsize=8, ncols=2)
    ax.grid(alpha=0.3)
    others = ", ".join(
        f"{d.replace('_', ' ')} {figs['figure'][d].mean():.2f} (blind {figs['blind'][d].mean():.2f})"
        for d in ("p_up", "p_down", "q_down")
    )
    ax.set_title(f"year means, the other directions: {others}", fontsize=9)
    kinds = ("v_max", "v_min", "rating")
    binding = pd.DataFrame(
        {k: [any(str(b).startswith(k) for b in row) for row in zip(*(figs["binding"][d] for d in figs["binding"]), strict=True)]
         for k in kinds},
        index=axis,
    )  # fmt: skip
    monthly = binding.resample("MS").sum()
    bottom = np.zeros(len(monthly))
    for k, color in zip(kinds, ("C3", "C1", "C2"), strict=True):
        axes[2].bar(monthly.index.strftime("%b"), monthly[k], bottom=bottom, color=color, label=k)
        bottom += monthly[k].to_numpy()
    axes[2].set_ylabel("hours a network\nlimit binds")
    axes[2].legend(fontsize=8, ncols=3)
    axes[2].grid(alpha=0.3, axis="y")
    fig.suptitle(f"SimBench {code} (ODbL), one PS's year (2016 profiles): the figures the MV "
                 f"network allows (v in [0.95, 1.05] pu, ratings)", fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"  wrote {path}")


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
    parser.add_argument("--ac-checks", type=int, default=25, help="hours (one grid)")
    parser.add_argument("--plot", metavar="PNG", help="draw the grid-year (one grid)")
    parser.add_argument("--rounds", type=int, default=2, help="AC corrections of the linear model")
    args = parser.parse_args()

    if args.networks:
        from concurrent.futures import ProcessPoolExecutor

        codes = [MV_GRIDS[k % len(MV_GRIDS)] for k in range(args.networks)]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            n = len(codes)
            results = list(pool.map(grid_year, codes, [args.v_max] * n, [8760] * n, [0] * n,
                                    [args.rounds] * n))  # fmt: skip
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
        r = grid_year(args.code, args.v_max, args.hours, args.ac_checks, args.rounds)
        print(f"SimBench {args.code}: {r['buses']} buses, {r['resources']} generators as "
              f"resources, {args.hours} hours x 4 directions")  # fmt: skip
        print(f"  read and hourly means {r['read']:.1f} s; power flow of every hour and "
              f"linearisation {r['linearise']:.1f} s; optimisation {r['optimise']:.1f} s; "
              f"in all {r['read'] + r['linearise'] + r['optimise']:.1f} s (goal 60 s)")  # fmt: skip
        print(f"  hour-directions optimised: {r['optimised']}; by method: {r['methods']}")
        for d, (below, mean, blind, binding) in r["summary"].items():
            print(f"  {d}: network-aware below blind in {below} h; mean {mean:.2f} vs blind "
                  f"{blind:.2f}; binding {binding}")  # fmt: skip
        if args.plot:
            plot_year(args.code, r, args.plot)
        if r["checks"]:
            c = r["checks"]
            print(
                f"  AC power flow of the dispatch at {len(c['hours'])} hours ({c['seconds']:.1f} s):"
            )
            for d in ("p_up", "p_down", "q_up", "q_down"):
                print(f"    {d}: worst voltage excess {c[d]['v_excess_pu']:.5f} pu (bus "
                      f"{c[d]['worst_bus']}), worst loading excess {100 * c[d]['loading_excess']:.2f} %, "
                      f"beyond tolerance in {len(c[d]['violations'])} h, not converged "
                      f"{len(c[d]['not_converged'])}")  # fmt: skip
    if args.opf_snapshots:
        code = args.code
        per, ok = opf_seconds(code, args.opf_snapshots)
        print(f"  pandapower AC OPF on {code} (upward Q, P-Q boxes, numba off): {per:.2f} s per "
              f"snapshot ({ok}/{args.opf_snapshots} converged); 8760 h x 4 directions would "
              f"take {per * 8760 * 4 / 3600:.1f} h")  # fmt: skip


if __name__ == "__main__":
    main()
