"""Property tests of the study-file loader: whatever the file holds, ``load_study`` gives a
Study or the atlas's own error (:class:`AtlasInputError`), never another exception.

Documents are generated from the schema's own sections and keys (so that most get past the
parser and reach the validators) mixed with unknown ones, with values of every TOML type.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.errors import AtlasInputError
from atlas.inputs.study import Study, StudyModel, load_study

#: The schema's sections and their keys (nested tables such as ``profiles.pv`` too).
SECTIONS: dict[str, list[str]] = {
    name: list(getattr(field.annotation, "model_fields", {}) or ["x"])
    for name, field in StudyModel.model_fields.items()
    if name not in ("growth", "capability")
}
SECTIONS |= {
    f"profiles.{t}": ["source", "file", "energy_mwh", "allocate", "weights", "tilt_deg",
                      "coefficients", "turbidity", "orientations"]
    for t in ("pv", "chp", "hydro", "biomass", "ev")
}  # fmt: skip
SECTIONS["capability.pv.MV"] = ["active_range", "pf_inject", "pf_absorb", "p_min_pu"]
SECTIONS["checks"] = ["der_max_mw", "accept", "ps_capacity_max_ratio", "load_max_ratio"]


def _toml(value) -> str:
    """A value as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"


TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
    max_size=8,  # TOML-legal text
)
SCALARS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.booleans()
    | TEXT
    | st.sampled_from(["load.csv", "substations.csv", "2030", "as-is", "tmy", "file", "MV",
                       "Europe/Rome", "charging_points", "table", "", ".", "/", "../x"])
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


#: A valid minimal study, the start of every generated document.
BASE: dict[str, dict[str, str]] = {
    "study": {"name": '"x"', "year": "2030"},
    "inputs": {"substations": '"substations.csv"', "capacity": '"load.csv"', "load": '"load.csv"'},
    "scenarios": {"names": '["as-is", "2030"]'},
}


@st.composite
def documents(draw) -> str:
    """The minimal study with some of its keys dropped or changed and some sections (known
    or not) added, with any values: most documents reach the schema's validators."""
    doc = {name: dict(keys) for name, keys in BASE.items()}
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(sorted(SECTIONS)) | st.sampled_from(["wind", "x.y"]))
        table = doc.setdefault(name, {})
        key = draw(st.sampled_from(SECTIONS.get(name, ["k"])) | st.just("unknown"))
        if table.get(key) is not None and draw(st.booleans()):
            del table[key]
        else:
            table[key] = _toml(draw(VALUES))
    return (
        "\n\n".join(
            "\n".join([f"[{name}]", *(f"{k} = {v}" for k, v in table.items())])
            for name, table in doc.items()
        )
        + "\n"
    )


def _load(content: str | bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.toml"
        for name in ("substations.csv", "load.csv"):  # files some paths may point at
            (Path(tmp) / name).write_text("x\n")
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        else:
            path.write_bytes(content)
        try:
            return load_study(path)
        except AtlasInputError as exc:
            assert exc.one_line() and "\n" not in exc.one_line()
            return exc


@settings(max_examples=300, deadline=None)
@given(documents())
def test_any_document_gives_a_study_or_the_atlas_error(text):
    assert isinstance(_load(text), Study | AtlasInputError)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_study_or_the_atlas_error(data):
    assert isinstance(_load(data), Study | AtlasInputError)


def test_a_minimal_generated_document_loads():
    """The generator's output format is TOML the loader accepts (the test can pass)."""
    text = "\n".join(
        f"[{n}]\n" + "\n".join(f"{k} = {v}" for k, v in t.items()) for n, t in BASE.items()
    )
    assert isinstance(_load(text), Study)
