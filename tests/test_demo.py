"""The embedded Milan demo: it validates, runs, and carries the seed paper's PS Sud figures."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose

from atlas.demo import demo_study_path
from atlas.runfolder import Run


@pytest.fixture(scope="module")
def demo(demo_inputs, demo_run_dir):
    """The demo's inputs and its run (hourly table and envelopes), from the session's run."""
    return demo_inputs, Run.load(demo_run_dir)


def test_demo_is_labelled_synthetic(demo):
    inputs, _ = demo
    assert "SYNTHETIC" in inputs.study.model.study.description
    readme = (demo_study_path().parent / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme


def test_demo_capacities_come_from_the_join(demo):
    """No hand-written capacity table: Voronoi areas in the boundary and the DER register."""
    inputs, _ = demo
    assert inputs.study.model.inputs.capacity is None
    assert inputs.geo.voronoi and inputs.geo.register is not None
    assert len(inputs.ps_ids) >= 25
    assert inputs.geo.summary["ders_unassigned"] == 0 and inputs.geo.summary["ders_total"] > 1000
    register = inputs.geo.register
    joined = register[register["technology"] != "ev"]
    by_join = (
        joined[joined["scenario"] == ""]
        .groupby(["ps_id", "technology", "level"])["capacity_mw"]
        .sum()
    )
    table = inputs.capacity[inputs.capacity["scenario"] == "as-is"].set_index(
        ["ps_id", "technology", "level"]
    )["capacity_mw"]
    # (values and labels; pandas 2 may hold the labels as objects on one side)
    pd.testing.assert_series_equal(
        by_join.sort_index(), table.sort_index(), check_names=False, check_index_type=False
    )


def test_demo_fleet_is_calibrated_to_milan_2019():
    """Seed paper: in Milan, 2019, MV DERs produced 213 GWh and LV DERs 7 GWh."""
    register = pd.read_csv(demo_study_path().parent / "ders.csv.gz")
    as_is = register[register["scenario"].isna() & (register["technology"] != "ev")]
    hours = {"pv": 1150.0, "chp": 4500.0, "hydro": 4000.0, "biomass": 7000.0}  # make_demo.py
    gwh = (
        as_is.assign(e=as_is["capacity_kw"] * as_is["technology"].map(hours) / 1e6)
        .groupby("level")["e"]
        .sum()
    )
    assert gwh["MV"] == pytest.approx(213.0, rel=0.01)
    assert gwh["LV"] == pytest.approx(7.0, rel=0.02)


def test_ps_sud_capacities_are_the_seed_papers(demo):
    """Bosisio et al.: as-is PV 5, hydro 0.420, CHP 27; 2030 PV 16, hydro 0.420, CHP 29 (MW)."""
    inputs, _ = demo
    cap = (
        inputs.capacity[inputs.capacity["ps_id"] == "SUD"]
        .groupby(["scenario", "technology"])["capacity_mw"]
        .sum()
    )
    expected = {
        ("as-is", "pv"): 5,
        ("as-is", "hydro"): 0.42,
        ("as-is", "chp"): 27,
        ("2030", "pv"): 16,
        ("2030", "hydro"): 0.42,
        ("2030", "chp"): 29,
    }
    for key, mw in expected.items():
        assert cap[key] == pytest.approx(mw)
    assert cap.get(("as-is", "biomass"), 0.0) == 0.0 and cap.get(("2030", "biomass"), 0.0) == 0.0


def test_ps_sud_figures_follow_from_the_capacities(demo):
    _, result = demo
    h = result.hourly[result.hourly["ps_id"] == "SUD"]
    q_pv = math.sqrt(1 - 0.9**2)  # PV reactive limit per unit of Sn, night included
    for scenario, pv_mw, chp_mw in (("as-is", 5, 27), ("2030", 16, 29)):
        s = h[h["scenario"] == scenario]
        # dispatchable CHP with p_min = 0: p_up + p_down = Sn in every hour
        assert_allclose(s["p_up_mw_chp"] + s["p_down_mw_chp"], chp_mw, atol=1e-9)
        assert_allclose(s["q_up_mvar_chp"], 0.6 * chp_mw, atol=1e-9)
        assert_allclose(s["q_up_mvar_pv"], q_pv * pv_mw, atol=1e-9)
        assert_allclose(s["p_up_mw_hydro"], 0.0, atol=0)
    ev = h[h["scenario"] == "as-is"][[c for c in h.columns if c.endswith("_ev")]]
    assert np.all(ev.to_numpy() == 0.0)  # EVs count only in 2030
    assert h.loc[h["scenario"] == "2030", "p_down_mw_ev"].sum() > 0


def test_demo_envelopes_complete(demo):
    inputs, result = demo
    env = result.envelopes
    n_ps = len(inputs.ps_ids)
    assert (env["kind"] == "year").sum() == len(inputs.study.scenarios) * n_ps  # 2030+storage too
    assert (env["kind"] == "cloud_convex").sum() == n_ps
    # the yearly envelope of each scenario contains every measured PS point
    for row in env[env["kind"] == "year"].itertuples():
        load = inputs.load[inputs.ps_index(row.ps_id)]
        assert row.geometry.buffer(1e-9).contains(shapely.multipoints(load))


def test_pv_is_computed_at_each_service_area_centroid(demo):
    import geopandas as gpd

    from atlas.timeseries.stage import pv_sites

    inputs, _ = demo
    lat, lon = pv_sites(inputs.geo)
    areas = inputs.geo.areas.set_index("ps_id").loc[inputs.ps_ids]
    want = gpd.GeoSeries(areas.geometry.centroid.to_numpy(), crs=inputs.geo.crs).to_crs(4326)
    np.testing.assert_allclose(lat, want.y, atol=1e-9)
    np.testing.assert_allclose(lon, want.x, atol=1e-9)
    assert inputs.profiles["pv"].shape == (len(inputs.ps_ids), 8760)


def test_demo_storage_what_if(demo):
    """The documented what-if: 2030 plus PS Sud's 10 MW / 20 MWh battery and 15 Mvar STATCOM
    (geodata/demo_milan/README.md), its capacity 2030's with those two rows."""
    inputs, _ = demo
    assert inputs.study.scenarios == ["as-is", "2030", "2030+storage"]
    cap = inputs.capacity
    base = cap[cap["scenario"] == "2030"].drop(columns="scenario").reset_index(drop=True)
    what = cap[cap["scenario"] == "2030+storage"].drop(columns="scenario").reset_index(drop=True)
    added = what.iloc[len(base) :]
    assert what.iloc[: len(base)].equals(base)
    rows = sorted(added[["ps_id", "technology", "capacity_mw"]].itertuples(index=False))
    assert [tuple(r) for r in rows] == [("SUD", "bess", 10.0), ("SUD", "statcom", 15.0)]
    assert added.loc[added["technology"] == "bess", "energy_mwh"].tolist() == [20.0]


SHARED_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data"
)  # ../shared beside the checkout


def _place(text: str) -> str:
    """A place name compared as text: upper case, no accents or apostrophes, the NIL's
    abbreviations spelled out, one space."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.upper().replace("'", "").replace("Q.RE ", "").replace("PTA ", "PORTA ")
    return " ".join(text.split())


@pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="../shared/data (real Milan data) is not beside this checkout"
)
def test_demo_ps_named_after_a_nil_lie_inside_it():
    """Every demo PS whose name is a Milan NIL, or a part of one's name ("Gorla" of "GORLA -
    PRECOTTO"), lies inside that NIL polygon (Comune di Milano ds964, CC BY 4.0); PS Sud stays
    at the seed paper's site."""
    import geopandas as gpd

    nil = gpd.read_file(SHARED_DATA / "milano_nil_88_ds964_pgt2030.geojson").to_crs(32632)
    subs = pd.read_csv(demo_study_path().parent / "substations.csv", dtype=str)
    sites = gpd.GeoSeries(
        gpd.points_from_xy(subs["lon"].astype(float), subs["lat"].astype(float)), crs=4326
    ).to_crs(32632)
    names: dict[str, list] = {}  # a place name -> the NIL polygons it names
    for full, geom in zip(nil["NIL"], nil.geometry, strict=True):
        for part in {full, *full.split(" - ")}:
            names.setdefault(_place(part), []).append(geom)
    placed = 0
    for name, site in zip(subs["name"], sites, strict=True):
        place = _place(name.removeprefix("PS ").split(" (")[0])
        if place not in names:
            continue
        placed += 1
        assert any(g.contains(site) for g in names[place]), f"{name} lies outside NIL {place}"
    assert placed == 25  # Bovisa and the 24 extra PS; Nord, Est, Ovest, Centro, Sud are not NIL
    sud = subs.set_index("ps_id").loc["SUD"]
    assert (float(sud["lat"]), float(sud["lon"])) == (45.43, 9.19)


def test_no_pv_flexibility_in_an_hour_flagged_as_night(demo):
    """PV and the daylight flag follow one time convention (the middle of each hour): PV's
    active flexibility is zero in every hour the run flags as night."""
    _, run = demo
    for hourly in run.hourly_chunks():
        night = ~hourly["daylight"].to_numpy(dtype=bool)
        pv = hourly[["p_up_mw_pv", "p_down_mw_pv"]].to_numpy()
        assert night.any() and (pv[night] == 0).all()
        assert (pv[~night] > 0).any()
