"""A network-aware year on a SimBench MV grid: batch power flow, linearisation and the LP.

The grid, its loads and generators and their 2016 quarter-hour profiles come from SimBench
(ODbL; the ``network`` extra), turned into hourly means with 29 February dropped (8760 h).
Each generator is a resource with the atlas's grid-code set of its technology (this
script's mapping: PV_MV -> pv MV, Wind_MV -> wind MV, Biomass_MV -> biomass MV, Hydro_MV ->
hydro MV, lv_RES -> pv LV, the MV/LV substations' aggregated LV renewables). Prints the time
of each step, the share of hour-directions that needed an LP and the binding limits;
asserts nothing. A measurement for issue 14, not yet the product's `atlas import simbench`.

    python benchmarks/bench_network_simbench.py --code 1-MV-semiurb--0-sw
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

TECHNOLOGY = {
    "PV_MV": ("pv", "MV"),
    "Wind_MV": ("wind", "MV"),
    "Biomass_MV": ("biomass", "MV"),
    "Hydro_MV": ("hydro", "MV"),
    "lv_RES": ("pv", "LV"),
}


def hourly(quarter_hours: np.ndarray) -> np.ndarray:
    """(35136, n) quarter-hour values of 2016 -> (8760, n) hourly means, 29 February dropped."""
    hours = quarter_hours.reshape(-1, 4, quarter_hours.shape[1]).mean(axis=1)  # (8784, n)
    feb29 = slice(59 * 24, 60 * 24)  # day 60 of a leap year
    return np.delete(hours, np.arange(8784)[feb29], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default="1-MV-semiurb--0-sw")
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--v-max", type=float, default=1.05)
    args = parser.parse_args()

    import pandapower as pp
    import simbench as sb

    from atlas.engine.capability import box_disc_set, default_parameters
    from atlas.network.dispatch import network_figures
    from atlas.network.linearise import linearise

    t0 = time.perf_counter()
    net = sb.get_simbench_net(args.code)
    profiles = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    load_p = hourly(profiles[("load", "p_mw")].to_numpy())[: args.hours]
    load_q = hourly(profiles[("load", "q_mvar")].to_numpy())[: args.hours]
    gen_p = hourly(profiles[("sgen", "p_mw")].to_numpy())[: args.hours]
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    lookup = net._pd2ppc_lookups["bus"]
    base = float(ppc["baseMVA"])
    n_ppc = len(ppc["V"])
    n_hours = len(load_p)
    s_hours = np.zeros((n_ppc, n_hours), dtype=complex)
    np.add.at(s_hours, lookup[net.load.bus.to_numpy()], -(load_p + 1j * load_q).T / base)
    np.add.at(s_hours, lookup[net.sgen.bus.to_numpy()], gen_p.T / base)
    sets = []
    params = default_parameters()
    for k, row in enumerate(net.sgen.itertuples()):
        sn = float(row.sn_mva) if row.sn_mva > 0 else float(row.p_mw)
        pu = np.clip(gen_p[:, k] / sn, 0.0, 1.0)
        sets.append(box_disc_set(params[TECHNOLOGY[row.type]], sn, pu).vertices)
    lin = linearise(net, list(net.sgen.bus), v_max=args.v_max, s_hours=s_hours)
    t_lin = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = network_figures(sets, lin)
    t_lp = time.perf_counter() - t0
    n_lp = {d: int(v.sum()) for d, v in result.lp_hours.items()}
    methods = {d: dict(collections.Counter(m for m in v if m)) for d, v in result.method.items()}
    print(f"SimBench {args.code}: {len(net.bus)} buses, {len(net.sgen)} generators as resources, "
          f"{n_hours} hours x 4 directions")  # fmt: skip
    print(f"  read and hourly means {t_read:.1f} s; power flow of every hour and "
          f"linearisation {t_lin:.1f} s; LPs {t_lp:.1f} s")  # fmt: skip
    print(f"  hour-directions optimised: {n_lp}; by method: {methods}")
    for d in result.figure:
        below = result.figure[d] < result.blind[d] - 1e-6
        counts = collections.Counter(b.split()[0] for b in result.binding[d] if b)
        print(f"  {d}: network-aware below blind in {int(below.sum())} h; "
              f"mean {result.figure[d].mean():.2f} vs blind {result.blind[d].mean():.2f}; "
              f"binding {dict(counts)}")  # fmt: skip


if __name__ == "__main__":
    main()
