"""The geodata stage: layers in any CRS, service areas, the DER join, the register, growth."""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from atlas.errors import AtlasInputError
from atlas.geo.areas import assign_points, assign_points_voronoi, resolve_overlaps, voronoi_areas
from atlas.geo.layers import read_layer
from atlas.geo.stage import build_areas
from atlas.inputs.timeaxis import hourly_axis
from atlas.pipeline import load_inputs, run_study

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
UTM32 = "EPSG:32632"


def _load_csv(path, ps_ids):
    stamps = hourly_axis(2030).strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.concat(
        [pd.DataFrame({"time": stamps, "ps_id": p, "p_mw": 40.0, "q_mvar": 5.0}) for p in ps_ids]
    ).to_csv(path, index=False)


def _study(d: Path, inputs: dict, extra: str = "") -> Path:
    lines = "\n".join(f'{k} = "{v}"' for k, v in inputs.items())
    (d / "study.toml").write_text(
        f'[study]\nname = "geo"\nyear = 2030\n[inputs]\n{lines}\nload = "load.csv"\n{extra}\n[scenarios]\nnames = ["as-is", "2030"]\n'
    )
    return d / "study.toml"


def _write_box_boundary(path: Path) -> None:
    """A boundary box 9.1-9.3 E, 45.4-45.5 N, as GeoJSON (WGS84)."""
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": shapely.geometry.mapping(shapely.box(9.1, 45.4, 9.3, 45.5)),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))


def _squares(ids, crs=UTM32):
    """Unit squares of 1 km side in a row: ids[0] at x 0-1000, ids[1] at 1000-2000, ..."""
    return gpd.GeoDataFrame(
        {"ps_id": ids},
        geometry=[shapely.box(1000 * k, 0, 1000 * (k + 1), 1000) for k in range(len(ids))],
        crs=crs,
    )


# --- the real Milan data ---------------------------------------------------------------


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data (real Milan data) is not beside this checkout"
)
def test_real_charging_sites_join_their_nil(tmp_path):
    """239 public charging sites into the 88 NIL neighbourhoods used as service areas: every
    site lands in its labelled NIL or within 1 m of it. One, id_amat 14 (Piazzale Cadorna,
    labelled NIL 7), lies 0.11 m inside NIL 1 and joins NIL 1."""
    nil = gpd.read_file(SHARED / "milano_nil_88_ds964_pgt2030.geojson")
    nil["ps_id"] = nil["ID_NIL"].astype(int).astype(str)
    nil[["ps_id", "geometry"]].to_file(tmp_path / "areas.gpkg")
    sites = nil.to_crs(UTM32).representative_point().to_crs(4326)
    pd.DataFrame(
        {
            "ps_id": nil["ps_id"],
            "name": nil["NIL"],
            "lat": sites.y,
            "lon": sites.x,
            "rated_mva": 100.0,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    ev = pd.read_csv(SHARED / "milano_ev_charging_colonnine_2023.csv", sep=";")
    register = pd.DataFrame(
        {
            "der_id": ev["id_amat"].astype(str),
            "technology": "ev",
            "capacity_kw": 22.0 * ev["numero_pdr"],
            "location": "public",
            "lat": ev["LAT_Y_4326"],
            "lon": ev["LONG_X_4326"],
        }
    )
    register.to_csv(tmp_path / "ders.csv", index=False)
    _load_csv(tmp_path / "load.csv", list(nil["ps_id"]))
    study = _study(
        tmp_path,
        {"substations": "substations.csv", "service_areas": "areas.gpkg", "ders": "ders.csv"},
    )
    _, geo, _ = build_areas(study)
    assert geo.report.slivers_resolved > 0  # the NIL polygons overlap by slivers
    assert geo.summary["ders_total"] == 239 and geo.summary["ders_unassigned"] == 0
    joined = geo.register.set_index("der_id")["ps_id"]
    labelled = ev.set_index(ev["id_amat"].astype(str))["id_nil"].astype(str)
    elsewhere = joined[joined != labelled.loc[joined.index]]
    assert list(elsewhere.index) == ["14"] and elsewhere["14"] == "1"
    # within 1 m of its labelled NIL polygon, measured independently in UTM 32N
    nil_m = nil.to_crs(UTM32).set_index("ps_id").geometry
    pt = gpd.GeoSeries(gpd.points_from_xy(ev["LONG_X_4326"], ev["LAT_Y_4326"]), crs=4326).to_crs(
        UTM32
    )
    d = shapely.distance(pt.to_numpy(), nil_m.loc[labelled.to_numpy()].to_numpy())
    assert d.max() < 1.0 and 0.05 < d[ev["id_amat"].astype(str) == "14"][0] < 0.2


# --- layers ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_layer_without_crs_is_an_error(tmp_path):
    path = tmp_path / "areas.gpkg"
    _squares(["A"], crs=None).to_file(path)
    with pytest.raises(AtlasInputError, match="crs") as err:
        read_layer(path, "service areas")
    assert str(path) in err.value.one_line()


def test_invalid_geometry_is_an_error(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    path = tmp_path / "areas.geojson"
    gpd.GeoDataFrame(
        {"ps_id": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1), bowtie], crs=UTM32
    ).to_file(path)
    with pytest.raises(AtlasInputError, match="feature 2: invalid geometry"):
        read_layer(path, "service areas")


def test_crs_mismatch_gives_the_same_join(tmp_path):
    """Areas in UTM 32N or in Monte Mario (EPSG:3003), points in WGS84: same assignment."""
    areas = _squares(["A", "B", "C"]).set_crs(UTM32, allow_override=True)
    areas = areas.set_geometry(areas.translate(500_000, 5_030_000))
    rng = np.random.default_rng(3)
    xy = rng.uniform([500_000, 5_030_000], [503_000, 5_031_000], (500, 2))
    pts_wgs = gpd.GeoSeries(shapely.points(xy), crs=UTM32).to_crs(4326)
    results = []
    for crs in (UTM32, "EPSG:3003", "EPSG:4326"):
        layer = areas.to_crs(crs)
        metric = layer.to_crs(UTM32)
        inside, _, _ = assign_points(pts_wgs.to_crs(UTM32).to_numpy(), metric)
        results.append(inside)
    assert (results[0] == results[1]).mean() > 0.999 and (results[0] == results[2]).mean() > 0.999
    assert_allclose(results[0], np.floor((xy[:, 0] - 500_000) / 1000), atol=0)  # by hand


# --- borders, outside, overlaps -------------------------------------------------------


@pytest.mark.parametrize("order", [["B", "A"], ["A", "B"]])
def test_point_on_shared_border_goes_to_first_ps_id(order):
    areas = gpd.GeoDataFrame(
        {"ps_id": order},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs=UTM32,
    )
    if order == ["A", "B"]:
        areas = areas.iloc[::-1].reset_index(drop=True)  # file order must not matter
    inside, _, _ = assign_points(shapely.points([[1000.0, 500.0]]), areas)
    assert areas["ps_id"].iloc[inside[0]] == "A"


def test_corner_of_four_areas():
    ids = ["D", "C", "B", "A"]
    boxes = [
        shapely.box(0, 0, 1, 1),
        shapely.box(1, 0, 2, 1),
        shapely.box(0, 1, 1, 2),
        shapely.box(1, 1, 2, 2),
    ]
    areas = gpd.GeoDataFrame({"ps_id": ids}, geometry=boxes, crs=UTM32)
    inside, _, _ = assign_points(shapely.points([[1.0, 1.0]]), areas)
    assert areas["ps_id"].iloc[inside[0]] == "A"


def test_outside_points_nearest_and_distance():
    areas = _squares(["A", "B"])
    pts = shapely.points([[500.0, 1500.0], [2600.0, 500.0], [-30.0, -40.0]])
    inside, nearest, distance = assign_points(pts, areas)
    assert list(inside) == [-1, -1, -1]
    assert list(areas["ps_id"].to_numpy()[nearest]) == ["A", "B", "A"]
    assert_allclose(distance, [500.0, 600.0, 50.0])


def test_overlap_beyond_tolerance_is_an_error():
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(990, 0, 2000, 1000)  # 10 m x 1000 m = 10000 m2 overlap
    with pytest.raises(
        AtlasInputError, match=r"ps_id=A and ps_id=B: service areas overlap by 10000.0 m2"
    ):
        resolve_overlaps(gpd.GeoDataFrame({"ps_id": ["A", "B"]}, geometry=[a, b], crs=UTM32))


def test_sliver_resolved_from_the_last_ps_id():
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(999.9995, 0, 2000, 1000)  # 0.5 m2 overlap
    out, report = resolve_overlaps(
        gpd.GeoDataFrame({"ps_id": ["B", "A"]}, geometry=[b, a], crs=UTM32)
    )
    assert report.slivers_resolved == 1 and report.sliver_area_m2 == pytest.approx(0.5, rel=1e-6)
    assert out.geometry.iloc[1].area == pytest.approx(1e6)  # A keeps its square
    assert out.geometry.iloc[0].area == pytest.approx(b.area - 0.5, rel=1e-9)


# --- Voronoi ----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30))
def test_voronoi_partitions_and_joins_to_nearest_site(seed, n):
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    r = 5000 * (1 + 0.3 * rng.uniform(-1, 1, 50))
    boundary = shapely.make_valid(
        shapely.Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    )
    xy = rng.uniform(-6000, 6000, (n, 2))
    sites = gpd.GeoDataFrame(
        {"ps_id": [f"S{k:02d}" for k in range(n)]}, geometry=shapely.points(xy), crs=UTM32
    )
    areas = voronoi_areas(sites, boundary)
    cells = areas.geometry.to_numpy()
    assert sum(c.area for c in cells) == pytest.approx(boundary.area, rel=1e-9)
    pts_xy = rng.uniform(-6000, 6000, (300, 2))
    # a partition of the boundary: every point inside it in exactly one cell, none outside
    # (point-in-polygon tests: robust where a GEOS overlay of near-coincident edges may not be)
    covered = sum(shapely.contains_xy(c, pts_xy[:, 0], pts_xy[:, 1]).astype(int) for c in cells)
    in_boundary = shapely.contains_xy(boundary, pts_xy[:, 0], pts_xy[:, 1])
    assert np.all(covered[in_boundary] == 1) and np.all(covered[~in_boundary] == 0)
    inside_b = shapely.contains_xy(boundary, pts_xy[:, 0], pts_xy[:, 1])
    d = np.hypot(pts_xy[:, None, 0] - xy[None, :, 0], pts_xy[:, None, 1] - xy[None, :, 1])
    nearest_site = d.argmin(axis=1)
    clear = np.sort(d, axis=1)[:, 1] - d.min(axis=1) > 1e-6  # no near-ties
    pts = shapely.points(pts_xy)
    inside, _, _ = assign_points(pts, areas)
    fast, _, _ = assign_points_voronoi(pts, sites, boundary, areas)
    m = inside_b & clear
    assert np.all(inside[m] == nearest_site[m]) and np.all(fast[m] == nearest_site[m])
    assert np.all(inside[~inside_b] == -1) and np.all(fast[~inside_b] == -1)
    # the same cells whatever the order of the sites
    shuffled = sites.iloc[rng.permutation(n)].reset_index(drop=True)
    again = (
        voronoi_areas(shuffled, boundary).set_index("ps_id").loc[sites["ps_id"]].geometry.to_numpy()
    )
    assert all(shapely.equals_exact(a, b, tolerance=0) for a, b in zip(cells, again, strict=True))


#: Substations about 110 km outside the boundary, on purpose (beyond [checks] boundary_max_km).
FAR_ON_PURPOSE = '[checks]\naccept = ["boundary_max_km"]\n'


def test_cell_outside_the_boundary_is_an_empty_area(tmp_path):
    pd.DataFrame(
        {
            "ps_id": ["IN", "FAR"],
            "name": ["in", "far"],
            "lat": [45.45, 46.5],
            "lon": [9.19, 9.19],
            "rated_mva": 100,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    _write_box_boundary(tmp_path / "boundary.geojson")
    pd.DataFrame(
        {"technology": ["pv"], "capacity_kw": [10.0], "lat": [45.45], "lon": [9.2]}
    ).to_csv(tmp_path / "ders.csv", index=False)
    _load_csv(tmp_path / "load.csv", ["IN", "FAR"])
    study = _study(
        tmp_path,
        {"substations": "substations.csv", "boundary": "boundary.geojson", "ders": "ders.csv"},
        FAR_ON_PURPOSE,
    )
    _, geo, capacity = build_areas(study)
    assert geo.report.empty_areas == ["FAR"]
    as_is = capacity[capacity["scenario"] == "as-is"]
    assert as_is.groupby("ps_id")["capacity_mw"].sum().to_dict() == {"IN": pytest.approx(0.01)}


def test_empty_areas_are_sorted_by_ps_id_as_text(tmp_path):
    """Three cells wholly outside the boundary, listed in the file as 9, 10, 8B: the summary
    lists them as text sorts ("10" < "8B" < "9"), neither in file nor in numeric order."""
    pd.DataFrame(
        {
            "ps_id": ["IN", "9", "10", "8B"],
            "name": ["in", "north", "south", "far north"],
            "lat": [45.45, 46.5, 44.4, 47.0],
            "lon": [9.19, 9.19, 9.19, 9.5],
            "rated_mva": 100,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    _write_box_boundary(tmp_path / "boundary.geojson")
    pd.DataFrame(
        {"technology": ["pv"], "capacity_kw": [10.0], "lat": [45.45], "lon": [9.2]}
    ).to_csv(tmp_path / "ders.csv", index=False)
    _load_csv(tmp_path / "load.csv", ["IN", "9", "10", "8B"])
    study = _study(
        tmp_path,
        {"substations": "substations.csv", "boundary": "boundary.geojson", "ders": "ders.csv"},
        FAR_ON_PURPOSE,
    )
    _, geo, _ = build_areas(study)
    empty = shapely.is_empty(geo.areas.set_index("ps_id").geometry)
    assert set(empty[empty].index) == {"9", "10", "8B"}  # the premise: three empty cells
    assert geo.report.empty_areas == ["10", "8B", "9"]


# --- register, units, growth, OSM polygons, outputs --------------------------------------


def _register_study(tmp_path, register: pd.DataFrame, extra: str = "") -> Path:
    pd.DataFrame(
        {
            "ps_id": ["A", "B"],
            "name": ["a", "b"],
            "lat": [45.45, 45.45],
            "lon": [9.15, 9.25],
            "rated_mva": 100,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    _write_box_boundary(tmp_path / "boundary.geojson")
    register.to_csv(tmp_path / "ders.csv", index=False)
    _load_csv(tmp_path / "load.csv", ["A", "B"])
    return _study(
        tmp_path,
        {"substations": "substations.csv", "boundary": "boundary.geojson", "ders": "ders.csv"},
        extra,
    )


REGISTER = pd.DataFrame(
    {
        "technology": ["pv", "pv", "chp", "pv", "ev", "ev", "ev"],
        "capacity_kw": [100.0, 250.0, 2000.0, 50.0, 22.0, 11.0, 11.0],
        "level": ["LV", "", "MV", "LV", "", "", ""],
        "location": ["", "", "", "", "work", "home", "home"],
        "v2g": ["", "", "", "", "", "true", ""],
        "scenario": ["", "", "", "2030", "", "", ""],
        "lat": [45.45, 45.46, 45.44, 45.45, 45.45, 45.45, 45.45],
        "lon": [9.12, 9.13, 9.28, 9.11, 9.12, 9.12, 9.13],
    }
)


def test_register_capacity_by_hand(tmp_path):
    _, geo, cap = build_areas(_register_study(tmp_path, REGISTER))
    got = cap.set_index(["scenario", "ps_id", "technology", "level"])["capacity_mw"]
    assert got[("as-is", "A", "pv", "LV")] == pytest.approx(0.1)
    assert got[("as-is", "A", "pv", "MV")] == pytest.approx(0.25)
    assert got[("2030", "A", "pv", "LV")] == pytest.approx(0.15)  # the planned 50 kW joins in 2030
    assert got[("as-is", "B", "chp", "MV")] == pytest.approx(2.0)
    shares = geo.ev_points.set_index(["scenario", "ps_id", "location"])["v2g_share"]
    assert shares[("as-is", "A", "work")] == 1.0  # work is V2G by default
    assert shares[("as-is", "A", "home")] == pytest.approx(
        0.5
    )  # one of two 11 kW home chargers flagged


def test_kw_and_mw_give_the_same_capacity(tmp_path):
    kw = REGISTER
    mw = REGISTER.assign(capacity_mw=REGISTER["capacity_kw"] / 1000).drop(columns="capacity_kw")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, _, cap_kw = build_areas(_register_study(tmp_path / "a", kw))
    _, _, cap_mw = build_areas(_register_study(tmp_path / "b", mw))
    pd.testing.assert_frame_equal(cap_kw, cap_mw)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda r: r.assign(capacity_mw=1.0), "both capacity_kw and capacity_mw"),
        (lambda r: r.drop(columns="capacity_kw"), "no capacity column"),
        (lambda r: r.assign(capacity_kw=[-1.0, *r["capacity_kw"][1:]]), "row 1, capacity_kw"),
        (
            lambda r: r.assign(technology=["tidal", *r["technology"][1:]]),
            "'tidal', expected one of",
        ),
        (
            lambda r: r.assign(location=["", "", "", "", "garage", "home", "home"]),
            "row 5, location",
        ),
        (lambda r: r.assign(v2g=["", "", "", "", "maybe", "", ""]), "row 5, v2g"),
        (lambda r: r.assign(scenario=["2040", "", "", "", "", "", ""]), "row 1, scenario"),
    ],
)
def test_register_errors(tmp_path, mutate, expect):
    with pytest.raises(AtlasInputError, match=expect) as err:
        build_areas(_register_study(tmp_path, mutate(REGISTER)))
    assert "ders.csv" in err.value.one_line()


def _with_ids(ids, scenario=None) -> pd.DataFrame:
    """REGISTER with these der_id (and scenario) values."""
    out = REGISTER.assign(der_id=ids)
    return out if scenario is None else out.assign(scenario=scenario)


@pytest.mark.parametrize(
    ("ids", "scenario", "where", "line", "problem"),
    [
        (
            ["PV1", "PV2", "CHP1", "PV12", "EV1", "EV2", "PV12"],
            None,
            "rows 4 and 7, der_id",
            8,
            "duplicate 'PV12' in scenario '2030' (an empty scenario means every scenario), "
            "expected each der_id once per scenario",
        ),
        (
            ["PV1", "PV2", "CHP1", "PV4", "PV1", "EV2", "PV2"],
            None,
            "rows 1 and 5, der_id",
            6,
            "duplicate 'PV1' in every scenario, expected each der_id once per scenario",
        ),
        (
            ["A", "B", "A", "C", "D", "E", "F"],
            ["2030", "", "2030", "", "", "", ""],
            "rows 1 and 3, der_id",
            4,
            "duplicate 'A' in scenario '2030', expected each der_id once per scenario",
        ),
    ],
    ids=["all-and-one-scenario", "all-scenarios", "same-scenario"],
)
def test_duplicate_der_id_names_both_rows(tmp_path, ids, scenario, where, line, problem):
    with pytest.raises(AtlasInputError) as err:
        build_areas(_register_study(tmp_path, _with_ids(ids, scenario)))
    exc = err.value
    assert exc.path.endswith("ders.csv")
    assert (exc.where, exc.line, exc.problem) == (where, line, problem)


def test_duplicate_der_id_without_scenario_column(tmp_path):
    ids = ["PV1", "PV2", "CHP1", "PV4", "EV1", "EV2", "PV2"]
    register = _with_ids(ids).drop(columns="scenario")
    with pytest.raises(AtlasInputError) as err:
        build_areas(_register_study(tmp_path, register))
    assert err.value.one_line().endswith(
        "ders.csv:8: rows 2 and 7, der_id: duplicate 'PV2', expected each der_id once"
    )


def test_der_id_once_per_scenario_is_accepted(tmp_path):
    """One plant per scenario (repowered in 2030): the same der_id, two scenarios, no clash;
    rows without a der_id are numbered, never compared."""
    ids = ["PV1", "PV2", "", "PV1", "", "", "EV3"]
    scenario = ["as-is", "", "", "2030", "", "", ""]
    _, geo, cap = build_areas(_register_study(tmp_path, _with_ids(ids, scenario)))
    assert list(geo.register["der_id"]) == ["PV1", "PV2", "3", "PV1", "5", "6", "EV3"]
    got = cap.set_index(["scenario", "ps_id", "technology", "level"])["capacity_mw"]
    assert got[("as-is", "A", "pv", "LV")] == pytest.approx(0.1)  # PV1 as-is, 100 kW
    assert got[("2030", "A", "pv", "LV")] == pytest.approx(0.05)  # PV1 in 2030, 50 kW


def test_duplicate_der_id_in_a_point_layer_names_the_features(tmp_path):
    study = _register_study(tmp_path, REGISTER)
    points = gpd.GeoDataFrame(
        _with_ids(["a", "b", "c", "d", "b", "e", "f"]).drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(REGISTER["lon"], REGISTER["lat"]),
        crs=4326,
    ).to_crs(UTM32)
    points.to_file(tmp_path / "ders.gpkg")
    text = (tmp_path / "study.toml").read_text().replace('"ders.csv"', '"ders.gpkg"')
    (tmp_path / "study.toml").write_text(text)
    with pytest.raises(AtlasInputError) as err:
        build_areas(study)
    exc = err.value
    assert exc.path.endswith("ders.gpkg") and exc.line is None
    assert exc.where == "features 2 and 5, der_id"
    assert exc.problem == "duplicate 'b' in every scenario, expected each der_id once per scenario"


@pytest.mark.parametrize("rule", ["capacity", "area"])
def test_growth_allocation(tmp_path, rule):
    extra = (
        f'[[growth]]\nscenario = "2030"\ntechnology = "pv"\nadded_mw = 10\nallocate = "{rule}"\n'
    )
    _, geo, cap = build_areas(_register_study(tmp_path, REGISTER, extra))
    if rule == "capacity":  # all existing 2030 PV (0.4 MW) is in A
        expected_a = 10.0
    else:  # in proportion to the cells' surface, measured independently
        area = geo.areas.set_index("ps_id").geometry.area
        expected_a = 10.0 * area["A"] / area.sum()
    added = cap[
        (cap["scenario"] == "2030") & (cap["technology"] == "pv") & (cap["level"] == "MV")
    ].set_index("ps_id")["capacity_mw"]
    base = {"A": 0.25, "B": 0.0}
    grown = {p: added.get(p, 0.0) - base[p] for p in base}
    assert sum(grown.values()) == pytest.approx(10.0, abs=1e-9)
    assert grown["A"] == pytest.approx(expected_a, rel=1e-9)


def test_growth_by_weight_table(tmp_path):
    pd.DataFrame({"ps_id": ["A", "B"], "weight": [1.0, 3.0]}).to_csv(
        tmp_path / "w.csv", index=False
    )
    extra = '[[growth]]\nscenario = "2030"\ntechnology = "chp"\nadded_mw = 8\nallocate = "weight"\nweights = "w.csv"\n'
    _, _, cap = build_areas(_register_study(tmp_path, REGISTER, extra))
    chp = cap[(cap["scenario"] == "2030") & (cap["technology"] == "chp")].set_index("ps_id")[
        "capacity_mw"
    ]
    assert chp["A"] == pytest.approx(2.0) and chp["B"] == pytest.approx(2.0 + 6.0)


def test_growth_with_zero_weights_is_an_error(tmp_path):
    extra = (
        '[[growth]]\nscenario = "2030"\ntechnology = "hydro"\nadded_mw = 1\nallocate = "capacity"\n'
    )
    with pytest.raises(AtlasInputError, match="every weight is zero"):
        build_areas(_register_study(tmp_path, REGISTER, extra))


def test_osm_style_substation_polygons(tmp_path):
    polys = gpd.GeoDataFrame(
        {"osm_id": ["way/1", "way/2"], "name": ["North", "South"], "power": "substation"},
        geometry=[shapely.box(9.14, 45.44, 9.16, 45.46), shapely.box(9.24, 45.44, 9.26, 45.46)],
        crs=4326,
    )
    polys.to_file(tmp_path / "substations.geojson")
    _write_box_boundary(tmp_path / "boundary.geojson")
    REGISTER.to_csv(tmp_path / "ders.csv", index=False)
    _load_csv(tmp_path / "load.csv", ["way/1", "way/2"])
    study = _study(
        tmp_path,
        {"substations": "substations.geojson", "boundary": "boundary.geojson", "ders": "ders.csv"},
        '[areas]\nsubstation_id = "osm_id"\n',
    )
    inputs = load_inputs(study)
    want = polys.to_crs(UTM32).centroid.to_crs(4326)
    assert_allclose(inputs.substations["lon"], want.x, atol=1e-9)
    assert_allclose(inputs.substations["lat"], want.y, atol=1e-9)
    assert list(inputs.ps_ids) == ["way/1", "way/2"]


def test_outputs_and_summary(tmp_path):
    far = pd.DataFrame({"technology": ["pv"], "capacity_kw": [7.0], "lat": [45.6], "lon": [9.2]})
    study = _register_study(
        tmp_path, pd.concat([REGISTER, far], ignore_index=True), "[areas]\nsnap_distance_m = 100\n"
    )
    out = tmp_path / "out"
    run_study(study, out, figures="none", webmap="none")
    areas = gpd.read_file(out / "service_areas.geojson")
    assert areas.crs.to_epsg() == 4326
    assert areas.set_index("ps_id")["cap_as-is_pv_mw"].to_dict() == {
        "A": pytest.approx(0.35),
        "B": 0.0,
    }
    unassigned = pd.read_csv(out / "unassigned_ders.csv")
    assert len(unassigned) == 1 and not unassigned["snapped"].iloc[0]
    assert unassigned["distance_m"].iloc[0] == pytest.approx(
        11_120, rel=0.01
    )  # 0.1 deg of latitude
    s = json.loads((out / "run.json").read_text())["summary"]
    assert s["ders_total"] == s["ders_in_areas"] + s["ders_snapped"] + s["ders_unassigned"] == 8
    first = (out / "service_areas.geojson").read_bytes()
    run_study(study, out, figures="none", webmap="none")
    assert (out / "service_areas.geojson").read_bytes() == first  # byte for byte


def test_duplicate_ps_id_in_substations_and_areas(tmp_path):
    study = _register_study(tmp_path, REGISTER)
    subs = tmp_path / "substations.csv"
    subs.write_text(subs.read_text() + "A,again,45.47,9.2,50\n")
    with pytest.raises(AtlasInputError, match="duplicate ps_id 'A'") as err:
        build_areas(study)
    assert err.value.line == 4
    subs.write_text("ps_id,name,lat,lon,rated_mva\nA,a,45.45,9.15,100\nB,b,45.45,9.25,100\n")
    areas = _squares(["A", "A"]).to_crs(4326)
    areas.to_file(tmp_path / "areas.gpkg")
    text = (
        (tmp_path / "study.toml")
        .read_text()
        .replace('boundary = "boundary.geojson"', 'service_areas = "areas.gpkg"')
    )
    (tmp_path / "study.toml").write_text(text)
    with pytest.raises(AtlasInputError, match="feature 2, ps_id: duplicate ps_id 'A'"):
        build_areas(tmp_path / "study.toml")


def test_atlas_areas_command(tmp_path):
    from click.testing import CliRunner

    from atlas.cli import main

    study = _register_study(tmp_path, REGISTER)
    result = CliRunner().invoke(
        main, ["areas", "--config", str(study), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert "7 DERs: 7 in service areas, 0 snapped within 0 m, 0 outside every area" in result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "boundary.geojson",
        "capacity_by_ps.csv",
        "der_register.csv",
        "run.json",
        "service_areas.geojson",
        "substations.csv",
        "unassigned_ders.csv",
    ]
    register = pd.read_csv(tmp_path / "o" / "der_register.csv", dtype={"ps_id": str})
    assert len(register) == 7 and register["ps_id"].notna().all()
    # every DER's ps_id is the service area that contains its point
    areas = gpd.read_file(tmp_path / "o" / "service_areas.geojson")
    pts = gpd.GeoSeries(gpd.points_from_xy(register["lon"], register["lat"]), crs="EPSG:4326")
    for point, ps_id in zip(pts, register["ps_id"], strict=True):
        assert areas.loc[areas["ps_id"] == ps_id].geometry.iloc[0].covers(point)
    assert {"site_lat", "site_lon", "rated_mva"} <= set(areas.columns)


@pytest.mark.parametrize(
    ("table", "where", "problem"),
    [
        (
            "ps_id,weight\nA,1\nB,abc\n",
            "row 2, column weight",
            "got 'abc', expected a finite number >= 0",
        ),
        (
            "ps_id,weight\nA,1\nA,3\n",
            "rows 1 and 2, ps_id",
            "duplicate 'A', expected each ps_id once",
        ),
        ("ps_id,weight\nA,1\n007,3\n", "row 2, ps_id", "'007' is not in the substations file"),
        ("", "", "cannot be read as CSV"),
    ],
)
def test_bad_growth_weight_tables_are_named(tmp_path, table, where, problem):
    """A growth weight table with a text weight, a repeated or unknown PS, or no bytes at
    all is one error naming the file and the row (it was a traceback)."""
    (tmp_path / "w.csv").write_text(table)
    extra = '[[growth]]\nscenario = "2030"\ntechnology = "chp"\nadded_mw = 8\nallocate = "weight"\nweights = "w.csv"\n'
    with pytest.raises(AtlasInputError) as err:
        build_areas(_register_study(tmp_path, REGISTER, extra))
    assert Path(err.value.path).name == "w.csv"
    assert err.value.where == where
    assert problem in err.value.problem
