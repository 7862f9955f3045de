"""A corpus of bad inputs: each case is the tiny study with one defect, and the exit code and
message ``atlas validate`` must give (the file, the row or key, what is expected).

Each case names the files it changes (a new text, bytes, or a function of the default text)
and what must come out. Cases are added here as the input readers learn to name a defect
that used to end in a traceback or pass silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import STUDY_TOML

from atlas.cli import main

# the tiny study's EV source swapped for shapes allocated by a weight table
EV_FILE = '[profiles.ev]\nsource = "file"\nfile = "ev.csv"\n'
EV_SHAPES = (
    '[profiles.ev]\nsource = "shapes"\nenergy_mwh = { "2030" = 100.0 }\n'
    'allocate = "table"\nweights = "weights.csv"\n'
)


def ev_by_weights(text: str) -> str:
    assert EV_FILE in text
    return text.replace(EV_FILE, EV_SHAPES)


@dataclass
class Case:
    """One defect: the study's changed files, and the exit code and message it gives."""

    id: str
    code: int
    message: list[str]
    toml: object = None  # None: unchanged; str: new text; callable: of the default text
    files: dict[str, str | bytes] = field(default_factory=dict)  # extra or replaced files


CASES = [
    Case(
        "study-latin1",
        2,
        ["study.toml:2: ", "byte 0xe9 is not UTF-8 text, expected a UTF-8 TOML file"],
        files={"study.toml": STUDY_TOML.replace("\n", "\n# caff\xe9\n", 1).encode("latin-1")},
    ),
    Case("study-bom", 0, ["ok: study"], toml=lambda t: "\ufeff" + t),
    Case(
        "ev-weights-empty-file",
        2,
        ["weights.csv: ", "cannot be read as CSV"],
        toml=ev_by_weights,
        files={"weights.csv": ""},
    ),
    Case(
        "ev-weights-header-only",
        2,
        ["weights.csv: holds no rows, expected a row (ps_id, weight) per PS with a weight"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n"},
    ),
    Case(
        "ev-weights-text-value",
        2,
        ["weights.csv:3: row 2, column weight: got 'abc', expected a finite number >= 0"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,1\nN,abc\n"},
    ),
    Case(
        "ev-weights-negative",
        2,
        ["weights.csv:2: row 1, column weight: got '-1', expected a finite number >= 0"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,-1\n"},
    ),
    Case(
        "ev-weights-unknown-id-that-looks-like-a-number",
        2,
        ["weights.csv:3: row 2, ps_id: '1' is not in the substations file"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,1\n1,2\n"},
    ),
    Case(
        "ev-weights-id-NA-is-text",
        2,
        ["weights.csv:2: row 1, ps_id: 'NA' is not in the substations file"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nNA,1\n"},
    ),
    Case(
        "ev-weights-duplicate-id",
        2,
        ["weights.csv:3: rows 1 and 2, ps_id: duplicate 'N', expected each ps_id once"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nN,1\nN,2\n"},
    ),
    Case(
        "ev-weights-missing-column",
        2,
        ["weights.csv:1: header: missing column 'weight'"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,w\nN,1\n"},
    ),
    Case(
        "ev-weights-latin1",
        2,
        ["weights.csv: ", "cannot be read as CSV"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nN,1\n# caff\xe9\n".encode("latin-1")},
    ),
]

CASES += [
    Case(
        "capacity-without-a-scenario",
        2,
        [
            "capacity.csv: scenario: no row for scenario '2030', expected rows for every "
            "scenario of the study ['as-is', '2030']"
        ],
        files={"capacity.csv": "scenario,ps_id,technology,capacity_mw,level\nas-is,N,pv,3,MV\n"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, make_study, tmp_path):
    study = make_study(toml=case.toml) if case.toml is not None else make_study()
    for name, content in case.files.items():
        target = Path(study).parent / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(study)])
    output = result.output  # stdout and stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == case.code, output
    for fragment in case.message:
        assert fragment in output, output
    if case.code == 2:  # one line, no traceback
        assert output.count("\n") == 1 and output.startswith("error: "), output


@pytest.mark.parametrize("code", ["NA", "null", "None", "nan", "007", "1e3"])
def test_ids_and_names_that_look_like_missing_values_or_numbers_stay_text(
    code, make_study, tmp_path
):
    """PS ``N`` renamed to a code pandas would read as a missing value or a number (Napoli's
    province code ``NA``, say), in every table: the run keeps it as text, as its name too."""
    import pandas as pd

    from atlas.pipeline import run_study

    def rename(text: str) -> str:
        lines = text.splitlines(keepends=True)
        out = []
        for line in lines:
            cells = line.rstrip("\n").split(",")
            out.append(",".join(code if c in ("N", "Nord") else c for c in cells) + "\n")
        return "".join(out)

    study = make_study(substations=rename, capacity=rename, load=rename, ev=rename)
    run = run_study(study, out=tmp_path / "out", figures="none", webmap="none")
    assert code in run.screening["ps_id"].tolist()
    screening = pd.read_csv(tmp_path / "out" / "screening.csv", dtype=str, keep_default_na=False)
    row = screening[screening["ps_id"] == code]
    assert set(row["name"]) == {code} and set(row["scenario"]) == {"as-is", "2030"}


HOSTILE = {
    "001": '=HYPERLINK("http://x.example","click")',
    "N": "+cmd|' /C calc'!A0",
    "S": "@SUM(1,2)",
}


def test_spreadsheet_formulas_in_names_are_escaped_in_csv_only(make_study, tmp_path):
    """Names and ids that a spreadsheet would run as formulas get one apostrophe in the run's
    CSV files (numbers untouched); Parquet, the run loaded back and the report keep them
    exactly (escaped as HTML)."""
    import csv
    import io

    import pandas as pd

    from atlas.dataset import read_dataset
    from atlas.runfolder import Run

    def hostile(text: str) -> str:
        df = pd.read_csv(io.StringIO(text), dtype=str)
        df["name"] = df["ps_id"].map(HOSTILE)
        df["ps_id"] = df["ps_id"].replace({"001": "-2+3+cmd|x"})
        return df.to_csv(index=False, lineterminator="\n")

    def rename_id(text: str) -> str:
        return "".join(
            ",".join("-2+3+cmd|x" if c == "001" else c for c in line.split(",")) + "\n"
            for line in text.splitlines()
        )

    study = make_study(substations=hostile, capacity=rename_id, load=rename_id, ev=rename_id)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(study), "--out", str(out), "--format", "csv", "--figures", "none"],
    )
    assert result.exit_code == 0, result.output
    with open(out / "screening.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {r["ps_id"]: r["name"] for r in rows}
    assert names == {
        "'-2+3+cmd|x": "'" + HOSTILE["001"],
        "N": "'" + HOSTILE["N"],
        "S": "'" + HOSTILE["S"],
    }
    text_columns = {"scenario", "ps_id", "name", "direction", "unit"}
    for row in rows:  # numbers (a negative one too) are not escaped
        for key, cell in row.items():
            if key not in text_columns and cell:
                assert not cell.startswith("'"), (key, cell)
    with open(out / "flexibility_hourly.csv", newline="") as fh:
        ids = {r["ps_id"] for r in csv.DictReader(fh)}
    assert ids == {"'-2+3+cmd|x", "N", "S"}
    hourly = read_dataset(out / "flexibility_hourly.parquet", columns=["ps_id"])
    assert set(hourly["ps_id"]) == {"-2+3+cmd|x", "N", "S"}
    run = Run.load(out)
    assert dict(zip(run.screening["ps_id"], run.screening["name"], strict=True)) == {
        "-2+3+cmd|x": HOSTILE["001"],
        "N": HOSTILE["N"],
        "S": HOSTILE["S"],
    }
    report = (out / "report.html").read_text()
    assert "=HYPERLINK(&#34;http" in report or "=HYPERLINK(&quot;http" in report
    assert '=HYPERLINK("http' not in report
