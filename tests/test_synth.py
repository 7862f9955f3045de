"""The SYNTHETIC national-scale study generator (atlas.synth, ``atlas synth``).

Small studies (a dozen PS, tens of DERs per PS) written into temporary folders: the study
validates and runs, the same arguments give the same bytes, the counts, ids, places and
labels are as documented, and the register copies the Milan demo's mix.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from click.testing import CliRunner

import atlas
from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.synth import (
    BOUNDARY_NOTE,
    KIND_COLUMNS,
    LOAD_BATCH_PS,
    PF_RANGE,
    REGISTER_COLUMNS,
    apportion,
    ar1,
    demo_register,
    italy_boundary,
    load_schema,
    synthetic_file_names,
    write_synthetic_study,
)

N_PS, DERS_PER_PS = 12, 50


def _write(folder: Path, **kwargs) -> Path:
    args = {"n_ps": N_PS, "ders_per_ps": DERS_PER_PS, "load_format": "csv"} | kwargs
    return write_synthetic_study(folder, **args)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A 12-PS synthetic study with the CSV register and the CSV load."""
    return _write(tmp_path_factory.mktemp("synth") / "study")


@pytest.fixture(scope="module")
def register(study) -> pd.DataFrame:
    return pd.read_csv(study.parent / "ders.csv", dtype=str, keep_default_na=False)


def test_study_validates_with_the_cli(study):
    result = CliRunner().invoke(main, ["validate", str(study)])
    assert result.exit_code == 0, result.output
    assert f"{N_PS} substations" in result.output


def test_run_end_to_end(study):
    run = atlas.run_study(study)
    assert sorted(run.screening["scenario"].unique()) == ["2030", "as-is"]
    assert run.screening["ps_id"].nunique() == N_PS
    summary = run.manifest["summary"]
    assert summary["service_areas"] == "voronoi"
    assert summary["ders_total"] == N_PS * DERS_PER_PS
    assert summary["ders_unassigned"] == 0
    # EV energy only in 2030, as in the Milan demo: the 2030 p_down (load added) exceeds as-is
    hourly = run.hourly
    p_down = hourly.groupby("scenario")["p_down_mw"].sum()
    assert p_down["2030"] > p_down["as-is"]


def test_same_arguments_same_bytes(tmp_path):
    for register_format, load_format in [("csv", "parquet"), ("geoparquet", "csv")]:
        a = _write(
            tmp_path / f"a-{register_format}",
            register_format=register_format,
            load_format=load_format,
        )
        b = _write(
            tmp_path / f"b-{register_format}",
            register_format=register_format,
            load_format=load_format,
        )
        names = synthetic_file_names(register_format, load_format)
        assert sorted(p.name for p in a.parent.iterdir()) == sorted(names)
        for name in names:
            assert (a.parent / name).read_bytes() == (b.parent / name).read_bytes(), name
    other = _write(tmp_path / "seed7", seed=7, load_format="parquet").parent
    for name in ("substations.csv", "ders.csv", "load.parquet"):
        assert (other / name).read_bytes() != (tmp_path / "a-csv" / name).read_bytes(), name


def test_counts_and_text_ids(study, register):
    folder = study.parent
    sites = pd.read_csv(folder / "substations.csv", dtype=str, keep_default_na=False)
    assert list(sites.columns) == ["ps_id", "name", "lat", "lon", "rated_mva"]
    assert list(sites["ps_id"]) == [f"PS{k:04d}" for k in range(1, N_PS + 1)]
    assert list(sites["name"]) == [f"Synthetic PS {k}" for k in range(1, N_PS + 1)]
    assert set(sites["rated_mva"].astype(float)) <= {50.0, 80.0, 126.0}
    assert sites["lat"].astype(float).is_monotonic_decreasing  # north to south

    assert list(register.columns) == list(REGISTER_COLUMNS)
    assert len(register) == N_PS * DERS_PER_PS
    assert register["der_id"].is_unique
    assert register["der_id"].str.fullmatch(r"D\d{7}").all()
    assert set(register["scenario"]) == {"", "2030"}
    assert set(register["technology"]) == {"pv", "chp", "biomass", "hydro", "ev"}

    load = pd.read_csv(folder / "load.csv", dtype={"ps_id": str, "time": str})
    assert list(load.columns) == ["time", "ps_id", "p_mw", "q_mvar"]
    assert len(load) == N_PS * 8760
    assert (load.groupby("ps_id", sort=False).size() == 8760).all()
    assert list(load["ps_id"].unique()) == list(sites["ps_id"])  # substation order, then time
    assert load["time"].iloc[0] == "2030-01-01T00:00:00Z"
    assert load["time"].iloc[8759] == "2030-12-31T23:00:00Z"

    inputs = atlas.load_inputs(study)
    assert inputs.ps_ids == list(sites["ps_id"])  # text ids through the atlas
    assert inputs.load.shape == (N_PS, 8760, 2)


def test_every_point_inside_the_boundary(study, register):
    folder = study.parent
    layer = gpd.read_file(folder / "boundary.geojson")
    assert layer.crs.to_epsg() == 4326
    outline = layer.geometry.iloc[0]
    assert outline.is_valid and outline.geom_type == "MultiPolygon"
    assert shapely.equals_exact(outline, italy_boundary(), tolerance=1e-9)
    sites = pd.read_csv(folder / "substations.csv")
    for table in (sites, register):
        lon = table["lon"].astype(float).to_numpy()
        lat = table["lat"].astype(float).to_numpy()
        assert shapely.contains_xy(outline, lon, lat).all()
    # and in the metric CRS, as the atlas joins them: no DER outside every service area
    from atlas.geo.stage import build_areas, geodata_summary

    loaded, geo, _ = build_areas(study)
    summary = geodata_summary(loaded, geo)
    assert summary["service_areas"] == "voronoi"
    assert summary["ders_total"] == N_PS * DERS_PER_PS
    assert summary["ders_unassigned"] == 0
    assert summary["empty_areas"] == []


def test_labelled_synthetic(study):
    folder = study.parent
    toml = tomllib.loads(study.read_text(encoding="utf-8"))
    assert "SYNTHETIC" in toml["study"]["description"]
    assert "synthetic" in toml["study"]["name"]
    assert toml["scenarios"]["names"] == ["as-is", "2030"]
    assert "inputs.service_areas" not in toml["inputs"] and "service_areas" not in toml["inputs"]
    props = json.loads((folder / "boundary.geojson").read_text())["features"][0]["properties"]
    assert props["note"] == BOUNDARY_NOTE == "synthetic, approximate outline, not a real boundary"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme
    assert f"atlas synth OUT_DIR --n-ps {N_PS} --ders-per-ps {DERS_PER_PS} --seed 2030" in readme


def test_register_copies_the_demo_mix(register):
    demo = demo_register()
    kinds = demo.groupby(list(KIND_COLUMNS), sort=True).size()
    expected = pd.Series(apportion(N_PS * DERS_PER_PS, kinds.to_numpy()), index=kinds.index)
    got = register.groupby(list(KIND_COLUMNS), sort=True).size()
    pd.testing.assert_series_equal(got, expected, check_names=False)
    # every point's capacity and v2g flag are those of a demo point of its kind
    pairs = set(
        zip(*(demo[c] for c in KIND_COLUMNS), demo["capacity_kw"], demo["v2g"], strict=True)
    )
    cap = register["capacity_kw"].astype(float)
    mine = zip(*(register[c] for c in KIND_COLUMNS), cap, register["v2g"], strict=True)
    assert all(row in pairs for row in mine)


def test_load_convention_and_sizes(study):
    folder = study.parent
    sites = pd.read_csv(folder / "substations.csv", dtype={"ps_id": str}).set_index("ps_id")
    load = pd.read_csv(folder / "load.csv", dtype={"ps_id": str})
    assert (load["p_mw"] > 0).all() and (load["q_mvar"] > 0).all()  # drawn, lagging
    s_mva = np.hypot(load["p_mw"], load["q_mvar"])
    s_max = s_mva.groupby(load["ps_id"]).max()
    # N-1: either of the two transformers carries the peak
    assert (s_max <= sites.loc[s_max.index, "rated_mva"] / 2).all()
    tan_phi = load["q_mvar"] / load["p_mw"]
    lo, hi = np.sqrt(1 / np.array(PF_RANGE[::-1]) ** 2 - 1)  # Q/P bounds of the pf range
    assert tan_phi.between(lo - 1e-3, hi + 1e-3).all()
    assert 0.93 < np.cos(np.arctan(tan_phi)).mean() < 0.97
    # a daily shape: the mean afternoon load above the mean night load
    hour = pd.to_datetime(load["time"]).dt.tz_convert("Europe/Rome").dt.hour
    assert load["p_mw"][hour.between(10, 19)].mean() > 1.15 * load["p_mw"][hour < 5].mean()


def test_parquet_load_schema_row_groups_and_values(tmp_path, study):
    n_ps = LOAD_BATCH_PS + 4
    path = _write(tmp_path / "pq", n_ps=n_ps, ders_per_ps=5, load_format="parquet")
    pf = pq.ParquetFile(path.parent / "load.parquet")
    assert pf.schema_arrow == load_schema()
    assert load_schema().field("time").type == pa.timestamp("us", tz="UTC")
    assert pf.metadata.num_row_groups == 2
    assert [pf.metadata.row_group(g).num_rows for g in range(2)] == [16 * 8760, 4 * 8760]
    table = pf.read().to_pandas()
    ids = [f"PS{k:04d}" for k in range(1, n_ps + 1)]
    assert list(table["ps_id"].unique()) == ids
    assert table["time"].iloc[0] == pd.Timestamp("2030-01-01T00:00Z")
    assert table.groupby("ps_id")["time"].is_monotonic_increasing.all()
    # the same load as the CSV format (the load's random stream does not depend on formats)
    csv = _write(tmp_path / "csv", n_ps=n_ps, ders_per_ps=5, load_format="csv")
    text = pd.read_csv(csv.parent / "load.csv", dtype={"ps_id": str})
    np.testing.assert_array_equal(table["p_mw"].to_numpy(), text["p_mw"].to_numpy())
    np.testing.assert_array_equal(table["q_mvar"].to_numpy(), text["q_mvar"].to_numpy())
    stamps = pd.to_datetime(text["time"], utc=True)
    assert (pd.DatetimeIndex(table["time"]) == pd.DatetimeIndex(stamps)).all()


def test_parquet_load_reads_as_the_csv_load(tmp_path, study):
    path = _write(tmp_path / "pq", load_format="parquet")
    np.testing.assert_array_equal(atlas.load_inputs(path).load, atlas.load_inputs(study).load)


def test_geoparquet_register_is_the_csv_register(tmp_path, register):
    path = _write(tmp_path / "gpq", register_format="geoparquet")
    layer = gpd.read_parquet(path.parent / "ders.parquet")
    assert layer.crs.to_epsg() == 4326
    assert (layer.geom_type == "Point").all()
    assert list(layer.columns) == [c for c in REGISTER_COLUMNS if c not in ("lat", "lon")] + [
        "geometry"
    ]
    for col in ("der_id", "technology", "level", "location", "v2g", "scenario"):
        assert list(layer[col].astype(str)) == list(register[col]), col
    np.testing.assert_array_equal(layer["capacity_kw"], register["capacity_kw"].astype(float))
    np.testing.assert_array_equal(layer.geometry.x, register["lon"].astype(float))
    np.testing.assert_array_equal(layer.geometry.y, register["lat"].astype(float))


def test_geoparquet_register_validates(tmp_path):
    path = _write(tmp_path / "gpq", register_format="geoparquet")
    atlas.load_inputs(path)


def test_refuses_a_folder_with_its_files(tmp_path):
    _write(tmp_path / "s")
    with pytest.raises(AtlasInputError, match="already exists"):
        _write(tmp_path / "s")
    _write(tmp_path / "s", force=True)
    with pytest.raises(AtlasInputError, match="n_ps"):
        _write(tmp_path / "t", n_ps=0)


def test_cli_writes_the_study(tmp_path):
    out = tmp_path / "cli"
    args = ["synth", str(out), "--n-ps", "3", "--ders-per-ps", "20", "--load-format", "csv"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert (out / "study.toml").is_file() and (out / "load.csv").is_file()
    again = CliRunner().invoke(main, args)  # files there: refused, one line, exit code 2
    assert again.exit_code == 2 and "already exists" in again.output
    bad = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), "--n-ps", "0"])
    assert bad.exit_code == 2


def test_ar1_is_the_recursion():
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((3, 500))
    expected = np.zeros_like(eps)
    prev = np.zeros(3)
    for t in range(eps.shape[1]):
        prev = 0.8 * prev + eps[:, t]
        expected[:, t] = prev
    np.testing.assert_allclose(ar1(eps, 0.8), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("total", [0, 1, 7, 600, 1_496_000])
def test_apportion_sums_and_follows_weights(total):
    weights = np.array([37, 1606, 33, 34, 29, 76, 3196, 30, 900, 300, 100, 200])
    counts = apportion(total, weights)
    assert counts.sum() == total
    assert np.all(np.abs(counts - total * weights / weights.sum()) < 1)
