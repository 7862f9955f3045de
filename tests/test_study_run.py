"""A tiny study through the study file, the readers and the command line."""

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import shapely.wkt
from click.testing import CliRunner
from numpy.testing import assert_allclose

from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.inputs.study import load_study
from atlas.inputs.timeaxis import hourly_axis, local_hour
from atlas.pipeline import load_inputs

STUDY = """\
[study]
name = "tiny"
year = 2030
timezone = "Europe/Rome"

[inputs]
substations = "substations.csv"
capacity = "capacity.csv"
load = "load.csv"

[profiles.pv]
source = "file"
file = "pv.csv"

[profiles.chp]
source = "file"
file = "chp.csv"

[profiles.ev]
source = "file"
file = "ev.csv"

[scenarios]
names = ["as-is", "2030"]
"""


def _stamps(year):
    return hourly_axis(year).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def study_dir(tmp_path):
    d = tmp_path / "study"
    d.mkdir()
    (d / "study.toml").write_text(STUDY)
    (d / "substations.csv").write_text(
        "ps_id,name,lat,lon,rated_mva\n001,Alpha,45.45,9.18,100\nB,Beta,45.50,9.20,200\n"
    )
    (d / "capacity.csv").write_text(
        "scenario,ps_id,technology,capacity_mw,level\n"
        "as-is,001,pv,4,MV\n2030,001,pv,6,MV\n2030,001,pv,2,LV\n2030,001,chp,10,\nas-is,B,hydro,1,MV\n"
    )
    hours = np.arange(8760)
    load = pd.concat(
        [
            pd.DataFrame(
                {
                    "time": _stamps(2030),
                    "ps_id": ps,
                    "p_mw": 50.0 + k + np.sin(hours),
                    "q_mvar": 10.0,
                }
            )
            for k, ps in enumerate(["001", "B"])
        ]
    )
    load.to_csv(d / "load.csv", index=False)
    pd.DataFrame({"pu": (hours % 24 == 12) * 0.8}).to_csv(d / "pv.csv", index=False)
    pd.DataFrame({"pu": np.full(8760, 0.5)}).to_csv(d / "chp.csv", index=False)
    (d / "ev.csv").write_text(
        "scenario,time,ps_id,location,p_mw\n"
        "2030,2030-01-01T12:00:00Z,001,work,2.0\n"
        "2030,2030-01-01T12:00:00Z,001,home,1.5\n"
    )
    return d


def test_axis_leap_year_and_dst():
    axis = hourly_axis(2028)
    assert len(axis) == 8760 and str(axis.tz) == "UTC"
    assert not ((axis.month == 2) & (axis.day == 29)).any()
    i = axis.get_loc(pd.Timestamp("2028-03-01T00:00Z"))
    assert axis[i - 1] == pd.Timestamp("2028-02-28T23:00Z")
    hours = local_hour(hourly_axis(2030), "Europe/Rome")
    axis = hourly_axis(2030)
    spring = hours[
        (axis >= pd.Timestamp("2030-03-30T23:00Z")) & (axis < pd.Timestamp("2030-03-31T22:00Z"))
    ]
    assert 2 not in spring and len(spring) == 23
    autumn = hours[
        (axis >= pd.Timestamp("2030-10-26T22:00Z")) & (axis < pd.Timestamp("2030-10-27T23:00Z"))
    ]
    assert list(autumn).count(2) == 2 and len(autumn) == 25


def test_figures_by_hand(study_dir):
    inputs = load_inputs(study_dir / "study.toml")
    from atlas.engine.compute import compute as run

    h = run(inputs).hourly
    assert list(h["ps_id"].unique()) == ["001", "B"]  # ids stay strings, leading zeros kept
    noon = h[
        (h["scenario"] == "2030")
        & (h["ps_id"] == "001")
        & (h["time"] == pd.Timestamp("2030-01-01T12:00Z"))
    ].iloc[0]
    # PV 6 MV + 2 LV (same parameters: one group of 8 MVA) at 0.8 pu; CHP 10 at 0.5;
    # EV work 2.0 (V2G) and home 1.5 (charge only)
    assert noon["p_down_mw_pv"] == pytest.approx(8 * 0.8)
    assert noon["q_up_mvar_pv"] == pytest.approx(8 * math.sqrt(0.19))
    assert noon["p_up_mw_chp"] == pytest.approx(5.0)
    assert noon["q_down_mvar_chp"] == pytest.approx(10 * math.sqrt(1 - 0.98**2))
    assert (noon["p_up_mw_ev"], noon["p_down_mw_ev"], noon["q_up_mvar_ev"]) == pytest.approx(
        (2.0, 3.5, 2.0)
    )
    assert noon["p_up_mw"] == pytest.approx(5.0 + 2.0)
    assert noon["p_mw"] == pytest.approx(50.0 + math.sin(12))
    hydro = h[(h["ps_id"] == "B") & (h["scenario"] == "2030")]
    assert (
        (hydro[[c for c in h.columns if c.endswith("_hydro")]] == 0).all().all()
    )  # no hydro in 2030


def test_cli_run_writes_everything(study_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            *("run", "--config", str(study_dir / "study.toml"), "--out", str(out)),
            *("--format", "csv", "--workers", "1", "--figures", "none", "--map", "none"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "flexibility_hourly.parquet")
    assert len(table) == 2 * 2 * 8760
    assert table["time"].dt.tz is not None
    csv = pd.read_csv(out / "flexibility_hourly.csv", dtype={"ps_id": str, "scenario": str})
    assert_allclose(csv["p_up_mw"].to_numpy(), table["p_up_mw"].to_numpy(), rtol=1e-8)
    env = pd.read_csv(out / "envelopes.csv", dtype={"ps_id": str})
    assert set(env["kind"]) == {"year", "cloud_convex", "cloud_concave"}
    assert all(shapely.wkt.loads(w).is_valid for w in env["wkt"])
    run = json.loads((out / "run.json").read_text())
    for item in run["inputs"].values():
        assert item["sha256"] == hashlib.sha256(open(item["path"], "rb").read()).hexdigest()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize(
    ("edit", "expect", "line"),
    [
        (
            lambda s: s.replace('names = ["as-is", "2030"]', 'names = ["as-is", 2030]'),
            "scenarios.names",
            24,
        ),
        (lambda s: s.replace("year = 2030", 'year = "next"'), "study.year", 3),
        (lambda s: s.replace('load = "load.csv"', 'lod = "load.csv"'), "inputs", None),
        (
            lambda s: s.replace('source = "file"\nfile = "pv.csv"', 'source = "pvgisx"'),
            "profiles.pv",
            None,
        ),
        (
            lambda s: s.replace('timezone = "Europe/Rome"', 'timezone = "Mars/Olympus"'),
            "study.timezone",
            4,
        ),
        (lambda s: s.replace('file = "chp.csv"', 'file = "missing.csv"'), "profiles.chp.file", 17),
        (lambda s: s + "\n[bogus]\nx = 1\n", "bogus", 26),
    ],
)
def test_study_file_errors(study_dir, edit, expect, line):
    path = study_dir / "study.toml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(AtlasInputError) as err:
        load_inputs(path)
    text = err.value.one_line()
    assert str(path) in text and expect in text
    if line is not None:
        assert err.value.line == line


def test_unquoted_number_scenario_says_quote(study_dir):
    path = study_dir / "study.toml"
    path.write_text(
        path.read_text().replace('names = ["as-is", "2030"]', 'names = ["as-is", 2030]')
    )
    with pytest.raises(AtlasInputError, match="quote"):
        load_study(path)


def test_relative_paths_resolve_against_the_study_folder(study_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = load_inputs(study_dir / "study.toml")
    assert inputs.study.input_files()["inputs.load"] == (study_dir / "load.csv").resolve()


@pytest.mark.parametrize(
    ("file", "mutate", "expect"),
    [
        (
            "load.csv",
            lambda t: "\n".join(row for i, row in enumerate(t.splitlines()) if i != 5),
            "ps_id=001: missing stamp 2030-01-01T04:00:00Z",
        ),
        (
            "load.csv",
            lambda t: t.replace("2030-01-01T04:00:00Z", "2030-01-01T03:00:00Z", 1),
            "duplicate stamp",
        ),
        (
            "load.csv",
            lambda t: t.replace("2030-01-01T04:00:00Z", "2030-01-01T04:00:00", 1),
            "expected an ISO 8601 UTC stamp",
        ),
        (
            "load.csv",
            lambda t: t.replace("2030-01-01T04:00:00Z", "2030-01-01T04:30:00Z", 1),
            "not an hour of the 2030 axis",
        ),
        ("capacity.csv", lambda t: t + "as-is,001,pv,1,MV\n", "duplicate key"),
        ("capacity.csv", lambda t: t + "as-is,001,ev,1,MV\n", "EV power comes from the EV input"),
        ("capacity.csv", lambda t: t + "as-is,001,pv,-1,MV\n", "expected a finite number >= 0"),
        (
            "pv.csv",
            lambda t: t.replace("0.8", "1.2", 1),
            "expected a finite number >= 0.0 and <= 1.0",
        ),
        ("pv.csv", lambda t: "\n".join(t.splitlines()[:-1]) + "\n", "8759 rows, expected 8760"),
        (
            "ev.csv",
            lambda t: t + "2030,2030-01-01T12:00:00Z,001,garage,1\n",
            "'garage' expected one of",
        ),
        (
            "ev.csv",
            lambda t: t + "2040,2030-01-01T12:00:00Z,001,work,1\n",
            "not a scenario of the study",
        ),
    ],
)
def test_input_errors_name_file_and_row(study_dir, file, mutate, expect):
    path = study_dir / file
    path.write_text(mutate(path.read_text()))
    with pytest.raises(AtlasInputError) as err:
        load_inputs(study_dir / "study.toml")
    assert str(path) in err.value.one_line()
    assert expect in err.value.one_line()


def test_cli_error_is_one_line_and_exit_2(study_dir):
    (study_dir / "capacity.csv").write_text(
        "scenario,ps_id,technology,capacity_mw\nas-is,ZZZ,pv,1\n"
    )
    result = CliRunner().invoke(
        main, ["run", "--config", str(study_dir / "study.toml"), "--out", str(study_dir / "o")]
    )
    assert result.exit_code == 2
    err = result.stderr.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("error: ") and "capacity.csv:2: row 1, ps_id" in err[0]
    )
    assert "Traceback" not in result.output


def test_load_year_redating(study_dir):
    hours = np.arange(8760)
    pd.concat(
        [
            pd.DataFrame({"time": _stamps(2024), "ps_id": ps, "p_mw": hours * 1.0, "q_mvar": 0.0})
            for ps in ["001", "B"]
        ]
    ).to_csv(study_dir / "load.csv", index=False)
    path = study_dir / "study.toml"
    path.write_text(
        path.read_text().replace('load = "load.csv"', 'load = "load.csv"\nload_year = 2024')
        # the load counts the hours (checkable positions), beyond the PS's rating: accepted
        + '\n[checks]\naccept = ["load_max_ratio"]\n'
    )
    inputs = load_inputs(path)
    assert_allclose(inputs.load[0, :, 0], hours)  # position i of 2024 -> position i of 2030


def test_failed_write_keeps_the_old_file(study_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(
            main,
            [
                *("run", "--config", str(study_dir / "study.toml"), "--out", str(out)),
                *("--workers", "1", "--figures", "none", "--map", "none"),
            ],
        )
        .exit_code
        == 0
    )

    def dataset_bytes() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (out / "flexibility_hourly.parquet").iterdir()}

    before = dataset_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError):
        from atlas.pipeline import run_study

        run_study(study_dir / "study.toml", out, figures="none", webmap="none")
    assert dataset_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_validate_command(study_dir):
    result = CliRunner().invoke(main, ["validate", str(study_dir / "study.toml")])
    assert result.exit_code == 0 and "ok" in result.output


def test_pv_from_tmy_per_substation(study_dir):
    path = study_dir / "study.toml"
    path.write_text(
        path.read_text().replace(
            '[profiles.pv]\nsource = "file"\nfile = "pv.csv"',
            '[profiles.pv]\nsource = "tmy"\ntilt_deg = 20',
        )
    )
    inputs = load_inputs(path)
    pv = inputs.profiles["pv"]
    assert pv.shape == (2, 8760)  # one profile per PS site
    assert not np.array_equal(pv[0], pv[1])  # the sun's position differs between the sites
    assert 1000 < pv[0].sum() < 1500
    from atlas.engine.compute import der_specs

    spec = next(s for s in der_specs(inputs, "2030", "001") if s.technology == "pv")
    assert_allclose(spec.series, pv[0])


def test_profiles_export(study_dir, tmp_path):
    out = tmp_path / "profiles"
    result = CliRunner().invoke(
        main, ["profiles", "export", "--config", str(study_dir / "study.toml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = (out / "profiles_001.csv").read_text()
    assert text.startswith("# atlas profiles of study 'tiny'") and "# pv: " in text
    table = pd.read_csv(out / "profiles_001.csv", comment="#", dtype={"ps_id": str})
    assert list(table.columns) == ["time", "ps_id", "technology", "pu"]
    assert len(table) == 4 * 8760 and table["pu"].between(0, 1).all()
    pv = table[table["technology"] == "pv"]["pu"].to_numpy()
    assert_allclose(pv, pd.read_csv(study_dir / "pv.csv")["pu"].to_numpy(), atol=1e-6)
    ev = pd.read_csv(out / "ev_001.csv", comment="#", dtype={"ps_id": str})
    assert ev["p_mw"].sum() == pytest.approx(3.5)
    for tech in ("pv", "chp", "hydro", "biomass"):
        assert (out / f"profile_{tech}.png").read_bytes()[:4] == b"\x89PNG"


def test_pv_mix_of_orientations(study_dir):
    from atlas.timeseries.pv import PvSystem, pv_tmy, read_tmy

    path = study_dir / "study.toml"
    mix = (
        '[profiles.pv]\nsource = "tmy"\norientations = [\n'
        "  { tilt_deg = 30, azimuth_deg = 180, share = 0.5 },\n"
        "  { tilt_deg = 15, azimuth_deg = 90, share = 0.3 },\n"
        "  { tilt_deg = 15, azimuth_deg = 270, share = 0.2 },\n]"
    )
    path.write_text(
        path.read_text().replace('[profiles.pv]\nsource = "file"\nfile = "pv.csv"', mix)
    )
    inputs = load_inputs(path)
    lat, lon = inputs.substations["lat"], inputs.substations["lon"]
    tmy = read_tmy()
    want = sum(
        share * pv_tmy(inputs.axis, lat, lon, tmy, PvSystem(tilt, az))
        for share, tilt, az in ((0.5, 30, 180), (0.3, 15, 90), (0.2, 15, 270))
    )
    assert_allclose(inputs.profiles["pv"], want, atol=1e-12)
    path.write_text(path.read_text().replace("share = 0.2", "share = 0.3"))
    with pytest.raises(AtlasInputError, match="orientation shares must sum to 1"):
        load_inputs(path)
