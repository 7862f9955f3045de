"""The study file: schema, validation, resolved paths and the place of every error."""

from pathlib import Path

import pytest

from atlas.errors import AtlasInputError
from atlas.inputs.study import FileProfile, load_study


def test_valid_study_loads(make_study, tiny):
    path = make_study()
    study = load_study(path)
    assert study.name == "tiny"
    assert study.year == 2030
    assert study.timezone == "Europe/Rome"
    assert study.scenarios == ["as-is", "2030"]
    assert study.path == path.resolve()
    files = study.input_files()
    assert set(files) == {
        "inputs.substations",
        "inputs.capacity",
        "inputs.load",
        *(f"profiles.{t}.file" for t in ("pv", "chp", "hydro", "biomass", "ev")),
    }
    assert files["inputs.load"] == (path.parent / "load.csv").resolve()
    assert isinstance(study.model.profiles.pv, FileProfile)
    assert study.model.ev.v2g_locations == ["public", "work"]
    assert study.model.inputs.load_year is None


def test_scenario_names_that_look_like_numbers_must_be_quoted(make_study, tiny):
    path = make_study(
        toml=lambda t: t.replace('names = ["as-is", "2030"]', 'names = ["as-is", 2030]')
    )
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    msg = err.value.one_line()
    assert "scenarios.names" in msg
    assert "quote" in msg and '"2030"' in msg
    assert err.value.line == tiny.line_of(path.read_text(), "names =")


def test_quoted_scenario_names_are_strings(make_study):
    study = load_study(make_study())
    assert study.scenarios == ["as-is", "2030"]
    assert all(type(s) is str for s in study.scenarios)


def test_relative_paths_resolve_against_the_study_folder(make_study, tmp_path, monkeypatch):
    path = make_study()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "load.csv").write_text("not the study's\n")  # a decoy in the cwd
    monkeypatch.chdir(elsewhere)
    study = load_study(Path("..") / path.relative_to(tmp_path))  # relative to the cwd
    folder = path.parent.resolve()
    for key, file in study.input_files().items():
        assert file.is_absolute(), key
        assert file.parent == folder, key
    assert study.input_files()["inputs.load"] == folder / "load.csv"
    assert study.resolve(Path("sub/x.csv")) == folder / "sub" / "x.csv"


def test_absolute_input_paths_are_kept(make_study, tmp_path):
    other = tmp_path / "data"
    other.mkdir()
    make_study(folder=other)  # a second copy whose load.csv the first study points at
    load = (other / "load.csv").resolve()
    path = make_study(toml=lambda t: t.replace('"load.csv"', f'"{load.as_posix()}"'))
    assert load_study(path).input_files()["inputs.load"] == load


def test_missing_study_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    assert str(path) in err.value.one_line()
    assert "not found" in err.value.one_line()


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


# (edit of the study file, dotted key in the message, text of the line the error must point at)
STUDY_ERRORS = [
    pytest.param(_replace("year = 2030\n", ""), "study.year", "[study]", id="missing-key"),
    pytest.param(
        _replace('load = "load.csv"\n', ""), "inputs.load", "[inputs]", id="missing-inputs.load"
    ),
    pytest.param(
        _replace("year = 2030\n", "year = 2030\nyaer = 2031\n"),
        "study.yaer",
        "yaer = 2031",
        id="unknown-key",
    ),
    pytest.param(
        _replace("[scenarios]", "[scenario]\nnames = []\n\n[scenarios]"),
        "scenario",
        "[scenario]",
        id="unknown-table",
    ),
    pytest.param(
        _replace("year = 2030", 'year = "twenty-thirty"'),
        "study.year",
        'year = "twenty-thirty"',
        id="wrong-type-year",
    ),
    pytest.param(
        _replace("year = 2030", "year = 2030.5"), "study.year", "year = 2030.5", id="float-year"
    ),
    pytest.param(
        _replace("year = 2030", "year = 1800"), "study.year", "year = 1800", id="year-range"
    ),
    pytest.param(
        _replace('load = "load.csv"', "load = 5"), "inputs.load", "load = 5", id="wrong-type-path"
    ),
    pytest.param(
        _replace('names = ["as-is", "2030"]', 'names = "as-is"'),
        "scenarios.names",
        'names = "as-is"',
        id="wrong-type-list",
    ),
    pytest.param(
        _replace('names = ["as-is", "2030"]', 'names = ["as-is", "as-is"]'),
        "scenarios.names",
        "names =",
        id="duplicate-scenario",
    ),
    pytest.param(
        _replace('timezone = "Europe/Rome"', 'timezone = "Europe/Milano"'),
        "study.timezone",
        'timezone = "Europe/Milano"',
        id="unknown-timezone",
    ),
    pytest.param(
        _replace('load = "load.csv"', 'load = "lost.csv"'),
        "inputs.load",
        'load = "lost.csv"',
        id="missing-load-file",
    ),
    pytest.param(
        _replace('file = "hydro.csv"', 'file = "hydra.csv"'),
        "profiles.hydro.file",
        'file = "hydra.csv"',
        id="missing-profile-file",
    ),
    pytest.param(
        _replace('file = "chp.csv"\n', ""), "profiles.chp.file", "[profiles.chp]", id="no-file-key"
    ),
    pytest.param(
        _replace('capacity = "capacity.csv"\n', ""),
        "inputs",
        "[inputs]",
        id="no-capacity-source",
    ),
    pytest.param(
        _replace('[profiles.ev]\nsource = "file"', '[profiles.ev]\nsource = "file"\nfiel = "x"'),
        "profiles.ev.fiel",
        'fiel = "x"',
        id="unknown-profile-key",
    ),
    pytest.param(
        lambda t: t + "\n[capability.pv.MV]\npf = 0.9\n",
        "capability.pv.MV.pf",
        "pf = 0.9",
        id="unknown-capability-key",
    ),
]


@pytest.mark.parametrize(("edit", "key", "line_text"), STUDY_ERRORS)
def test_study_error_names_file_key_and_line(make_study, tiny, edit, key, line_text):
    path = make_study(toml=edit)
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    exc = err.value
    msg = exc.one_line()
    assert "\n" not in msg
    assert exc.path == str(path)
    assert exc.where == key
    want = tiny.line_of(path.read_text(), line_text)
    assert exc.line == want
    assert msg.startswith(f"{path}:{want}: {key}: ")


@pytest.mark.parametrize(
    ("tech", "bad"), [("chp", "fiel"), ("pv", "csv"), ("biomass", "polynomial")]
)
def test_unknown_profile_source_is_named(make_study, tech, bad):
    path = make_study(
        toml=_replace(f'[profiles.{tech}]\nsource = "file"', f'[profiles.{tech}]\nsource = "{bad}"')
    )
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    msg = err.value.one_line()
    assert str(path) in msg
    assert f"profiles.{tech}" in msg
    assert "unknown source" in msg and repr(bad) in msg
    assert "'file'" in msg  # the expected sources are listed


def test_unknown_profile_source_points_at_the_source_key(make_study, tiny):
    path = make_study(
        toml=_replace('source = "file"\nfile = "chp.csv"', 'source = "fiel"\nfile = "chp.csv"')
    )
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    exc = err.value
    assert exc.where == "profiles.chp.source"
    assert exc.line == tiny.line_of(path.read_text(), 'source = "fiel"')
    assert "unknown source 'fiel'" in exc.one_line()
    assert "{" not in exc.problem  # the value, not the table


@pytest.mark.parametrize(
    ("edit", "line_text"),
    [
        (_replace("year = 2030", "year 2030"), "year 2030"),
        (_replace("[inputs]", "[inputs"), "[inputs"),
        (_replace('name = "tiny"', 'name = "tiny'), 'name = "tiny'),
        (_replace("[scenarios]", "[study]"), "names ="),  # study defined twice
    ],
    ids=["no-equals", "open-header", "open-string", "duplicate-table"],
)
def test_invalid_toml_gives_the_line(make_study, tiny, edit, line_text):
    path = make_study(toml=edit)
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    assert str(path) in err.value.one_line()
    assert "not valid TOML" in err.value.one_line()
    text = path.read_text()
    if line_text == "names =":  # tomllib reports the redefined table's line
        want = [n for n, ln in enumerate(text.splitlines(), 1) if ln == "[study]"][1]
    else:
        want = tiny.line_of(text, line_text)
    assert err.value.line == want
    assert err.value.one_line().startswith(f"{path}:{want}: ")


def test_error_message_form():
    exc = AtlasInputError("a/b.csv", "row 3, ps_id", "bad\n  value", line=4)
    assert exc.one_line() == "a/b.csv:4: row 3, ps_id: bad value"
    assert str(exc) == exc.one_line()
    assert isinstance(exc, ValueError)
    assert AtlasInputError(None, "", "nothing").one_line() == "<study>: nothing"


def test_study_loaded_by_relative_path_survives_a_change_of_cwd(make_study, tmp_path, monkeypatch):
    from atlas.pipeline import load_inputs

    path = make_study()
    monkeypatch.chdir(path.parent)
    study = load_study("study.toml")
    monkeypatch.chdir(tmp_path)
    inputs = load_inputs(study)
    assert inputs.ps_ids == ["001", "N", "S"]
    assert study.input_files()["inputs.capacity"] == path.parent.resolve() / "capacity.csv"


def test_cross_key_error_points_at_its_key(make_study, tiny):
    shapes = (
        '[profiles.ev]\nsource = "shapes"\nenergy_mwh = { "2040" = 100.0 }\n'
        'allocate = "table"\nweights = "weights.csv"\n'
    )
    path = make_study(
        toml=_replace('[profiles.ev]\nsource = "file"\nfile = "ev.csv"\n', shapes),
        extra={"weights.csv": "ps_id,weight\n001,1\n"},
    )
    with pytest.raises(AtlasInputError) as err:
        load_study(path)
    assert "'2040' is not in scenarios.names" in err.value.one_line()
    assert err.value.where == "profiles.ev.energy_mwh"
    assert err.value.line == tiny.line_of(path.read_text(), "energy_mwh =")
