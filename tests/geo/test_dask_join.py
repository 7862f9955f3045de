"""The DER join on a dask cluster (atlas/geo/dask_join.py): the local join's answer, exactly.

A GeoParquet register of a few thousand points (some outside the boundary, some exactly on
shared edges and corners, some at equal distance from two areas) is joined on a
LocalCluster of two single-threaded workers talking TCP on 127.0.0.1, and compared point by
point with :meth:`atlas.geo.join.GeoStage.assign`, for Voronoi and given service areas.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from numpy.testing import assert_array_equal

from atlas.errors import AtlasInputError
from atlas.geo.areas import voronoi_areas
from atlas.geo.dask_join import assign_register, assign_register_partitions
from atlas.geo.join import GeoStage

pytest.importorskip(
    "dask_geopandas", reason="the dask join needs the dask extra: pip install '.[dask]'"
)
distributed = pytest.importorskip(
    "distributed", reason="the dask join needs the dask extra: pip install '.[dask]'"
)

UTM32 = "EPSG:32632"
LAEA = "EPSG:3035"  # ETRS89 / LAEA Europe: the register's CRS, reprojected on the workers
X0, Y0 = 500_000.0, 5_000_000.0  # south-west site [m, UTM 32N]
STEP = 2_000.0  # site spacing [m]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded workers on 127.0.0.1 (TCP, so tasks and data are serialised)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,  # in-process: no interpreter start, the suite stays fast
            protocol="tcp",
            host="127.0.0.1",
            # no bokeh dashboard is installed; the scheduler's HTTP server still listens, on
            # any free loopback port (None would take 8787 and clash between xdist workers)
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _sites() -> gpd.GeoDataFrame:
    """3 x 3 sites, STEP apart; ids shuffled so that the first ps_id is not the first row."""
    ij = [(i, j) for j in range(3) for i in range(3)]
    ids = [f"PS{k}" for k in (5, 2, 8, 0, 7, 3, 6, 1, 4)]
    return gpd.GeoDataFrame(
        {"ps_id": ids},
        geometry=shapely.points([(X0 + STEP * i, Y0 + STEP * j) for i, j in ij]),
        crs=UTM32,
    )


def _voronoi_stage() -> GeoStage:
    """Voronoi cells clipped to a boundary with a notch (one site's cell cut by it)."""
    sites = _sites()
    h = STEP / 2
    boundary = shapely.Polygon(
        [
            (X0 - h, Y0 - h),
            (X0 + 2 * STEP + h, Y0 - h),
            (X0 + 2 * STEP + h, Y0 + 2 * STEP + h),
            (X0 + STEP, Y0 + STEP + h),
            (X0 - h, Y0 + 2 * STEP + h),
        ]
    )
    areas = voronoi_areas(sites, boundary)
    return GeoStage(crs=sites.crs, sites=sites, areas=areas, boundary=boundary, voronoi=True)


def _given_stage() -> GeoStage:
    """Squares of side STEP around the sites, the centre one missing (a hole between four)."""
    sites = _sites()
    xy = shapely.get_coordinates(sites.geometry.to_numpy())
    h = STEP / 2
    squares = [shapely.box(x - h, y - h, x + h, y + h) for x, y in xy]
    centre = (xy[:, 0] == X0 + STEP) & (xy[:, 1] == Y0 + STEP)
    squares = [shapely.Polygon() if c else s for s, c in zip(squares, centre, strict=True)]
    areas = gpd.GeoDataFrame({"ps_id": sites["ps_id"]}, geometry=squares, crs=UTM32)
    return GeoStage(crs=sites.crs, sites=sites, areas=areas)


def _points(n_random: int = 3000, seed: int = 7) -> np.ndarray:
    """Random points over and around the areas, and points on shared edges and corners.

    The edges between neighbouring sites lie on x or y = X0/Y0 + STEP/2 + k STEP, the
    corners where four cells meet at their crossings; a point beyond the west edge at the
    height of a corner is equally far from two areas. The points on edges sit 0 or 750 m
    off a row of sites, 1000 or 1250 m from both sites (exact in floating point: see
    :func:`test_local_voronoi_tie_on_an_inexact_distance` for the others).
    """
    rng = np.random.default_rng(seed)
    h = STEP / 2
    x_min, x_max = X0 - 3 * h, X0 + 2 * STEP + 3 * h
    y_min, y_max = Y0 - 3 * h, Y0 + 2 * STEP + 3 * h
    random = rng.uniform([x_min, y_min], [x_max, y_max], (n_random, 2))
    x_edges, y_edges = X0 + h + STEP * np.arange(2), Y0 + h + STEP * np.arange(2)
    offsets = (STEP * np.arange(3)[:, None] + np.array([-750.0, 0.0, 750.0])).ravel()
    on_x = np.array([(x, Y0 + d) for x in x_edges for d in offsets])
    on_y = np.array([(X0 + d, y) for y in y_edges for d in offsets])
    corners = np.array([(x, y) for x in x_edges for y in y_edges])
    west = np.column_stack([np.full(50, X0 - h), rng.integers(int(Y0 - h), int(Y0 + 2 * STEP), 50)])
    sites = shapely.get_coordinates(_sites().geometry.to_numpy())
    outside_tie = np.array([(X0 - 3 * h, Y0 + h), (X0 - 3 * h, Y0 + STEP + h)])
    ties = np.concatenate([on_x, on_y, corners, sites, outside_tie])
    xy = np.concatenate([random, np.repeat(ties, 10, axis=0), west]).astype(float)
    return xy[rng.permutation(len(xy))]


def _write_register(xy: np.ndarray, crs: str, path: Path, parts: int = 1) -> None:
    """Points (UTM 32N) with a few attributes, as GeoParquet in ``crs``; ``parts`` > 1
    writes a folder of that many files (one dataset)."""
    register = gpd.GeoDataFrame(
        {
            "der_id": [f"D{k}" for k in range(len(xy))],
            " technology ": np.where(np.arange(len(xy)) % 3 == 0, "chp", "pv"),  # spaces
            "capacity_kw": np.linspace(1.0, 500.0, len(xy)),
        },
        geometry=shapely.points(xy),
        crs=UTM32,
    ).to_crs(crs)
    if parts == 1:
        register.to_parquet(path)
        return
    path.mkdir()
    for k, chunk in enumerate(np.array_split(np.arange(len(xy)), parts)):
        register.iloc[chunk].to_parquet(path / f"part.{k}.parquet")


def _local(path: Path, stage: GeoStage):
    """The local join: the register read by geopandas, reprojected, GeoStage.assign."""
    register = gpd.read_parquet(path).to_crs(stage.crs)
    register.columns = [c if c == "geometry" else c.strip() for c in register.columns]
    return register, *stage.assign(register.geometry.to_numpy())


@pytest.mark.parametrize(
    ("kind", "crs", "parts"),
    [("voronoi", UTM32, 1), ("voronoi", LAEA, 3), ("given", LAEA, 1), ("given", UTM32, 3)],
)
def test_same_assignment_as_the_local_join(client, tmp_path, kind, crs, parts):
    """Point for point, exactly; ties go to the first ps_id (checked by hand where the
    register is in the metric CRS, so that its points are exactly on the edges)."""
    stage = _voronoi_stage() if kind == "voronoi" else _given_stage()
    path = tmp_path / ("ders" if parts > 1 else "ders.parquet")
    _write_register(_points(), crs, path, parts)
    voronoi = {"sites": stage.sites, "boundary": stage.boundary} if stage.voronoi else {}
    assert stage.areas is not None
    register, inside, nearest, distance_m = assign_register(
        path, stage.areas, client, npartitions=5, **voronoi
    )
    local, inside_ref, nearest_ref, distance_ref = _local(path, stage)
    assert_array_equal(inside, inside_ref)
    assert_array_equal(nearest, nearest_ref)
    assert_array_equal(distance_m, distance_ref)  # exactly, not within a tolerance
    assert_geodataframe_equal(register, local, check_less_precise=False)
    # the case is not trivial: points outside, and every area reached
    assert 500 < (inside_ref < 0).sum() < len(inside_ref) - 1000
    assert (distance_ref > 0).sum() == (inside_ref < 0).sum()
    assert set(nearest_ref) == set(np.flatnonzero(~stage.areas.geometry.is_empty))
    if crs == UTM32:  # coordinates exact: check the ties by hand
        ids = stage.areas["ps_id"].to_numpy()
        xy = shapely.get_coordinates(register.geometry.to_numpy())
        # where the cells of PS5, PS2, PS0 and PS7 meet (the given PS7 square is missing)
        corner = (xy[:, 0] == X0 + STEP / 2) & (xy[:, 1] == Y0 + STEP / 2)
        assert corner.sum() == 10 and set(ids[inside[corner]]) == {"PS0"}
        # 2 km west of the corner of PS5 and PS0, outside every area
        west = (xy[:, 0] == X0 - 3 * STEP / 2) & (xy[:, 1] == Y0 + STEP / 2)
        assert west.sum() == 10 and set(inside[west]) == {-1}
        assert set(ids[nearest[west]]) == {"PS0"} and set(distance_m[west]) == {STEP}


def test_local_voronoi_tie_on_an_inexact_distance():
    """(X0 + 1000, Y0 - 957) is equally far from the sites at X0 and X0 + 2000 (on their
    bisector): 1384.1419724869265 m for the k-d tree, ...268 m for np.hypot. The join takes
    every candidate's distance with np.hypot: it goes to the nearest by np.hypot, the
    first ps_id among equals (brute force over every site)."""
    stage = _voronoi_stage()
    xy = np.array([X0 + STEP / 2, Y0 - 957.0])
    _, nearest, _ = stage.assign(shapely.points([tuple(xy)]))
    site_xy = shapely.get_coordinates(stage.sites.geometry.to_numpy())
    d = np.hypot(site_xy[:, 0] - xy[0], site_xy[:, 1] - xy[1])
    ids = stage.sites["ps_id"].to_numpy(dtype=str)
    expected = min(np.flatnonzero(d == d.min()), key=lambda k: ids[k])
    assert nearest[0] == expected


def test_partitions_stay_on_the_workers(client, tmp_path):
    """The lazy join: spatially partitioned, every row once, the same assignment."""
    stage = _voronoi_stage()
    assert stage.areas is not None
    _write_register(_points(800), LAEA, tmp_path / "ders.parquet")
    joined = assign_register_partitions(
        tmp_path / "ders.parquet",
        stage.areas,
        sites=stage.sites,
        boundary=stage.boundary,
        npartitions=4,
    )
    assert joined.npartitions == 4
    assert list(joined.divisions) == sorted(joined.divisions)  # Hilbert ranges
    table = joined.compute().sort_values("atlas_row")
    _, inside, nearest, distance_m = _local(tmp_path / "ders.parquet", stage)
    assert_array_equal(table["atlas_row"], np.arange(len(inside)))
    assert_array_equal(table["atlas_inside"], inside)
    assert_array_equal(table["atlas_nearest"], nearest)
    assert_array_equal(table["atlas_distance_m"], distance_m)


def _study(folder: Path, ders: str, join: str) -> Path:
    (folder / "study.toml").write_text(
        f'[study]\nname = "dask-join"\nyear = 2030\n[inputs]\nsubstations = "substations.csv"\n'
        f'boundary = "boundary.geojson"\nders = "{ders}"\nload = "load.csv"\n'
        f'[areas]\njoin = "{join}"\n[scenarios]\nnames = ["as-is", "2030"]\n'
    )
    return folder / "study.toml"


def test_study_switch_gives_the_local_stage(client, tmp_path):
    """``[areas] join = "dask"`` (a GeoParquet register) and the local join of the same
    points (a lat/lon CSV register) give the same geodata stage."""
    from atlas.geo.join import build_geodata
    from atlas.inputs.study import load_study
    from atlas.inputs.timeaxis import hourly_axis

    rng = np.random.default_rng(3)
    pd.DataFrame(
        {
            "ps_id": ["N", "C", "S"],
            "name": ["n", "c", "s"],
            "lat": [45.48, 45.45, 45.42],
            "lon": [9.15, 9.20, 9.25],
            "rated_mva": 100,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    box = shapely.geometry.mapping(shapely.box(9.1, 45.4, 9.3, 45.5))
    (tmp_path / "boundary.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": box}],
            }
        )
    )
    stamps = hourly_axis(2030).strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.concat(
        [pd.DataFrame({"time": stamps, "ps_id": p, "p_mw": 40.0, "q_mvar": 5.0}) for p in "NCS"]
    ).to_csv(tmp_path / "load.csv", index=False)
    n = 2000
    register = pd.DataFrame(
        {
            "technology": rng.choice(["pv", "chp", "ev"], n),
            "capacity_kw": rng.uniform(1, 190, n).round(1),  # within LV's 0.2 MW
            "level": rng.choice(["MV", "LV", ""], n),
            "scenario": rng.choice(["", "2030"], n),
            "lat": rng.uniform(45.38, 45.52, n),  # some outside the boundary
            "lon": rng.uniform(9.08, 9.32, n),
        }
    )
    register["location"] = np.where(register["technology"] == "ev", "home", "")
    register.to_csv(tmp_path / "ders.csv", index=False)
    gpd.GeoDataFrame(
        register.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(register["lon"], register["lat"]),
        crs="EPSG:4326",
    ).to_parquet(tmp_path / "ders.parquet")

    local_study = load_study(_study(tmp_path, "ders.csv", "local"))
    local = build_geodata(local_study, local_study.input_files())
    dask_study = load_study(_study(tmp_path, "ders.parquet", "dask"))
    remote = build_geodata(dask_study, dask_study.input_files(), client)
    assert remote.register is not None and local.register is not None
    assert_geodataframe_equal(remote.register, local.register, check_less_precise=False)
    pd.testing.assert_frame_equal(remote.capacity, local.capacity)
    pd.testing.assert_frame_equal(remote.ev_points, local.ev_points)
    assert remote.summary == local.summary
    assert 0 < remote.summary["ders_unassigned"] < n


# --- what is refused ---------------------------------------------------------------------


def test_refuses_a_register_without_crs(client, tmp_path):
    gpd.GeoDataFrame(geometry=shapely.points([(X0, Y0)])).to_parquet(tmp_path / "ders.parquet")
    with pytest.raises(
        AtlasInputError, match=r"ders.parquet: crs: the DER register layer declares no CRS"
    ):
        assign_register(tmp_path / "ders.parquet", _given_stage().areas, client)


def test_names_the_first_bad_geometry(client, tmp_path):
    """Rows are counted across partitions (row groups of 100): the first bad feature of
    the file is named, as read_layer names it."""
    geoms = list(shapely.points(_points(100)))
    geoms[137] = shapely.Point()  # empty, feature 138, in the second row group
    geoms[260] = shapely.box(0, 0, 1, 1)  # not a point, reported only after the empty one
    path = tmp_path / "ders.parquet"
    gpd.GeoDataFrame(geometry=geoms, crs=UTM32).to_parquet(path, row_group_size=100)
    with pytest.raises(AtlasInputError, match=r"feature 138: empty geometry, expected a DER"):
        assign_register(path, _given_stage().areas, client)
    geoms[137] = shapely.Point(X0, Y0)
    gpd.GeoDataFrame(geometry=geoms, crs=UTM32).to_parquet(path, row_group_size=100)
    with pytest.raises(
        AtlasInputError, match=r"feature 261: geometry is a Polygon, expected Point"
    ):
        assign_register(path, _given_stage().areas, client)


def test_refuses_a_register_that_is_not_geoparquet(client, tmp_path):
    (tmp_path / "ders.csv").write_text("lat,lon\n45,9\n")
    with pytest.raises(AtlasInputError, match=r"reads a GeoParquet DER register"):
        assign_register(tmp_path / "ders.csv", _given_stage().areas, client)


def test_names_the_extra_when_dask_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dask_geopandas", None)  # import fails
    with pytest.raises(AtlasInputError, match=r"pip install 'flexibility-atlas\[dask\]'"):
        assign_register(tmp_path / "ders.parquet", _given_stage().areas)
