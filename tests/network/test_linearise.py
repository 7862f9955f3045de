"""The linearised network (atlas.network.linearise) against pandapower's own power flow:
sensitivities by finite differences, and the LP's dispatch through the AC power flow."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pp = pytest.importorskip("pandapower", reason="the network extra is not installed")
pn = pytest.importorskip("pandapower.networks")

from atlas.network.dispatch import network_figures  # noqa: E402
from atlas.network.linearise import linearise  # noqa: E402

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def oberrhein():
    return pn.mv_oberrhein()  # pandapower's built-in MV grid, offline


def voltages_and_flows(net):
    pp.runpp(net, numba=False)
    return net.res_bus.vm_pu.copy(), net.res_line.p_from_mw.copy(), net.res_line.q_from_mvar.copy()


def test_sensitivities_match_finite_differences(oberrhein):
    net = copy.deepcopy(oberrhein)
    buses = list(net.sgen.bus.iloc[[0, 40, 90]])
    lin = linearise(net, buses)
    vm0, p0, q0 = voltages_and_flows(net)
    lookup = net._pd2ppc_lookups["bus"]
    line_rows = [lin.branch_names.index(f"line {i}") for i in net.line.index]
    for i, bus in enumerate(buses):
        for kind, step in (("p", 0.05), ("q", 0.05)):
            trial = copy.deepcopy(net)
            pp.create_sgen(trial, bus, p_mw=step if kind == "p" else 0.0,
                           q_mvar=step if kind == "q" else 0.0)  # fmt: skip
            vm1, p1, q1 = voltages_and_flows(trial)
            dv = (vm1 - vm0).to_numpy() / step
            expected = getattr(lin, f"v{kind}")[lookup[net.bus.index], i]
            np.testing.assert_allclose(dv, expected, rtol=0.02, atol=2e-5)
            df = (p1 - p0).to_numpy() / step
            dg = (q1 - q0).to_numpy() / step
            np.testing.assert_allclose(df, getattr(lin, f"f{kind}")[line_rows, i], atol=2e-3)
            np.testing.assert_allclose(dg, getattr(lin, f"g{kind}")[line_rows, i], atol=2e-3)


def test_the_lp_dispatch_keeps_the_ac_voltages_in_band(oberrhein):
    net = copy.deepcopy(oberrhein)
    sgens = net.sgen.index[:30]
    buses = list(net.sgen.loc[sgens, "bus"])
    lin = linearise(net, buses, v_max=1.03)
    # each sgen may raise its output by up to 1 MW, no reactive power: a box per resource
    box = np.array([[0, 0], [1, 0], [1, 0], [0, 0]], dtype=float)[None]
    result = network_figures([box] * len(buses), lin, ("p_up",))
    assert result.figure["p_up"][0] < result.blind["p_up"][0]  # the band binds
    assert result.binding["p_up"][0].startswith("v_max")
    dispatch = result.dispatch["p_up"][0]
    trial = copy.deepcopy(net)  # (this grid's sgens are scaled to 0: add the injections)
    for bus, dp in zip(buses, dispatch[:, 0], strict=True):
        pp.create_sgen(trial, bus, p_mw=dp)
    vm, _, _ = voltages_and_flows(trial)
    bound = int(result.binding["p_up"][0].split()[1])
    # the band holds in the AC power flow, and binds where the LP says, within 0.005 pu
    assert vm.max() <= 1.03 + 0.005
    assert vm.loc[bound] == pytest.approx(1.03, abs=0.005)
    assert vm.loc[bound] > net.res_bus.vm_pu.loc[bound]  # the dispatch raised it


def test_hours_solved_at_once_match_pandapower_and_their_dispatch_holds(oberrhein):
    net = copy.deepcopy(oberrhein)
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    lookup = net._pd2ppc_lookups["bus"]
    s_load = np.zeros(len(ppc["V"]), dtype=complex)
    np.add.at(
        s_load,
        lookup[net.load.bus.to_numpy()],
        -(net.load.p_mw + 1j * net.load.q_mvar).to_numpy() * net.load.scaling.to_numpy(),
    )
    s_load /= float(ppc["baseMVA"])
    factors = [0.3, 1.0, 1.5]
    s_hours = np.column_stack([ppc["Sbus"] + (f - 1) * s_load for f in factors])
    buses = list(net.sgen.bus.iloc[:30])
    lin = linearise(net, buses, v_max=1.03, s_hours=s_hours)
    assert lin.v0.shape == (3, len(ppc["V"]))
    box = np.array([[0, 0], [1, 0], [1, 0], [0, 0]], dtype=float)[None].repeat(3, axis=0)
    result = network_figures([box] * len(buses), lin, ("p_up",))
    line_rows = [lin.branch_names.index(f"line {i}") for i in net.line.index]
    for h, f in enumerate(factors):
        trial = copy.deepcopy(net)
        trial.load["scaling"] *= f
        vm, p_line, _ = voltages_and_flows(trial)
        np.testing.assert_allclose(lin.v0[h, lookup[net.bus.index]], vm.to_numpy(), atol=1e-7)
        np.testing.assert_allclose(lin.f0[h, line_rows], p_line.to_numpy(), atol=1e-5)
        for bus, dp in zip(buses, result.dispatch["p_up"][h, :, 0], strict=True):
            pp.create_sgen(trial, bus, p_mw=dp)
        vm, _, _ = voltages_and_flows(trial)
        # every bus in the band, or no worse than at the operating point where it was out of
        # it, within 0.005 pu (the sensitivities are the reference hour's)
        limit = np.maximum(1.03, lin.v0[h, lookup[net.bus.index]])
        assert (vm.to_numpy() <= limit + 0.005).all()
