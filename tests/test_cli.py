"""The ``atlas`` command: exit codes, one-line errors, the files written and read back."""

import hashlib
import inspect
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import shapely
import shapely.wkt
from click.testing import CliRunner
from numpy.testing import assert_allclose, assert_array_equal

from atlas.cli import main
from atlas.engine.compute import FIGURE_COLUMNS
from atlas.inputs.timeaxis import hourly_axis

OUTPUTS = {
    "flexibility_hourly.parquet",
    "flexibility_hourly.csv",
    "envelopes.csv",
    "run.json",
    "capacity_by_ps.csv",
    "statistics.parquet",
    "screening.csv",
    "report.html",
    "map.html",
    "figures",
    "substations.csv",
    "ev_by_ps.csv",
}
COLUMNS = [
    "scenario",
    "ps_id",
    "time",
    "p_mw",
    "q_mvar",
    *FIGURE_COLUMNS,
    "bess_soe_mwh",
    "over_rating",
    "daylight",
]


def _runner() -> CliRunner:
    """A runner that keeps stderr apart (click < 8.2 needs mix_stderr=False)."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)
    return CliRunner()


def _run(study, out, *extra):
    args = ["run", "--config", str(study), "--out", str(out), "--no-progress", "--workers", "1"]
    return _runner().invoke(main, [*args, *extra])


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def run_dir(tiny_study_path, tmp_path_factory):
    """One ``atlas run --format csv`` of the tiny study (read-only)."""
    out = tmp_path_factory.mktemp("run") / "out"
    result = _run(tiny_study_path, out, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return out


# ---- validate ------------------------------------------------------------------------------


def test_validate_ok(make_study):
    path = make_study()
    result = _runner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"{path}: ok: study 'tiny', year 2030, 3 substations, "
        "scenarios ['as-is', '2030'], 12 capacity rows"
    )
    assert result.stderr == ""


# ---- run: the files ------------------------------------------------------------------------


def test_run_writes_the_documented_files(run_dir):
    assert {p.name for p in run_dir.iterdir()} == OUTPUTS
    assert _temporaries(run_dir) == []


def test_run_prints_what_it_wrote(tiny_study_path, tmp_path):
    result = _run(tiny_study_path, tmp_path / "o")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert written == sorted(OUTPUTS - {"flexibility_hourly.csv"})  # csv only with --format csv
    assert f"wrote {len(written) - 1} files to" in result.stdout  # and the figures folder
    pngs = sorted((tmp_path / "o" / "figures").rglob("*.png"))
    assert len(pngs) == 3 * 2  # summary: two figures per PS
    assert f"figures/ ({len(pngs)} PNG" in result.stdout
    for name in ("flexibility_hourly.parquet", "envelopes.csv", "run.json"):
        assert f"  {name}" in result.stdout
    assert result.stderr == ""


def test_parquet_read_back(run_dir, tiny_result, tiny):
    table = pd.read_parquet(run_dir / "flexibility_hourly.parquet")
    assert len(table) == 2 * 3 * 8760  # scenarios x PS x hours
    assert list(table.columns) == COLUMNS
    assert list(table["scenario"].unique()) == ["as-is", "2030"]
    assert list(table["ps_id"].unique()) == ["001", "N", "S"]
    assert {type(v) for v in table["ps_id"].unique()} == {str}
    assert str(table["time"].dt.tz) == "UTC"
    assert (pd.DatetimeIndex(table["time"].iloc[:8760]) == hourly_axis(2030)).all()
    for col in COLUMNS[3:]:
        assert_array_equal(table[col].to_numpy(), tiny_result.hourly[col].to_numpy(), col)
    p, _ = tiny.load_pq(2)
    s = table[(table["scenario"] == "2030") & (table["ps_id"] == "S")]
    assert_array_equal(s["p_mw"].to_numpy(), p)


def test_csv_read_back(run_dir):
    csv = pd.read_csv(
        run_dir / "flexibility_hourly.csv", dtype={"scenario": str, "ps_id": str, "time": str}
    )
    table = pd.read_parquet(run_dir / "flexibility_hourly.parquet")
    assert list(csv.columns) == COLUMNS
    assert len(csv) == len(table)
    assert csv["time"].iloc[0] == "2030-01-01T00:00:00Z"
    assert csv["time"].iloc[8759] == "2030-12-31T23:00:00Z"
    assert list(csv["ps_id"].unique()) == ["001", "N", "S"]
    assert list(csv["scenario"].unique()) == ["as-is", "2030"]
    parsed = pd.to_datetime(csv["time"], utc=True, format="ISO8601")
    assert (parsed.to_numpy() == table["time"].to_numpy()).all()
    for col in COLUMNS[3:-2]:
        assert_allclose(csv[col].to_numpy(), table[col].to_numpy(), rtol=1e-8, atol=1e-12)
    for col in ("over_rating", "daylight"):
        assert_array_equal(csv[col].to_numpy(), table[col].to_numpy())


def test_envelopes_read_back(run_dir, tiny_result):
    env = pd.read_csv(run_dir / "envelopes.csv", dtype={"scenario": str, "ps_id": str})
    assert list(env.columns) == ["scenario", "ps_id", "kind", "wkt", "wkb"]
    assert len(env) == len(tiny_result.envelopes) == 12
    geoms = [shapely.wkt.loads(w) for w in env["wkt"]]
    assert all(g.geom_type == "Polygon" and g.is_valid for g in geoms)
    for g, row in zip(geoms, tiny_result.envelopes.itertuples(), strict=True):
        assert g.equals_exact(row.geometry, tolerance=1e-9)
    assert set(env.loc[env["scenario"] == "2030", "kind"]) == {"year"}
    assert set(env.loc[env["scenario"] == "as-is", "kind"]) == {
        "year",
        "cloud_convex",
        "cloud_concave",
    }


def test_run_json_checksums(run_dir, tiny_study_path):
    data = json.loads((run_dir / "run.json").read_text())
    folder = tiny_study_path.parent.resolve()
    expected_keys = {
        "inputs.substations",
        "inputs.capacity",
        "inputs.load",
        *(f"profiles.{t}.file" for t in ("pv", "chp", "hydro", "biomass", "ev")),
    }
    assert set(data["inputs"]) == expected_keys
    for key, item in data["inputs"].items():
        path = Path(item["path"])
        assert path.parent == folder, key  # absolute, in the study's folder
        assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), key
    assert Path(data["inputs"]["inputs.load"]["path"]).name == "load.csv"
    assert data["study"]["sha256"] == hashlib.sha256(tiny_study_path.read_bytes()).hexdigest()
    assert data["study"]["year"] == 2030 and data["study"]["name"] == "tiny"
    assert data["scenarios"] == ["as-is", "2030"]
    assert set(data["outputs"]) == OUTPUTS - {"run.json", "figures"}
    assert data["figures_written"] == 6  # summary figures of 3 PS
    pv = data["capability_parameters"]["pv/MV"]
    assert (pv["pf_inject"], pv["pf_absorb"], pv["active_range"]) == (0.9, 0.9, "curtail")


# ---- errors --------------------------------------------------------------------------------


ERROR_STUDIES = [
    pytest.param(
        {"toml": lambda t: t.replace('names = ["as-is", "2030"]', 'names = ["as-is", 2030]')},
        "study.toml:32: scenarios.names",
        id="study-file",
    ),
    pytest.param({"toml": lambda t: t.replace("[inputs]", "[inputs")}, "study.toml:6:", id="toml"),
    pytest.param(
        {"capacity": lambda t: t + "2030,ZZZ,pv,1,MV\n"},
        "capacity.csv:14: row 13, ps_id",
        id="capacity",
    ),
    pytest.param(
        {"load": lambda t: "".join(ln for ln in t.splitlines(True) if ",S," not in ln)},
        "load.csv: ps_id=S: no row for this substation, expected its 8760 hours of 2030",
        id="load",
    ),
    pytest.param({"hydro": False}, "study.toml:21: profiles.hydro.file", id="missing-file"),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("overrides", "expect"), ERROR_STUDIES)
def test_error_is_one_line_and_exit_code_2(make_study, tmp_path, command, overrides, expect):
    path = make_study(**overrides)
    out = tmp_path / "out"
    if command == "validate":
        result = _runner().invoke(main, ["validate", str(path)])
    else:
        result = _run(path, out)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert str(path.parent) in lines[0]
    assert expect in lines[0]
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert not out.exists()  # nothing written


def test_missing_study_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "nope.toml"
    result = _run(path, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}: file not found, expected the study's TOML file"
    ]


# ---- atomic replacement --------------------------------------------------------------------


def test_second_run_replaces_every_file(run_dir, tiny_study_path, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run_dir, out)
    before = {p.relative_to(out): p.stat().st_ino for p in out.rglob("*") if p.is_file()}
    assert any(p.suffix == ".png" for p in before)
    (out / "envelopes.csv").write_text("stale")
    result = _run(tiny_study_path, out, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert _temporaries(out) == []
    assert {p.name for p in out.iterdir()} == OUTPUTS
    for name, inode in before.items():
        assert (out / name).stat().st_ino != inode, name  # a new file moved into place
    assert (out / "envelopes.csv").read_text() != "stale"
    assert (out / "envelopes.csv").read_bytes() == (run_dir / "envelopes.csv").read_bytes()
    assert (out / "flexibility_hourly.csv").read_bytes() == (
        run_dir / "flexibility_hourly.csv"
    ).read_bytes()
    new = pd.read_parquet(out / "flexibility_hourly.parquet")
    old = pd.read_parquet(run_dir / "flexibility_hourly.parquet")
    pd.testing.assert_frame_equal(new, old)


def test_failed_write_leaves_the_old_outputs_intact(
    run_dir, tiny_study_path, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    shutil.copytree(run_dir, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    result = _run(tiny_study_path, out, "--format", "csv")
    assert result.exit_code == 2  # the atlas's one-line error, not a traceback
    assert f"{out}: cannot write the run folder (no space left on the device)" in result.output
    assert _temporaries(out) == []
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_outputs_have_the_usual_permissions(run_dir):
    # mkstemp makes 0600 files; the atomic writer gives them what open() would: 0666 & ~umask
    mask = os.umask(0)
    os.umask(mask)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files)
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask, p.name
