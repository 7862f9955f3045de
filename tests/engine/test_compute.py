"""The tiny study end to end: figures against METHOD.md by hand, table layout, envelopes."""

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial import ConvexHull

from atlas.conventions import EV_LOCATIONS
from atlas.engine.compute import (
    FIGURE_COLUMNS,
    compute_ps,
    der_specs,
    ps_deviation_polygons,
    ps_envelope_polygons,
)
from atlas.inputs.timeaxis import hourly_axis
from atlas.pipeline import load_inputs

TECHS = ("pv", "chp", "biomass", "hydro", "ev", "wind", "bess", "statcom", "oltc")
FIGS = ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar")
Q_PV = math.sqrt(1 - 0.9**2)  # PV reactive limit per unit of Sn, cos phi 0.9 both ways
Q_SYNC_INJECT = math.sqrt(1 - 0.8**2)  # synchronous machines: 0.6, cos phi 0.8 over-excited
Q_SYNC_ABSORB = math.sqrt(1 - 0.98**2)  # cos phi 0.98 under-excited


def expected(tiny, scenario: str, ps_id: str) -> dict[str, np.ndarray]:
    """The per-technology figures by METHOD.md's table, from the tiny study's inputs."""
    zero = np.zeros(8760)
    out = {f"{fig}_{tech}": zero for fig in FIGS for tech in TECHS}
    pu = tiny.profiles
    sn = tiny.sn(scenario, ps_id, "pv")
    out |= {  # curtail: 0 <= p <= p0; reactive range kept at night
        "p_up_mw_pv": zero,
        "p_down_mw_pv": pu["pv"] * sn,
        "q_up_mvar_pv": np.full(8760, sn * Q_PV),
        "q_down_mvar_pv": np.full(8760, sn * Q_PV),
    }
    for tech in ("chp", "biomass", "hydro"):  # dispatch up to Sn (hydro: only down to 0)
        sn = tiny.sn(scenario, ps_id, tech)
        p0 = pu[tech] * sn
        out |= {
            f"p_up_mw_{tech}": zero if tech == "hydro" else sn - p0,
            f"p_down_mw_{tech}": p0,
            f"q_up_mvar_{tech}": np.full(8760, sn * Q_SYNC_INJECT),
            f"q_down_mvar_{tech}": np.full(8760, sn * Q_SYNC_ABSORB),
        }
    v2g = tiny.ev_mw(scenario, ps_id, "work") + tiny.ev_mw(scenario, ps_id, "public")
    charge = tiny.ev_mw(scenario, ps_id, "home") + tiny.ev_mw(scenario, ps_id, "b2c")
    out |= {
        "p_up_mw_ev": v2g,
        "p_down_mw_ev": v2g + charge,
        "q_up_mvar_ev": v2g,
        "q_down_mvar_ev": v2g,
    }
    for fig in FIGS:
        out[fig] = sum(out[f"{fig}_{t}"] for t in TECHS)
    return out


@pytest.fixture(scope="module")
def hourly(tiny_result):
    return tiny_result.hourly


def _rows(hourly, scenario, ps_id) -> pd.DataFrame:
    rows = hourly[(hourly["scenario"] == scenario) & (hourly["ps_id"] == ps_id)]
    assert len(rows) == 8760
    return rows


def _at(hourly, scenario, ps_id, stamp) -> pd.Series:
    rows = hourly[
        (hourly["scenario"] == scenario)
        & (hourly["ps_id"] == ps_id)
        & (hourly["time"] == pd.Timestamp(stamp))
    ]
    assert len(rows) == 1
    return rows.iloc[0]


# ---- figures by hand -----------------------------------------------------------------------


def test_selected_hours_by_hand(hourly):
    # 001 in 2030, 2030-01-01T00:00Z (night): PV 6 MV + 2 LV = 8 MVA at 0 pu, CHP 12 MVA at
    # 0.7 pu, biomass 3 MVA at 0.9 pu, no EV charging
    r = _at(hourly, "2030", "001", "2030-01-01T00:00Z")
    assert r["p_down_mw_pv"] == 0.0 and r["p_up_mw_pv"] == 0.0
    assert r["q_up_mvar_pv"] == pytest.approx(8 * math.sqrt(0.19), rel=1e-12)  # also at night
    assert r["q_down_mvar_pv"] == pytest.approx(8 * math.sqrt(0.19), rel=1e-12)
    assert r["p_up_mw_chp"] == pytest.approx(12 - 8.4, rel=1e-12)
    assert r["p_down_mw_chp"] == pytest.approx(8.4, rel=1e-12)
    assert r["q_up_mvar_chp"] == pytest.approx(0.6 * 12, rel=1e-12)
    assert r["q_down_mvar_chp"] == pytest.approx(12 * math.sqrt(1 - 0.98**2), rel=1e-12)
    assert r["p_up_mw_biomass"] == pytest.approx(3 - 2.7, rel=1e-12)
    assert r["p_down_mw_biomass"] == pytest.approx(2.7, rel=1e-12)
    assert r["q_up_mvar_biomass"] == pytest.approx(1.8, rel=1e-12)
    assert r["p_up_mw"] == pytest.approx(3.6 + 0.3, rel=1e-12)
    assert r["p_down_mw"] == pytest.approx(8.4 + 2.7, rel=1e-12)
    assert r["q_up_mvar"] == pytest.approx(8 * math.sqrt(0.19) + 7.2 + 1.8, rel=1e-12)
    assert (r["p_up_mw_ev"], r["p_down_mw_ev"], r["q_up_mvar_ev"]) == (0.0, 0.0, 0.0)


def test_pv_daylight_and_ev_by_hand(hourly):
    # 001 in 2030, 2030-01-01T09:00Z: PV at 0.9 sin(45 deg) pu; EV work 2.0 MW (V2G disc),
    # home 1.5 MW (charge only)
    r = _at(hourly, "2030", "001", "2030-01-01T09:00Z")
    pv_pu = 0.9 * math.sin(math.pi / 4)
    assert r["p_down_mw_pv"] == pytest.approx(8 * pv_pu, rel=1e-12)
    assert r["p_up_mw_pv"] == 0.0
    assert r["q_up_mvar_pv"] == pytest.approx(8 * math.sqrt(0.19), rel=1e-12)
    assert r["p_up_mw_ev"] == pytest.approx(2.0)
    assert r["p_down_mw_ev"] == pytest.approx(2.0 + 1.5)
    assert r["q_up_mvar_ev"] == pytest.approx(2.0)
    assert r["q_down_mvar_ev"] == pytest.approx(2.0)
    # an hour later only the work chargers charge: 0.5 MW, all four figures
    r = _at(hourly, "2030", "001", "2030-01-01T10:00Z")
    assert [r[f"{f}_ev"] for f in FIGS] == pytest.approx([0.5] * 4)
    # home charging alone: only p_down
    r = _at(hourly, "2030", "001", "2030-07-15T19:00Z")
    assert [r[f"{f}_ev"] for f in FIGS] == pytest.approx([0.0, 3.0, 0.0, 0.0])
    # S: public chargers are V2G; N in as-is: b2c chargers are not
    r = _at(hourly, "2030", "S", "2030-01-01T09:00Z")
    assert [r[f] for f in FIGS] == pytest.approx([1.25] * 4)
    r = _at(hourly, "as-is", "N", "2030-03-02T08:00Z")
    assert [r[f"{f}_ev"] for f in FIGS] == pytest.approx([0.0, 0.75, 0.0, 0.0])


def test_hydro_offers_no_upward_active_power(hourly, tiny):
    rows = _rows(hourly, "2030", "N")
    sn = 1.5 + 0.5  # MV + LV
    assert (rows["p_up_mw_hydro"] == 0).all()
    assert_allclose(rows["p_down_mw_hydro"], tiny.profiles["hydro"] * sn, rtol=1e-12)
    assert_allclose(rows["q_up_mvar_hydro"], 0.6 * sn, rtol=1e-12)


@pytest.mark.parametrize("scenario", ["as-is", "2030"])
@pytest.mark.parametrize("ps_id", ["001", "N", "S"])
def test_every_hour_matches_method(hourly, tiny, scenario, ps_id):
    rows = _rows(hourly, scenario, ps_id)
    for column, want in expected(tiny, scenario, ps_id).items():
        assert_allclose(rows[column].to_numpy(), want, rtol=1e-12, atol=1e-12, err_msg=column)


def test_totals_are_the_sum_of_the_technologies(hourly):
    for fig in FIGS:
        parts = sum(hourly[f"{fig}_{t}"].to_numpy() for t in TECHS)
        assert_allclose(hourly[fig].to_numpy(), parts, rtol=1e-12, atol=1e-12)


def test_figures_are_never_negative(hourly):
    assert (hourly[FIGURE_COLUMNS].to_numpy() >= 0).all()


def test_absent_technologies_are_zero_columns(hourly):
    # as-is 001: PV and CHP only; N: hydro, biomass (and b2c EV once); S: nothing at all
    cases = {
        ("as-is", "001"): {"biomass", "hydro", "ev"},
        ("as-is", "N"): {"pv", "chp"},
        ("as-is", "S"): set(TECHS),
        ("2030", "N"): {"chp", "ev"},
        ("2030", "S"): {"pv", "chp", "biomass", "hydro"},
    }
    for (scenario, ps_id), absent in cases.items():
        rows = _rows(hourly, scenario, ps_id)
        for tech in absent:
            for fig in FIGS:
                assert (rows[f"{fig}_{tech}"] == 0).all(), (scenario, ps_id, fig, tech)
    s = _rows(hourly, "as-is", "S")
    assert (s[list(FIGS)].to_numpy() == 0).all()


# ---- table layout --------------------------------------------------------------------------


def test_columns(hourly):
    per_tech = [f"{fig}_{tech}" for fig in FIGS for tech in TECHS]
    assert list(hourly.columns) == [
        "scenario",
        "ps_id",
        "time",
        "p_mw",
        "q_mvar",
        *FIGS,
        *per_tech,
        "bess_soe_mwh",
        "over_rating",
        "daylight",
    ]
    assert FIGURE_COLUMNS == [*FIGS, *per_tech]
    assert len(hourly) == 2 * 3 * 8760


def test_scenario_and_ps_id_are_strings(hourly):
    for col in ("scenario", "ps_id"):
        assert pd.api.types.is_string_dtype(hourly[col])
        assert {type(v) for v in hourly[col].unique()} == {str}
    assert list(hourly["scenario"].unique()) == ["as-is", "2030"]  # "2030" stays text
    assert list(hourly["ps_id"].unique()) == ["001", "N", "S"]  # leading zeros kept


def test_time_is_utc_and_on_the_axis(hourly):
    assert isinstance(hourly["time"].dtype, pd.DatetimeTZDtype)
    assert str(hourly["time"].dt.tz) == "UTC"
    axis = hourly_axis(2030)
    for (_, _), rows in hourly.groupby(["scenario", "ps_id"], sort=False):
        assert (pd.DatetimeIndex(rows["time"]) == axis).all()


def test_ps_point_is_the_load_input(hourly, tiny):
    for scenario in tiny.scenarios:
        for k, ps_id in enumerate(tiny.ps_ids):
            rows = _rows(hourly, scenario, ps_id)
            p, q = tiny.load_pq(k)
            assert_array_equal(rows["p_mw"].to_numpy(), p)
            assert_array_equal(rows["q_mvar"].to_numpy(), q)


# ---- groups --------------------------------------------------------------------------------


def test_mv_and_lv_of_one_technology_form_one_group(tiny_inputs):
    specs = der_specs(tiny_inputs, "2030", "001")
    pv = [s for s in specs if s.technology == "pv"]
    assert len(pv) == 1 and pv[0].sn_mva == pytest.approx(6 + 2)
    hydro = [s for s in der_specs(tiny_inputs, "2030", "N") if s.technology == "hydro"]
    assert len(hydro) == 1 and hydro[0].sn_mva == pytest.approx(1.5 + 0.5)
    ev = [s for s in specs if s.technology == "ev"]
    assert sorted(s.kind for s in ev) == ["ev_charge", "ev_v2g"]
    assert der_specs(tiny_inputs, "as-is", "S") == []


def test_mv_and_lv_with_different_parameters_add_up(make_study, tiny):
    # LV PV inverters limited to cos phi 0.95 when injecting: two groups whose figures add
    path = make_study(toml=lambda t: t + "\n[capability.pv.LV]\npf_inject = 0.95\n")
    inputs = load_inputs(path)
    pv = [s for s in der_specs(inputs, "2030", "001") if s.technology == "pv"]
    assert sorted(s.sn_mva for s in pv) == [2.0, 6.0]
    values, _, _ = compute_ps(inputs, inputs.ps_index("001"))
    col = {c: j for j, c in enumerate(FIGURE_COLUMNS)}
    s = tiny.scenarios.index("2030")
    assert_allclose(values[s, col["q_up_mvar_pv"]], 6 * Q_PV + 2 * math.sqrt(1 - 0.95**2))
    assert_allclose(values[s, col["q_down_mvar_pv"]], 8 * Q_PV)
    assert_allclose(values[s, col["p_down_mw_pv"]], 8 * tiny.profiles["pv"], rtol=1e-12)


# ---- envelopes -----------------------------------------------------------------------------


def test_envelope_rows(tiny_result, tiny):
    env = tiny_result.envelopes
    assert list(env.columns) == ["scenario", "ps_id", "kind", "geometry"]
    kinds = env.groupby(["scenario", "ps_id"])["kind"].apply(sorted).to_dict()
    for ps_id in tiny.ps_ids:
        assert kinds[("as-is", ps_id)] == ["cloud_concave", "cloud_convex", "year"]
        assert kinds[("2030", ps_id)] == ["year"]
    assert len(env) == 3 * 2 + 3 * 2
    assert all(g.geom_type == "Polygon" and g.is_valid for g in env["geometry"])


def _geometry(env, scenario, ps_id, kind):
    rows = env[(env["scenario"] == scenario) & (env["ps_id"] == ps_id) & (env["kind"] == kind)]
    assert len(rows) == 1
    return rows["geometry"].iloc[0]


def test_cloud_hulls_hold_the_measured_points(tiny_result, tiny):
    for k, ps_id in enumerate(tiny.ps_ids):
        p, q = tiny.load_pq(k)
        convex = _geometry(tiny_result.envelopes, "as-is", ps_id, "cloud_convex")
        concave = _geometry(tiny_result.envelopes, "as-is", ps_id, "cloud_concave")
        assert convex.equals(shapely.convex_hull(shapely.multipoints(np.c_[p, q])))
        assert shapely.covers(convex.buffer(1e-9), shapely.points(p, q)).all()
        assert shapely.covers(concave.buffer(1e-9), shapely.points(p, q)).all()
        assert concave.area <= convex.area + 1e-9


@pytest.mark.parametrize("scenario", ["as-is", "2030"])
@pytest.mark.parametrize("ps_id", ["001", "N", "S"])
def test_year_envelope_is_the_hull_of_every_hourly_envelope(
    tiny_inputs, tiny_result, tiny, scenario, ps_id
):
    year = _geometry(tiny_result.envelopes, scenario, ps_id, "year")
    k = tiny.ps_ids.index(ps_id)
    p, q = tiny.load_pq(k)
    loose = year.buffer(1e-6)
    assert shapely.covers(loose, shapely.points(p, q)).all()  # every measured PS point
    verts = ps_envelope_polygons(tiny_inputs, scenario, ps_id)  # (8760, n, 2), load conv.
    assert verts.shape[0] == 8760 and verts.shape[2] == 2
    for h in (0, 9, 12, 4100, 4755, 8759):  # a few hours, by hand: x(t) - E(t)
        poly = shapely.Polygon(verts[h]) if verts.shape[1] >= 3 else shapely.Point(verts[h, 0])
        assert loose.covers(poly), h
    flat = verts.reshape(-1, 2)
    shapely.prepare(loose)
    assert shapely.contains_xy(loose, flat[:, 0], flat[:, 1]).all()  # every hour's vertices
    hull_area = ConvexHull(flat).volume  # (the volume of a 2-D hull is its area)
    assert year.area == pytest.approx(hull_area, rel=1e-9)  # and no bigger than their hull


def test_envelope_is_the_point_minus_the_deviation_set(tiny_inputs, tiny):
    dev = ps_deviation_polygons(tiny_inputs, "2030", "001")
    env = ps_envelope_polygons(tiny_inputs, "2030", "001")
    p, q = tiny.load_pq(0)
    assert_allclose(env[..., 0], p[:, None] - dev[..., 0])
    assert_allclose(env[..., 1], q[:, None] - dev[..., 1])


@pytest.mark.parametrize("scenario", ["as-is", "2030"])
@pytest.mark.parametrize("ps_id", ["001", "N", "S"])
def test_deviation_polygon_extents_equal_the_figures(tiny_inputs, hourly, scenario, ps_id):
    dev = ps_deviation_polygons(tiny_inputs, scenario, ps_id)  # (8760, n, 2), generator conv.
    rows = _rows(hourly, scenario, ps_id)
    assert_allclose(dev[..., 0].max(axis=1), rows["p_up_mw"], atol=1e-9, rtol=0)
    assert_allclose(-dev[..., 0].min(axis=1), rows["p_down_mw"], atol=1e-9, rtol=0)
    assert_allclose(dev[..., 1].max(axis=1), rows["q_up_mvar"], atol=1e-9, rtol=0)
    assert_allclose(-dev[..., 1].min(axis=1), rows["q_down_mvar"], atol=1e-9, rtol=0)


def test_deviation_polygons_are_counter_clockwise_and_hold_the_origin(tiny_inputs):
    dev = ps_deviation_polygons(tiny_inputs, "2030", "001")
    x, y = dev[..., 0], dev[..., 1]
    area = 0.5 * np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
    assert (area > 0).all()  # counter-clockwise, never degenerate (PV and CHP have Q range)
    for h in (0, 9, 12, 4300):
        assert shapely.Polygon(dev[h]).buffer(1e-9).covers(shapely.Point(0, 0))


def test_ev_location_order_is_the_conventions(tiny_inputs):
    # the reader's (n_ps, 4, 8760) axis 1 follows EV_LOCATIONS, which v2g_share indexes too
    assert EV_LOCATIONS == ("home", "work", "b2c", "public")
    assert_array_equal(tiny_inputs.v2g_share["2030"][0], [0, 1, 0, 1])


def test_a_chunked_run_equals_the_whole_computation(tiny_inputs, tiny_result):
    from atlas.pipeline import run_study

    run = run_study(tiny_inputs, chunk_size=1)  # one PS per chunk
    assert run.manifest["engine"]["chunks"] == 3
    pd.testing.assert_frame_equal(run.hourly, tiny_result.hourly.astype(run.hourly.dtypes))
    for a, b in zip(run.envelopes.itertuples(), tiny_result.envelopes.itertuples(), strict=True):
        assert (a.scenario, a.ps_id, a.kind) == (b.scenario, b.ps_id, b.kind)
        assert a.geometry.equals_exact(b.geometry, tolerance=0)


def test_v2g_locations_from_the_study_file(make_study):
    # home chargers declared V2G, work chargers not: the roles of 2.0 and 1.5 MW swap at 09:00
    path = make_study(toml=lambda t: t + '\n[ev]\nv2g_locations = ["home"]\n')
    inputs = load_inputs(path)
    values, _, _ = compute_ps(inputs, inputs.ps_index("001"))
    col = {c: j for j, c in enumerate(FIGURE_COLUMNS)}
    h = inputs.axis.get_loc(pd.Timestamp("2030-01-01T09:00Z"))
    got = [values[1, col[f"{f}_ev"], h] for f in FIGS]
    assert got == pytest.approx([1.5, 3.5, 1.5, 1.5])


def test_no_reactive_range_at_night_when_told(make_study, tiny):
    path = make_study(toml=lambda t: t + '\n[capability.pv."*"]\nq_at_night = false\n')
    inputs = load_inputs(path)
    values, _, _ = compute_ps(inputs, inputs.ps_index("001"))
    col = {c: j for j, c in enumerate(FIGURE_COLUMNS)}
    night = tiny.profiles["pv"] == 0
    q_up = values[1, col["q_up_mvar_pv"]]
    assert (q_up[night] == 0).all()
    assert_allclose(q_up[~night], 8 * Q_PV, rtol=1e-12)
