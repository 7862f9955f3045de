"""The run contract (atlas.runfolder): a saved run reads back equal, the stages after the
engine agree with each other, and a run folder is replaced whole or not at all."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from map_fixtures import BOUNDARY, with_register

from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.pipeline import run_study, save_run, screen_run
from atlas.runfolder import (
    FORMAT_VERSION,
    REGISTER_SCHEMA,
    Run,
    Staging,
    check_run_folder,
    conform,
    read_table,
    recover,
    write_table,
)

#: A register with hostile-looking but valid values: ids that read as missing or numbers.
REGISTER = (
    "der_id,name,technology,capacity_kw,level,location,scenario,lat,lon\n"
    "NA,None,pv,4000,MV,,,45.461,9.151\n"
    "007,null,chp,10000,MV,,,45.459,9.149\n"
    "D3,Hydro,hydro,1500,MV,,,45.501,9.201\n"
    "D4,,biomass,2000,LV,,,45.499,9.199\n"
    "D5,Sud PV,pv,3000,LV,,2030,45.421,9.191\n"
    "D6,,ev,500,LV,work,,45.462,9.152\n"
)

#: The register's points stand for whole technologies of a PS (totals a test can check by
#: hand), beyond the size of one real installation: the study accepts that on purpose.
ACCEPT_AGGREGATES = '\n[checks]\naccept = ["der_max_mw"]\n'


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), run.json without its times."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "run.json":
                m = json.loads(data)
                m.pop("created_utc", None)
                m.pop("timings_s", None)
                data = json.dumps(m, sort_keys=True).encode()
            out[p.relative_to(folder).as_posix()] = data
    return out


@pytest.fixture(scope="module")
def register_study(tmp_path_factory, tiny) -> Path:
    """The tiny study with Voronoi areas from a DER register and a 3 MW threshold."""
    folder = tmp_path_factory.mktemp("register_study")
    return tiny.write(
        folder,
        toml=lambda t: with_register(t) + "\n[screening]\nthreshold_mw = 3\n" + ACCEPT_AGGREGATES,
        capacity=False,
        extra={"ders.csv": REGISTER, "boundary.geojson": json.dumps(BOUNDARY)},
    )


@pytest.fixture(scope="module")
def saved(register_study, tmp_path_factory) -> tuple[Run, Path]:
    """A run made in memory, then saved (with its report and online map)."""
    run = run_study(register_study, webmap="online")
    folder = tmp_path_factory.mktemp("saved") / "run"
    save_run(run, folder)
    return run, folder


# ---- the contract ------------------------------------------------------------------------------


def test_a_loaded_run_equals_the_saved_one(saved):
    run, folder = saved
    loaded = Run.load(folder)
    assert not loaded.hourly_loaded()  # lazy until used
    assert loaded.differences(run) == []
    assert loaded.hourly_loaded()
    assert loaded.equals(run)
    # the ids that a CSV reader would take for missing values or numbers stay text
    assert {"NA", "007"} <= set(loaded.register["der_id"])
    assert loaded.register.set_index("der_id").loc["NA", "name"] == "None"
    assert loaded.register.set_index("der_id").loc["007", "name"] == "null"


def test_differences_name_what_changed(saved):
    run, folder = saved
    loaded = Run.load(folder)
    loaded.screening.loc[0, "firm"] = np.nextafter(loaded.screening.loc[0, "firm"], np.inf)
    loaded.manifest["scenarios"] = ["x"]
    assert loaded.differences(run) == ["manifest", "screening"]


@pytest.fixture(scope="module")
def full_run(register_study, tmp_path_factory) -> tuple[Run, Path]:
    """A run saved while computing, with everything: the csv table, summary figures and the
    offline map; made once (copy the folder to change it)."""
    out = tmp_path_factory.mktemp("full") / "run"
    run = run_study(register_study, out, formats=("csv",), figures="summary", webmap="offline")
    return run, out


def test_a_run_saved_while_computing_equals_its_folder(full_run):
    run, out = full_run
    assert run.folder == out
    loaded = Run.load(out)
    assert loaded.equals(run)
    assert loaded.figures and all((out / p).is_file() for p in loaded.figures["N"])
    assert "format_version" in loaded.manifest


def test_coordinates_and_floats_read_back_exactly(tmp_path):
    table = pd.DataFrame(
        {
            "der_id": ["a", "NA", "007"],
            "lat": [45.123456789012345, 0.1 + 0.2, -1e-300],
            "lon": [9.987654321098765, 1 / 3, 1e300],
            "capacity_mw": [1e-9, 123456.789, np.nan],
            "v2g": [np.nan, 1.0, 0.0],
        }
    )
    table = conform(table, REGISTER_SCHEMA)
    write_table(table, tmp_path / "t.csv")
    back = read_table(tmp_path / "t.csv", REGISTER_SCHEMA)
    pd.testing.assert_frame_equal(back, table, check_exact=True)


def test_a_bad_cell_names_file_row_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("der_id,lat\nA,1.5\nB,north\n", encoding="utf-8")
    with pytest.raises(AtlasInputError) as err:
        read_table(path, {"der_id": "text", "lat": "float"})
    assert err.value.where == "row 2, column lat" and err.value.line == 3
    assert "'north', expected a number" in err.value.problem


def test_a_newer_format_is_refused(saved, tmp_path):
    _, folder = saved
    manifest = json.loads((folder / "run.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(AtlasInputError, match=f"got 99, expected {FORMAT_VERSION}"):
        Run.load(tmp_path)


# ---- screen, map and report agree ---------------------------------------------------------------


@pytest.fixture(scope="module")
def first_run(register_study, tmp_path_factory) -> Path:
    """A run of the register study without figures and map, made once (copy it to change it)."""
    out = tmp_path_factory.mktemp("first") / "run"
    run_study(register_study, out, figures="none", webmap="none")
    return out


@pytest.fixture(scope="module")
def online_run(register_study, tmp_path_factory) -> Path:
    """A run of the register study with its online map, made once (copy it to change it)."""
    out = tmp_path_factory.mktemp("online") / "run"
    run_study(register_study, out, figures="none", webmap="online")
    return out


@pytest.fixture
def screened(online_run, tmp_path) -> Path:
    return Path(shutil.copytree(online_run, tmp_path / "run"))


def _map_data(folder: Path) -> dict:
    text = (folder / "map.html").read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="atlas-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_bare_screen_keeps_the_runs_settings(screened):
    before = pd.read_csv(screened / "screening.csv", dtype=str, keep_default_na=False)
    assert set(before.loc[before["unit"] == "MW", "threshold"]) == {"3.0"}
    result = CliRunner().invoke(main, ["screen", str(screened)])
    assert result.exit_code == 0, result.output
    after = pd.read_csv(screened / "screening.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(after, before)
    assert "threshold 3 MW" in result.output
    assert Run.load(screened).manifest["overrides"] == {}


def test_a_filtered_screen_rewrites_everything(screened):
    result = CliRunner().invoke(
        main, ["screen", str(screened), "--direction", "p_up", "--scenario", "2030"]
    )
    assert result.exit_code == 0, result.output
    assert "2030 p_up" in result.output and "as-is" not in result.output.split("rewrote")[0]
    table = pd.read_csv(screened / "screening.csv", dtype=str, keep_default_na=False)
    assert set(table["scenario"]) == {"as-is", "2030"}
    assert set(table["direction"]) == {"p_up", "p_down", "q_up", "q_down"}
    assert len(table) == 2 * 3 * 4
    stats = pd.read_parquet(screened / "statistics.parquet")
    assert set(stats["scenario"]) == {"as-is", "2030"}
    result = CliRunner().invoke(main, ["map", str(screened)])
    assert result.exit_code == 0, result.output
    assert len(_map_data(screened)["layers"]) == 8
    result = CliRunner().invoke(main, ["map", str(screened), "--scenario", "as-is"])
    assert result.exit_code == 0, result.output


def test_a_new_threshold_reaches_report_and_map(screened):
    result = CliRunner().invoke(main, ["screen", str(screened), "--threshold-mw", "5"])
    assert result.exit_code == 0, result.output
    report = (screened / "report.html").read_text(encoding="utf-8")
    assert "thresholds: 5 MW, 10 Mvar" in report
    layers = _map_data(screened)["layers"]
    assert {lay["threshold"] for lay in layers if lay["unit"] == "MW"} == {5.0}
    run = Run.load(screened)
    assert run.manifest["overrides"] == {"screening.threshold_mw": 5.0}
    assert run.screening_settings["threshold_mw"] == 5.0
    assert set(run.screening.loc[run.screening["unit"] == "MW", "threshold"]) == {5.0}
    # and a later bare screen keeps 5 MW: the override is the run's setting now
    CliRunner().invoke(main, ["screen", str(screened)])
    assert set(Run.load(screened).screening.query("unit == 'MW'")["threshold"]) == {5.0}


def test_screen_run_api_matches_a_fresh_run(register_study, saved):
    run, _ = saved
    rescreened = screen_run(run, threshold_mw=3.0)
    pd.testing.assert_frame_equal(rescreened.screening, run.screening)
    pd.testing.assert_frame_equal(rescreened.statistics, run.statistics)


def test_screen_run_of_a_folder_reads_a_few_columns_and_matches_memory(saved):
    """Screening a loaded run reads 9 of the hourly table's columns, chunk by chunk; the
    screening and the restated statistics equal those of the run in memory."""
    from atlas.analysis.stats import ARRAY_COLUMNS

    run, folder = saved
    loaded = Run.load(folder)
    (chunk,) = list(loaded.hourly_chunks(ARRAY_COLUMNS))  # the tiny study: one chunk
    assert list(chunk.columns) == list(ARRAY_COLUMNS)
    whole = run.hourly[list(ARRAY_COLUMNS)]
    pd.testing.assert_frame_equal(chunk, whole)
    missing = next(loaded.hourly_chunks(["ps_id", "not_a_column"]))
    assert list(missing.columns) == ["ps_id"]  # columns the dataset lacks are skipped
    for threshold in (None, 3.0, 0.5):
        mine, theirs = (
            screen_run(loaded, threshold_mw=threshold),
            screen_run(run, threshold_mw=threshold),
        )
        pd.testing.assert_frame_equal(mine.screening, theirs.screening)
        pd.testing.assert_frame_equal(mine.statistics, theirs.statistics)


# ---- the folder is one unit ---------------------------------------------------------------------


def test_a_second_run_replaces_the_first_whole(register_study, full_run, tmp_path):
    out = Path(shutil.copytree(full_run[1], tmp_path / "D"))
    assert (out / "figures").is_dir() and (out / "map.html").is_file()
    assert (out / "flexibility_hourly.csv").is_file()
    result = CliRunner().invoke(
        main,
        [
            *("run", "--config", str(register_study), "--out", str(out), "--figures", "none"),
            *("--map", "none", "--workers", "1", "--no-progress"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not (out / "figures").exists()
    assert not (out / "map.html").exists()
    assert not (out / "flexibility_hourly.csv").exists()
    assert (out / "report.html").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["D"]  # nothing left beside it


def test_a_folder_with_a_foreign_file_is_refused(register_study, tmp_path):
    out = tmp_path / "D"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"years of work")
    result = CliRunner().invoke(
        main, ["run", "--config", str(register_study), "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 2
    assert "thesis.docx" in result.output and "no atlas run wrote" in result.output
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]
    assert (out / "thesis.docx").read_bytes() == b"years of work"
    # a run folder with a foreign file in it is refused too, and the file kept
    run_study(register_study, tmp_path / "E", figures="none", webmap="none")
    (tmp_path / "E" / "notes.txt").write_text("mine")
    with pytest.raises(AtlasInputError, match=r"notes\.txt"):
        run_study(register_study, tmp_path / "E", figures="none", webmap="none")
    assert (tmp_path / "E" / "notes.txt").read_text() == "mine"


def test_a_readme_survives_and_an_empty_folder_is_fine(register_study, tmp_path):
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "README.md").write_text("what this folder is")
    run_study(register_study, out, figures="none", webmap="none")
    run_study(register_study, out, figures="none", webmap="none")
    assert (out / "README.md").read_text() == "what this folder is"
    check_run_folder(out)


def test_run_files_without_a_manifest_are_not_a_run(tmp_path):
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "screening.csv").write_text("x\n")
    with pytest.raises(AtlasInputError, match="not an atlas run folder"):
        check_run_folder(tmp_path / "D")


def test_an_error_while_staging_leaves_the_old_run(saved, tmp_path):
    _, folder = saved
    before = files_of(folder)
    with pytest.raises(RuntimeError), Staging(folder) as stage:
        (stage.path / "run.json").write_text("{}")
        raise RuntimeError("killed")
    assert files_of(folder) == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("phase", ["old_only", "old_and_new", "staging_left"])
def test_a_swap_killed_half_way_is_undone_by_the_next_command(saved, tmp_path, phase):
    """The states a SIGKILL inside :func:`atlas.runfolder.swap` can leave, then any atlas
    command on the folder."""
    _, src = saved
    import shutil

    folder = tmp_path / "D"
    shutil.copytree(src, folder)
    before = files_of(folder)
    old = tmp_path / ".D.atlas-old"
    staging = tmp_path / ".D.atlas-staging-999999999-00000000"
    shutil.copytree(folder, staging)
    (staging / "run.json").write_text("{half}")
    if phase == "old_only":  # killed between the two renames
        os.rename(folder, old)
    elif phase == "old_and_new":  # killed after them, before the old run was removed
        shutil.copytree(folder, old)
    result = CliRunner().invoke(main, ["screen", str(folder), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert files_of(folder).keys() == before.keys()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]
    assert set(Run.load(folder).differences(Run.load(src))) <= {"manifest"}


def test_recover_keeps_the_staging_folder_of_a_live_run(tmp_path):
    live = tmp_path / f".D.atlas-staging-{os.getpid()}-abcd"
    live.mkdir()
    assert recover(tmp_path / "D") == []
    assert live.is_dir()


def _run_killed_at(point: str, study: Path, out: Path, figures: str = "none") -> int:
    """Run the study into ``out`` in a forked process that SIGKILLs itself at ``point``."""
    import multiprocessing

    def target() -> None:
        os.environ["ATLAS_FAULT"] = point
        run_study(study, out, figures=figures, webmap="offline", workers=1)

    proc = multiprocessing.get_context("fork").Process(target=target)
    proc.start()
    proc.join()
    return proc.exitcode


@pytest.mark.parametrize(
    ("point", "outcome"),
    [
        ("staged", "before"),
        ("computed", "before"),
        ("written", "before"),
        ("swap", "before"),  # the old run waits beside the folder; the next command restores it
        ("swapped", "after"),  # the new run is in place; the old one is removed next time
    ],
)
def test_sigkill_at_each_point_leaves_one_whole_run(
    register_study, first_run, tmp_path, point, outcome
):
    out = Path(shutil.copytree(first_run, tmp_path / "D"))
    before = files_of(out)
    assert _run_killed_at(point, register_study, out) == -signal.SIGKILL
    result = CliRunner().invoke(main, ["screen", str(out), "--format", "csv"])  # any command
    assert result.exit_code == 0, result.output
    now = files_of(out)
    if outcome == "before":
        assert now == before
    else:
        assert "map.html" in now and now != before
        assert Run.load(out).settings["map"] == "offline"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]  # nothing left beside it


def _atlas(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from atlas.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.slow
def test_sigkill_of_the_command_midway_leaves_the_previous_run(register_study, first_run, tmp_path):
    """A real ``atlas run`` killed from outside (its whole process group) half-way."""
    out = Path(shutil.copytree(first_run, tmp_path / "D"))
    args = ["run", "--config", str(register_study), "--out", str(out), "--no-progress"]
    before = files_of(out)
    proc = _atlas(*args, "--figures", "summary", "--map", "offline", "--workers", "2")
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".D.atlas-staging-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    time.sleep(0.5)  # inside the computation
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert files_of(out) == before
    assert recover(out) and files_of(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]


def test_a_new_threshold_redraws_the_figures_that_show_it(full_run, tmp_path):
    out = Path(shutil.copytree(full_run[1], tmp_path / "run"))
    folder = out / "figures" / "N"
    before = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.glob("*.png")}
    assert set(before) == {"fig07_envelopes.png", "fig11_monthly_boxes.png"}
    result = CliRunner().invoke(main, ["screen", str(out), "--threshold-mw", "0.5"])
    assert result.exit_code == 0, result.output
    after = {p.name: (p.stat().st_ino, p.read_bytes()) for p in folder.glob("*.png")}
    # unchanged figures are the same files (hard links), the threshold's figure is new
    assert after["fig07_envelopes.png"] == before["fig07_envelopes.png"]
    assert after["fig11_monthly_boxes.png"][1] != before["fig11_monthly_boxes.png"][1]
    # a bare screen changes no threshold and redraws nothing
    CliRunner().invoke(main, ["screen", str(out)])
    again = {p.name: p.stat().st_ino for p in folder.glob("*.png")}
    assert again["fig11_monthly_boxes.png"] == after["fig11_monthly_boxes.png"][0]


def test_a_foreign_file_among_the_figures_is_refused(register_study, full_run, tmp_path):
    out = Path(shutil.copytree(full_run[1], tmp_path / "run"))
    (out / "figures" / "N" / "sketch.svg").write_text("<svg/>")
    with pytest.raises(AtlasInputError, match=r"figures/N/sketch\.svg"):
        run_study(register_study, out, figures="none", webmap="none")
    assert (out / "figures" / "N" / "sketch.svg").is_file()


def test_the_same_study_gives_the_same_bytes(register_study, full_run, tmp_path):
    run_study(register_study, tmp_path / "b", formats=("csv",), figures="summary", webmap="offline")
    fa, fb = files_of(full_run[1]), files_of(tmp_path / "b")
    assert fa.keys() == fb.keys()
    differ = [name for name in fa if fa[name] != fb[name] and name != "run.json"]
    assert differ == []


def test_areas_alone_make_a_folder_a_run_may_replace(register_study, tmp_path):
    out = tmp_path / "areas"
    result = CliRunner().invoke(main, ["areas", "--config", str(register_study), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["kind"] == "areas"
    with pytest.raises(AtlasInputError, match="holds only service areas"):
        Run.load(out)
    run_study(register_study, out, figures="none", webmap="none")
    assert Run.load(out).screening is not None


def test_ev_energy_and_points_per_ps_by_hand(saved):
    """ev.csv of the tiny study (conftest.EV_ROWS) and one charging point (D6, at 001)."""
    import geopandas as gpd

    _, folder = saved
    ev = read_table(folder / "ev_by_ps.csv", {"scenario": "text", "ps_id": "text"} | {
        "charging_points": "int", "energy_mwh": "float"})  # fmt: skip
    energy = ev.set_index(["scenario", "ps_id"])["energy_mwh"]
    assert energy[("2030", "001")] == pytest.approx(2.0 + 1.5 + 0.5 + 3.0)
    assert energy[("2030", "S")] == pytest.approx(1.25)
    assert energy[("as-is", "N")] == pytest.approx(0.75)
    assert energy[("as-is", "001")] == 0.0
    points = ev.set_index(["scenario", "ps_id"])["charging_points"]
    assert points[("as-is", "001")] == points[("2030", "001")] == 1
    assert points.drop([("as-is", "001"), ("2030", "001")]).eq(0).all()
    areas = gpd.read_file(folder / "service_areas.geojson").set_index("ps_id")
    assert areas.loc["001", "ev_mwh_2030"] == pytest.approx(7.0)
    assert areas.loc["N", "ev_mwh_as-is"] == pytest.approx(0.75)
    assert areas.loc["001", "ev_points_2030"] == 1 and areas.loc["S", "ev_points_2030"] == 0


def test_figures_for_an_unknown_ps_lists_the_ids(register_study, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--config",
            str(register_study),
            "--out",
            str(tmp_path / "o"),
            "--figures-for",
            "NOPE",
        ],
    )
    assert result.exit_code == 2
    assert "--figures-for: unknown ps_id 'NOPE', expected one of 001, N, S" in result.output
    assert "<study>" not in result.output and not (tmp_path / "o").exists()


def test_screen_table_uses_the_terminals_width(screened):
    long = "Primary substation of the northern district, 132/15 kV, two transformers"
    subs = pd.read_csv(screened / "substations.csv", dtype=str, keep_default_na=False)
    subs.loc[subs["ps_id"] == "N", "name"] = long
    subs.to_csv(screened / "substations.csv", index=False)
    wide = CliRunner().invoke(main, ["screen", str(screened)], env={"COLUMNS": "200"})
    assert wide.exit_code == 0, wide.output
    assert long in wide.output  # the whole name where the terminal has room
    rows = [line for line in wide.output.splitlines() if line.startswith("  N ")]
    assert rows and all(len(line) < 200 for line in rows)
    narrow = CliRunner().invoke(main, ["screen", str(screened)], env={"COLUMNS": "100"})
    lines = narrow.output.splitlines()
    assert long not in narrow.output and any(line.startswith("  N ") for line in lines)
    assert all(len(line) <= 100 for line in lines if not line.startswith("rewrote "))
    assert "…" in narrow.output  # cut names say so


def test_the_current_folder_is_not_a_run_folder(register_study, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in (".", str(tmp_path)):
        with pytest.raises(AtlasInputError, match="is the current folder or holds it"):
            run_study(register_study, out, figures="none", webmap="none")
    assert list(work.iterdir()) == []
    run_study(register_study, "sub", figures="none", webmap="none")  # a relative subfolder
    assert (work / "sub" / "run.json").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["sub"]


def test_register_coordinates_back_in_wgs84_as_to_crs_gives():
    """The register's lat/lon come from its metric points by the transformer ``to_crs``
    uses, without a geometry per point: the same floats."""
    import geopandas as gpd

    from atlas.runfolder import _wgs84_xy

    rng = np.random.default_rng(7)
    lon, lat = 9.0 + rng.random(500), 45.0 + rng.random(500)
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs("EPSG:32632")
    expected = points.to_crs("EPSG:4326")
    x, y = _wgs84_xy(points)
    np.testing.assert_array_equal(x, expected.x.to_numpy())
    np.testing.assert_array_equal(y, expected.y.to_numpy())
    x, y = _wgs84_xy(expected)  # already WGS84: its own coordinates
    np.testing.assert_array_equal(x, expected.x.to_numpy())
