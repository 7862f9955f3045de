"""The batch power flow against pandapower's Newton-Raphson on its MV Oberrhein grid."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pp = pytest.importorskip("pandapower", reason="the network extra is not installed")
pn = pytest.importorskip("pandapower.networks")

from atlas.network.powerflow import batch_voltages  # noqa: E402

pytestmark = pytest.mark.network


def test_hours_of_scaled_load_match_pandapower():
    net = pn.mv_oberrhein()
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    base = float(ppc["baseMVA"])
    ref = np.asarray(ppc["ref"])
    lookup = net._pd2ppc_lookups["bus"]
    # the load's share of each bus's injection, per unit
    load_bus = lookup[net.load.bus.to_numpy()]
    s_load = np.zeros(len(ppc["V"]), dtype=complex)
    scaled = net.load.scaling.to_numpy()
    np.add.at(
        s_load, load_bus, -(net.load.p_mw.to_numpy() + 1j * net.load.q_mvar.to_numpy()) * scaled
    )
    s_load /= base
    factors = [0.3, 1.0, 1.5]
    s_bus = np.column_stack([ppc["Sbus"] + (f - 1.0) * s_load for f in factors])
    v = batch_voltages(ppc["Ybus"], ref, ppc["V"][ref], s_bus)
    for h, f in enumerate(factors):
        trial = copy.deepcopy(net)
        trial.load["scaling"] = trial.load["scaling"] * f
        pp.runpp(trial, numba=False, tolerance_mva=1e-10)
        expected = trial.res_bus.vm_pu.to_numpy()
        np.testing.assert_allclose(np.abs(v[lookup[net.bus.index], h]), expected, atol=1e-8)
