"""A year of AC power flows on pandapower's MV Oberrhein grid: the batch fixed point
(atlas.network.powerflow) against pandapower's Newton-Raphson, one snapshot at a time.

Hourly injections are the grid's own, scaled by a seeded uniform factor in [0.2, 1.6] per
hour (SYNTHETIC hours). Needs the network extra. Prints the figures; asserts nothing.

    python benchmarks/bench_network_pf.py
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    import pandapower as pp
    import pandapower.networks as pn

    from atlas.network.powerflow import batch_voltages

    net = pn.mv_oberrhein()
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    ref = ppc["ref"]
    factor = np.random.default_rng(0).uniform(0.2, 1.6, (1, 8760))
    s_bus = ppc["Sbus"][:, None] * factor
    t0 = time.perf_counter()
    batch_voltages(ppc["Ybus"], ref, ppc["V"][ref], s_bus)
    batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        pp.runpp(net, numba=False)
    one = (time.perf_counter() - t0) / 20
    n_bus = len(ppc["V"])
    print(f"MV Oberrhein ({n_bus} power-flow buses), 8760 SYNTHETIC hours:")
    print(f"  batch fixed point: {batch:.1f} s for the year")
    print(f"  pandapower runpp (numba off): {one * 1000:.0f} ms per snapshot, "
          f"{one * 8760 / 60:.1f} min for the year")  # fmt: skip


if __name__ == "__main__":
    main()
