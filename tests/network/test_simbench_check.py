"""SimBench years in hours (atlas.network.simbench) and the network-aware figures against
pandapower's AC power flow and AC OPF (atlas.network.check) on a real grid, SimBench's
semi-urban MV grid (the full comparison: benchmarks/validate_network_opf.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlas.network.simbench import QUARTER_HOURS, hourly_means


def test_hourly_means_on_the_utc_axis_without_29_february():
    # SimBench's step k is UTC 2015-12-31 23:00 + k quarter-hours: UTC hour h of 2016 is the
    # mean of steps 4 (h + 1) .. 4 (h + 1) + 3, whose values here are their own index
    quarter = np.arange(QUARTER_HOURS, dtype=float)[:, None] * [1.0, 2.0]
    hours = hourly_means(quarter)
    assert hours.shape == (8760, 2)
    assert hours[0, 0] == 4 * 1 + 1.5 and hours[0, 1] == 2 * (4 + 1.5)
    assert hours[59 * 24 - 1, 0] == 4 * (59 * 24) + 1.5  # 28 February, 23:00 UTC
    assert hours[59 * 24, 0] == 4 * (60 * 24 + 1) + 1.5  # then 1 March, 00:00 UTC
    assert hours[-2, 0] == 4 * 8783 + 1.5  # 31 December, 22:00 UTC: SimBench's last hour
    assert hours[-1, 0] == 1.5  # 23:00 UTC: the first hour stands in
    with pytest.raises(ValueError, match="quarter-hours of 2016"):
        hourly_means(np.zeros((35040, 1)))


network = pytest.mark.network


@pytest.fixture(scope="module")
def semiurb():
    pytest.importorskip("simbench", reason="the network extra is not installed")
    from atlas.network.simbench import read_simbench

    return read_simbench("1-MV-semiurb--0-sw")


@network
def test_an_unknown_code_is_one_clear_error():
    pytest.importorskip("simbench", reason="the network extra is not installed")
    from atlas.network.simbench import read_simbench

    with pytest.raises(ValueError, match=r"'1-MV-town' is not a SimBench grid code.*1-MV-urban"):
        read_simbench("1-MV-town")


@network
def test_the_year_and_its_generators(semiurb):
    assert semiurb.load_p.shape == (8760, len(semiurb.net.load))
    assert semiurb.gen_p.shape == (8760, len(semiurb.net.sgen))
    techs = semiurb.technologies()
    assert {t for t, _ in techs} <= {"pv", "wind", "biomass", "hydro"}
    sets = semiurb.deviation_sets(slice(0, 3), box=True)
    assert len(sets) == len(techs) and sets[0].shape == (3, 4, 2)


@network
@pytest.mark.parametrize(("hour", "binds"), [(4000, ""), (6000, "v_max 24")])
def test_against_the_ac_opf_and_the_ac_power_flow(semiurb, hour, binds):
    """At a summer hour and at an autumn one where bus 24's v_max binds upward Q, the
    network-aware figures with P-Q boxes match pandapower's AC OPF within 2 % or 0.1, and
    the AC power flow of the dispatch keeps the limits within 0.005 pu and 2 %."""
    from atlas.network.check import ac_check, opf_figure
    from atlas.network.dispatch import DIRECTIONS, network_figures
    from atlas.network.linearise import linearise

    net = semiurb.net
    buses = list(net.sgen.bus)
    semiurb.at_hour(hour)
    lin = linearise(net, buses)
    result = network_figures(semiurb.deviation_sets(slice(hour, hour + 1), box=True), lin)
    limits = semiurb.limits(hour)
    assert result.binding["q_up"][0] == binds
    if binds:
        assert result.figure["q_up"][0] < result.blind["q_up"][0] - 0.1
    for d in DIRECTIONS:
        ref = opf_figure(net, limits, d)
        assert ref is not None
        got = result.figure[d][0]
        assert abs(got - ref) <= max(0.02 * abs(ref), 0.1), (d, got, ref)
        assert got <= result.blind[d][0] + 1e-9
        check = ac_check(net, buses, result.dispatch[d][0])
        assert check.converged
        assert check.v_max_excess <= 0.005 and check.v_min_excess <= 0.005
        assert check.loading_excess <= 0.02


@network
def test_the_ac_check_measures_a_rise_by_hand(semiurb):
    """No deviation: nothing beyond the limits. 3 Mvar more at one bus: its voltage rise
    is what pandapower's own power flow gives, less the room to v_max."""
    import copy

    import pandapower as pp

    from atlas.network.check import ac_check

    net = semiurb.net
    semiurb.at_hour(100)
    buses = list(net.sgen.bus)
    none = ac_check(net, buses, np.zeros((len(buses), 2)))
    assert none.v_max_excess == 0 and none.loading_excess == 0
    push = np.zeros((len(buses), 2))
    push[0, 1] = 3.0
    check = ac_check(net, buses, push, v_max=1.0)
    trial = copy.deepcopy(net)
    pp.runpp(trial, numba=False)
    v0 = trial.res_bus.vm_pu.to_numpy()
    pp.create_sgen(trial, buses[0], p_mw=0.0, q_mvar=3.0)
    pp.runpp(trial, numba=False)
    expected = (trial.res_bus.vm_pu.to_numpy() - np.maximum(1.0, v0)).max()
    assert check.v_max_excess == pytest.approx(max(expected, 0.0), abs=1e-12)
    assert len(net.sgen) == len(buses)  # the network is left as it was


@network
def test_atlas_import_simbench_writes_a_study_that_runs(semiurb, tmp_path):
    """The imported study's PS load is pandapower's own power flow at the external grid; its
    network-blind figures are those of every generator's own grid-code set, summed."""
    import copy

    import pandapower as pp
    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.dataset import read_dataset
    from atlas.network.dispatch import DIRECTIONS, blind_optimum
    from atlas.pipeline import run_study
    from atlas.runfolder import HOURLY_PARQUET

    out = tmp_path / "study"
    result = CliRunner().invoke(main, ["import", "simbench", semiurb.code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1-MV-semiurb--0-sw (9 files)" in result.output
    again = CliRunner().invoke(main, ["import", "simbench", semiurb.code, "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    load = pd.read_csv(out / "load.csv")
    for h in (0, 4000):  # pandapower's power flow at the hour, profiles as they are
        net = copy.deepcopy(semiurb.net)
        net.load["p_mw"], net.load["q_mvar"] = semiurb.load_p[h], semiurb.load_q[h]
        net.sgen["p_mw"] = semiurb.gen_p[h]
        pp.runpp(net, numba=False)
        assert load.loc[h, "p_mw"] == pytest.approx(net.res_ext_grid["p_mw"].sum(), abs=2e-6)
        assert load.loc[h, "q_mvar"] == pytest.approx(net.res_ext_grid["q_mvar"].sum(), abs=2e-6)
    ders = pd.read_csv(out / "ders.csv")
    assert ders["capacity_mw"].sum() == pytest.approx(semiurb.ratings().sum(), abs=1e-4)
    assert ders["bus"].tolist() == semiurb.net.sgen["bus"].tolist()

    run = run_study(out / "study.toml", tmp_path / "run", figures="none", webmap="none")
    hourly = read_dataset(tmp_path / "run" / HOURLY_PARQUET)
    sets = semiurb.deviation_sets(slice(None))
    for d, c in DIRECTIONS.items():
        blind = (blind_optimum(sets, d) @ np.array(c)).sum(axis=1)
        column = f"{d}_{'mw' if d.startswith('p') else 'mvar'}"
        np.testing.assert_allclose(hourly[column].to_numpy(), blind, atol=1e-5)
    assert run.ps_ids == [semiurb.code]
    # network-aware on the grid itself: every generator on its own bus, never above blind
    assert (run.placement["placed"] == "given").all()
    aware = run.network_hourly
    for fig in ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar"):
        assert np.all(aware[f"{fig}_net"].to_numpy() <= hourly[fig].to_numpy() + 1e-9)
    info = run.manifest["network"]["ps"][semiurb.code]["scenarios"]["2016"]
    assert info["hours_bound"]["q_up_mvar"] > 1000  # bus 24's v_max, as in the benchmark
    for d in ("p_up", "p_down", "q_up", "q_down"):
        assert info["ac_checks"][d]["violations"] == []


@network
def test_sampled_checks_list_the_hours_beyond_tolerance(semiurb):
    from atlas.network.check import sampled_checks

    n_res = len(semiurb.net.sgen)
    dispatch = {"q_up": np.zeros((8760, n_res, 2))}
    dispatch["q_up"][200, :, 1] = 1.0  # 1 Mvar more at each of the 121 generators
    out = sampled_checks(
        semiurb.net, semiurb.at_hour, list(semiurb.net.sgen.bus), dispatch, np.array([100, 200])
    )
    assert out["hours"] == [100, 200]
    q = out["q_up"]
    assert [v["hour"] for v in q["violations"]] == [200]
    assert q["v_excess_pu"] == q["violations"][0]["v_excess_pu"] > 0.005
    assert q["not_converged"] == []


@network
def test_the_ac_correction_on_the_rural_grid():
    """SimBench's rural grid at an hour where bus 69's v_max binds upward Q: the linear model
    alone stays 2.5 % under pandapower's AC OPF; corrected by the AC power flow of its
    dispatch it meets it within 0.5 %, the AC voltage at the limit."""
    pytest.importorskip("simbench", reason="the network extra is not installed")
    from atlas.network.check import ac_check, opf_figure
    from atlas.network.dispatch import corrected_figures, network_figures
    from atlas.network.linearise import hour_state, linearise
    from atlas.network.simbench import read_simbench

    rural = read_simbench("1-MV-rural--0-sw")
    net, buses, h = rural.net, list(rural.net.sgen.bus), 1588
    rural.at_hour(h)
    lin = linearise(net, buses)
    sets = rural.deviation_sets(slice(h, h + 1), box=True)
    ref = opf_figure(net, rural.limits(h), "q_up")
    linear = network_figures(sets, lin, ("q_up",)).figure["q_up"][0]
    result = corrected_figures(sets, lin, hour_state(net, buses), ("q_up",))
    assert result.binding["q_up"][0] == "v_max 69"
    assert linear < 0.98 * ref
    assert result.figure["q_up"][0] == pytest.approx(ref, rel=0.005)
    assert ac_check(net, buses, result.dispatch["q_up"][0]).v_max_excess < 1e-4
    assert len(net.sgen) == len(buses)  # the state function leaves the network as it was


def test_a_generator_of_no_rating_offers_nothing():
    """SimBench's commercial grids of scenarios 1 and 2 list a generator with neither sn_mva
    nor p_mw: its per-unit power is 0, not 0/0."""
    from atlas.network.simbench import SimbenchYear

    gen_p = np.array([[0.0, 1.0], [0.0, 3.0]])
    year = SimbenchYear("x", None, np.zeros((2, 1)), np.zeros((2, 1)), gen_p)
    sn = np.array([0.0, 2.0])
    np.testing.assert_array_equal(year.per_unit(slice(None), 0, sn), [0.0, 0.0])
    np.testing.assert_array_equal(year.per_unit(slice(None), 1, sn), [0.5, 1.0])
