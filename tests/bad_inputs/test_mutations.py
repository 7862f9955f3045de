"""Hypothesis-generated mutations of the Milan demo's inputs, one file at a time.

Each example mutates one input of the demo (its bytes, a cell, rows, columns, or a key of
the study file) and runs ``atlas validate`` on it. Whatever the mutation, the command must
end with exit 0, or with the atlas's one-line error (exit 2) naming the mutated file, never
with a traceback. One test per input file, so that pytest-xdist spreads them over the cores;
:data:`EXAMPLES`, 500 in all.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atlas.cli import main
from atlas.demo import demo_study_path

DEMO = demo_study_path().parent
FILES = ["study.toml", "substations.csv", "boundary.geojson", "ders.csv.gz", "load.csv.gz"]

#: Examples per input file, 500 mutations in all. The study file's cost little (most end
#: at the study file); each of the others reads the whole demo (about 0.7 s).
EXAMPLES = {
    "study.toml": 260,
    "substations.csv": 60,
    "boundary.geojson": 60,
    "ders.csv.gz": 60,
    "load.csv.gz": 60,
}

#: Cell values a mutation writes: empty, missing-value words, numbers of every kind,
#: hostile and odd text.
CELLS = [
    "", " ", "NA", "null", "None", "nan", "NaN", "-1", "0", "1e9", "-1e-300", "inf", "-inf",
    "abc", "007", "1e3", "1,5", "=HYPERLINK(\"x\")", "+cmd|' /C calc'!A0", "\x00", "\x1b[31m",
    "é", "\u202e", "x" * 300, "2030-13-45T25:61:00Z", "true", "MV", "LV", "pv", "ev", "SUD",
    "2030-01-01T00:00:00", "2030-03-31T02:00:00+02:00", "45.46", "9.19", "-91", "181",
]  # fmt: skip


def _text(name: str) -> str:
    raw = (DEMO / name).read_bytes()
    return gzip.decompress(raw).decode() if name.endswith(".gz") else raw.decode()


TEXTS = {name: _text(name) for name in FILES}


def _encode(name: str, text: str | bytes) -> bytes:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # the fastest level: a mutated 10 MB load is compressed once per example
    return gzip.compress(data, compresslevel=1, mtime=0) if name.endswith(".gz") else data


# --- mutations -------------------------------------------------------------------------------


@st.composite
def byte_edits(draw, text: str) -> bytes:
    """A few bytes of the (decompressed) text replaced, inserted or deleted."""
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if kind == "replace" and data:
            data[at] = byte
        elif kind == "insert":
            data.insert(at, byte)
        elif data:
            del data[at]
    return bytes(data)


def _cell(value: str) -> str:
    """A CSV cell as written (quoted where it must be)."""
    if any(c in value for c in ',"\n\r') or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


#: The demo's CSVs as lines (none of their cells is quoted: a line splits at its commas).
LINES = {name: TEXTS[name].splitlines() for name in FILES if ".csv" in name}


@st.composite
def table_edits(draw, name: str) -> str:
    """A cell, a row or a column of one of the demo's CSVs changed."""
    lines = list(LINES[name])
    n_rows, n_cols = len(lines), len(lines[0].split(","))
    kind = draw(
        st.sampled_from(
            ["cell", "cell", "cell", "cell", "drop_row", "dup_row", "swap_rows", "drop_col",
             "rename_col", "dup_col", "add_col", "header_only", "short_row"]
        )
    )  # fmt: skip
    row = draw(st.integers(1, n_rows - 1))
    col = draw(st.integers(0, n_cols - 1))

    def per_line(edit) -> list[str]:
        return [",".join(edit(line.split(","))) for line in lines]

    if kind == "cell":
        cells = lines[row].split(",")
        cells[col] = _cell(draw(st.sampled_from(CELLS) | st.text(max_size=12)))
        lines[row] = ",".join(cells)
    elif kind == "drop_row":
        del lines[row]
    elif kind == "dup_row":
        lines.insert(row, lines[row])
    elif kind == "swap_rows":
        other = draw(st.integers(1, n_rows - 1))
        lines[row], lines[other] = lines[other], lines[row]
    elif kind == "drop_col":
        lines = per_line(lambda c: c[:col] + c[col + 1 :])
    elif kind == "rename_col":
        header = lines[0].split(",")
        header[col] = _cell(
            draw(st.sampled_from(["", "capacity_mw", "P_MW", " ps_id ", "x", header[col].upper()]))
        )
        lines[0] = ",".join(header)
    elif kind == "dup_col":
        lines = per_line(lambda c: [*c, c[col]])
    elif kind == "add_col":
        value = _cell(draw(st.sampled_from(CELLS)))
        lines = [lines[0] + ",extra", lines[1] + "," + value] + [ln + "," for ln in lines[2:]]
    elif kind == "header_only":
        lines = lines[:1]
    else:  # a row with a cell too few
        lines[row] = lines[row].rsplit(",", 1)[0]
    return "\n".join(lines) + "\n"


@st.composite
def toml_edits(draw, text: str) -> str:
    """A key of the study file removed, renamed, retyped or added."""
    doc = tomllib.loads(text)
    keys = [(s, k) for s, table in doc.items() if isinstance(table, dict) for k in table]
    section, key = draw(st.sampled_from(keys))
    kind = draw(st.sampled_from(["drop", "rename", "retype", "add", "drop_section"]))
    lines = text.splitlines(keepends=True)
    value = draw(
        st.sampled_from(['""', "0", "-1", "1e400", "true", "[]", '"x"', '"../../etc/passwd"', "{}",
                         '"2030"', "2200", '"NA"', '["as-is"]'])
    )  # fmt: skip
    header = f"[{section}]"
    if kind == "add":
        return (
            text + f"\n[{section}]\n"
            if section not in doc
            else text.replace(header + "\n", f"{header}\nunknown_key = {value}\n", 1)
        )
    if kind == "drop_section":
        return text.replace(header, f"[{section}_gone]", 1)
    in_section, out = False, []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped == header
        name = stripped.split("=", 1)[0].strip()
        if in_section and name == key and "=" in stripped:
            if kind == "drop":
                continue
            if kind == "rename":
                line = line.replace(key, key + "s", 1)
            else:
                line = f"{key} = {value}\n"
        out.append(line)
    return "".join(out)


@st.composite
def geojson_edits(draw, text: str) -> str:
    """The boundary's CRS, a coordinate, its geometry or its features changed."""
    doc = json.loads(text)
    kind = draw(st.sampled_from(["crs", "coordinate", "null_geometry", "no_features", "type"]))
    feature = doc["features"][0]
    if kind == "crs":
        doc["crs"] = {"type": "name", "properties": {"name": draw(st.sampled_from(
            ["urn:ogc:def:crs:EPSG::32632", "EPSG:3857", "nonsense", "urn:ogc:def:crs:EPSG::4326"]
        ))}}  # fmt: skip
    elif kind == "coordinate":
        ring = feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "MultiPolygon":
            ring = ring[0]
        i = draw(st.integers(0, len(ring) - 1))
        ring[i][draw(st.integers(0, 1))] = draw(st.sampled_from([1e9, -200.0, 0.0, 45.5, 9.2]))
    elif kind == "null_geometry":
        feature["geometry"] = None
    elif kind == "no_features":
        doc["features"] = []
    else:
        feature["geometry"]["type"] = draw(st.sampled_from(["Point", "LineString", "Polygonn"]))
    return json.dumps(doc)


def mutations(name: str):
    text = TEXTS[name]
    if name == "study.toml":
        structured = toml_edits(text)
    elif name.endswith(".geojson"):
        structured = geojson_edits(text)
    else:
        structured = table_edits(name)
    return st.one_of(byte_edits(text), structured, structured)


# --- the check -------------------------------------------------------------------------------


def validate_mutated(name: str, content: str | bytes) -> int:
    """Run ``atlas validate`` on the demo with ``name`` replaced; check; return the exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        folder.mkdir()
        for other in FILES:
            if other == "study.toml":  # a copy: the study's paths are relative to its folder
                shutil.copy(DEMO / other, folder / other)
            elif other != name:
                (folder / other).symlink_to(DEMO / other)
        (folder / name).write_bytes(_encode(name, content))
        result = CliRunner().invoke(main, ["validate", str(folder / "study.toml")])
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{output}"
    )
    assert result.exit_code in (0, 2), output
    if result.exit_code == 2:
        assert output.startswith("error: ") and output.count("\n") == 1, output
        assert f"{folder}/{name}" in output, output
    return result.exit_code


@pytest.mark.parametrize("name", FILES)
def test_mutations_of_the_demo_end_in_ok_or_one_line_naming_the_file(name):
    codes: list[int] = []

    @settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,  # the same examples on every run: a red CI is reproducible
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(content=mutations(name))
    def check(content):
        codes.append(validate_mutated(name, content))

    check()
    assert len(codes) >= EXAMPLES[name]  # as many mutations as promised ran
    assert 2 in codes  # (and the mutations do find errors)


def test_the_unmutated_demo_validates():
    for name in FILES:  # rewritten as the mutations are (gzip again): still the demo
        assert validate_mutated(name, TEXTS[name]) == 0
