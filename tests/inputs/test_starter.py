"""The starter study of ``atlas init`` (atlas/inputs/starter.py): valid, runnable, guarded."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.inputs.starter import PEAK_MW, Q_OVER_P, init_study, starter_file_names, synthetic_load
from atlas.inputs.timeaxis import N_HOURS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "study-file.md"


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    """The starter written once into a folder that does not exist yet (read-only)."""
    folder = tmp_path_factory.mktemp("init") / "new" / "mystudy"
    init_study(folder)
    return folder


def test_writes_every_file_into_a_new_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    written = init_study(folder)
    assert [p.name for p in written] == starter_file_names()
    assert all(p.parent == folder and p.is_file() for p in written)
    assert sum(p.stat().st_size for p in written) < 400_000  # small: a few hundred kB at most


def test_validate_and_run(starter, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(starter / "study.toml")])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    out = tmp_path / "out"
    args = ["run", "--config", str(starter / "study.toml"), "--out", str(out)]
    args += ["--figures", "none", "--map", "none", "--workers", "1", "--no-progress"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    hourly = pd.read_parquet(out / "flexibility_hourly.parquet")
    assert set(hourly["scenario"]) == {"as-is", "2030"}
    assert set(hourly["ps_id"]) == set(PEAK_MW)
    assert len(hourly) == 2 * len(PEAK_MW) * N_HOURS
    # every technology of the register reaches the engine, EV in both scenarios
    capacity = pd.read_csv(out / "capacity_by_ps.csv", dtype={"ps_id": str})
    assert set(capacity["technology"]) == {"pv", "chp", "hydro", "biomass"}
    assert set(capacity["level"]) == {"MV", "LV"}
    for scenario in ("as-is", "2030"):
        rows = hourly[hourly["scenario"] == scenario]
        assert (rows["p_down_mw_ev"] > 0).any()
    # the planned 2030 plants add capacity; the measured load is the same in both scenarios
    total = capacity.groupby("scenario")["capacity_mw"].sum()
    assert total["2030"] > total["as-is"]
    p = hourly.pivot_table(index=["ps_id", "time"], columns="scenario", values="p_mw")
    assert_allclose(p["2030"], p["as-is"])
    assert "0 outside every area" in result.output


def test_load_follows_the_documented_formula():
    load = synthetic_load(2030)
    assert len(load) == len(PEAK_MW) * N_HOURS
    sud = load[load["ps_id"] == "SUD"].set_index("time")
    # Wednesday 16 January 2030, 15:00Z = 16:00 UTC+1: d = 1, doy = 16
    expected = 30.0 * 0.9 * (1 + 0.08 * np.cos(2 * np.pi * 1 / 365))
    assert_allclose(sud.loc["2030-01-16T15:00:00Z", "p_mw"], expected, atol=5e-4)
    # Saturday 13 July 2030, 03:00Z = 04:00 UTC+1: d = 0, weekend
    expected = 30.0 * 0.55 * (1 + 0.08 * np.cos(2 * np.pi * (194 - 15) / 365)) * 0.85
    assert_allclose(sud.loc["2030-07-13T03:00:00Z", "p_mw"], expected, atol=5e-4)
    assert_allclose(load["q_mvar"], Q_OVER_P * load["p_mw"], atol=5e-4)
    peak = load.groupby("ps_id")["p_mw"].max()
    for ps_id, pk in PEAK_MW.items():
        assert 0.95 * pk < peak[ps_id] <= pk


def test_substations_match_the_load_and_carry_the_label(starter):
    subs = pd.read_csv(starter / "substations.csv", dtype={"ps_id": str})
    assert list(subs["ps_id"]) == list(PEAK_MW)
    assert subs["name"].str.contains("synthetic").all()
    ders = pd.read_csv(starter / "ders.csv")
    assert ders["name"].str.contains("synthetic").all()
    assert set(ders["technology"]) == {"pv", "chp", "hydro", "biomass", "ev"}
    assert set(ders.loc[ders["technology"] == "ev", "location"]) == {
        "home",
        "work",
        "b2c",
        "public",
    }
    assert "SYNTHETIC" in (starter / "boundary.geojson").read_text(encoding="utf-8")


def test_toml_parses_and_shows_every_documented_section(starter):
    text = (starter / "study.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "SYNTHETIC" in data["study"]["description"]
    assert data["profiles"]["pv"]["source"] == "tmy"  # offline: the shipped TMY
    sections = re.findall(r"^## `\[\[?([a-z_]+)", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert {"study", "inputs", "profiles", "scenarios", "growth", "capability"} <= set(sections)
    for section in sections:
        assert re.search(rf"^#? ?\[\[?{section}[\].]", text, re.MULTILINE), section


def test_refuses_a_folder_with_starter_files(tmp_path):
    folder = tmp_path / "s"
    written = init_study(folder)
    (folder / "ders.csv").write_text("my own register\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in written}
    with pytest.raises(AtlasInputError, match=r"study\.toml.*already exists"):
        init_study(folder)
    assert {p.name: p.read_bytes() for p in written} == before
    # a folder holding only one of the files is refused too, naming it
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "substations.csv").write_text("mine\n", encoding="utf-8")
    with pytest.raises(AtlasInputError, match=r"substations\.csv"):
        init_study(lone)
    assert sorted(p.name for p in lone.iterdir()) == ["substations.csv"]
    assert (lone / "substations.csv").read_text(encoding="utf-8") == "mine\n"


def test_force_overwrites_and_is_deterministic(tmp_path):
    folder = tmp_path / "s"
    first = {p.name: p.read_bytes() for p in init_study(folder)}
    (folder / "ders.csv").write_text("my own register\n", encoding="utf-8")
    (folder / "notes.txt").write_text("kept\n", encoding="utf-8")
    again = {p.name: p.read_bytes() for p in init_study(folder, force=True)}
    assert again == first  # the same bytes (the gzip header carries no time stamp)
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "kept\n"


def test_refuses_a_file_as_folder(tmp_path):
    path = tmp_path / "taken"
    path.write_text("", encoding="utf-8")
    with pytest.raises(AtlasInputError, match="is a file"):
        init_study(path)


def test_cli_init(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "mystudy"
    result = runner.invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert "load_synthetic.csv.gz" in result.output
    assert f"atlas validate {folder / 'study.toml'}" in result.output
    assert f"atlas run --config {folder / 'study.toml'} --out" in result.output
    study = (folder / "study.toml").read_bytes()
    (folder / "study.toml").write_text("[study]\n", encoding="utf-8")
    result = runner.invoke(main, ["init", str(folder)])
    assert result.exit_code == 2
    assert "study.toml" in result.output and "already exists" in result.output
    assert (folder / "study.toml").read_text(encoding="utf-8") == "[study]\n"
    result = runner.invoke(main, ["init", "--force", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "study.toml").read_bytes() == study
