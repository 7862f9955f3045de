"""What-if additions: parsed from text, made into one more scenario beside the last."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from atlas.cli import main
from atlas.errors import AtlasInputError
from atlas.inputs.whatif import Addition, parse_addition
from atlas.pipeline import run_study
from atlas.present.webmap import choose_scenario
from atlas.runfolder import Run


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("SUD:bess=10MW/20MWh", Addition("SUD:bess=10MW/20MWh", "SUD", "bess", 10.0, 20.0)),
        ("SUD:statcom=15Mvar", Addition("SUD:statcom=15Mvar", "SUD", "statcom", 15.0)),
        (" 007:pv=500kW ", Addition("007:pv=500kW", "007", "pv", 0.5)),
        ("N:bess=2MVA/4000kWh", Addition("N:bess=2MVA/4000kWh", "N", "bess", 2.0, 4.0)),
    ],
)
def test_parse(text, want):
    assert parse_addition(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SUD bess 10MW", "expected PS:technology=RATING[/ENERGY]"),
        ("SUD:tidal=5MW", "unknown technology 'tidal'"),
        ("SUD:bess=10MW", "a battery needs its energy"),
        ("SUD:statcom=15Mvar/3MWh", "an energy is only given for bess"),
        ("SUD:statcom=15Mw", "unit 'Mw'"),  # units are case-insensitive: this is read as MW
        ("SUD:pv=0MW", "the rating must be a finite number > 0"),
        ("SUD:bess=1MW/2GWh", "energy unit 'GWh'"),
    ],
)
def test_parse_errors(text, message):
    if text == "SUD:statcom=15Mw":
        assert parse_addition(text).capacity_mw == 15.0
        return
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_addition(text)


def test_a_what_if_scenario_beside_the_last(make_study, tmp_path):
    """An idle 4 MW / 8 MWh battery and a 6 Mvar STATCOM at PS S (no DER there): the what-if
    is 2030 plus them, figures +3.8 (0.95 x 4 MWh) / +4 MW and +10 Mvar each way at S in
    every hour, every other PS and scenario as in 2030; the map and report stay on 2030."""
    study = make_study()
    out = tmp_path / "run"
    run = run_study(
        study, out, workers=1, figures="none", webmap="offline",
        add=["S:bess=4MW/8MWh", "S:statcom=6Mvar"],
    )  # fmt: skip
    name = "2030+S:bess=4MW/8MWh+S:statcom=6Mvar"
    assert run.scenarios == ["as-is", "2030", name]
    assert run.manifest["what_if"] == {
        "scenario": name,
        "base": "2030",
        "additions": ["S:bess=4MW/8MWh", "S:statcom=6Mvar"],
    }
    h = run.hourly
    base = h[h["scenario"] == "2030"].reset_index(drop=True)
    what = h[h["scenario"] == name].reset_index(drop=True)
    gain = {"p_up_mw": 3.8, "p_down_mw": 4.0, "q_up_mvar": 10.0, "q_down_mvar": 10.0}
    at_s = (base["ps_id"] == "S").to_numpy()
    for fig, delta in gain.items():
        assert_allclose(what.loc[at_s, fig] - base.loc[at_s, fig], delta, atol=1e-9)
        assert (what.loc[~at_s, fig].to_numpy() == base.loc[~at_s, fig].to_numpy()).all()
    screening = run.screening
    assert set(screening["scenario"]) == {"as-is", "2030", name}
    loaded = Run.load(out)
    assert loaded.default_scenario == "2030"
    assert choose_scenario(loaded.scenarios, None, loaded.default_scenario) == "2030"
    assert choose_scenario(loaded.scenarios, name, loaded.default_scenario) == name


def test_the_study_file_entry_is_the_same(make_study, tmp_path):
    cli = run_study(make_study(folder=tmp_path / "a"), workers=1, add=["S:statcom=6Mvar"])
    toml = make_study(
        folder=tmp_path / "b",
        toml=lambda t: t.replace(
            'names = ["as-is", "2030"]', 'names = ["as-is", "2030"]\nwhat_if = ["S:statcom=6Mvar"]'
        ),
    )
    filed = run_study(toml, workers=1)
    assert filed.scenarios == cli.scenarios
    assert (filed.hourly["q_up_mvar"].to_numpy() == cli.hourly["q_up_mvar"].to_numpy()).all()


def test_errors_name_the_option(make_study, tmp_path):
    study = make_study()
    with pytest.raises(AtlasInputError, match=r"--add: 'XX:statcom=5Mvar': unknown ps_id 'XX'"):
        run_study(study, workers=1, add=["XX:statcom=5Mvar"])
    result = CliRunner().invoke(
        main, ["run", "--config", str(study), "--out", str(tmp_path / "o"), "--add", "S:bess=1MW"]
    )
    assert result.exit_code == 2
    assert "--add: 'S:bess=1MW': a battery needs its energy" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_what_if_battery_its_schedule_would_empty(make_study):
    """The study's schedule (full discharge every hour) empties the added 1 h battery in
    its first hour: refused before anything is computed, naming the PS and the what-if."""

    stamps = pd.date_range("2030-01-01", periods=8760, freq="h", tz="UTC")
    sched = "time,pu\n" + "".join(f"{t},1\n" for t in stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    study = make_study(
        toml=lambda t: t + '\n[profiles.bess]\nsource = "file"\nfile = "sched.csv"\n',
        extra={"sched.csv": sched},
    )
    with pytest.raises(AtlasInputError) as info:
        run_study(study, workers=1, add=["S:bess=2MW/2MWh"])
    message = str(info.value)
    assert "sched.csv: ps_id 'S', scenario '2030+S:bess=2MW/2MWh'" in message
    assert "below 0 (empty)" in message
