"""Arrow's fast paths of the CSV readers give what pandas gives, or step aside.

``read_csv_table(path, [], dtype=str, keep_default_na=False)`` reads a file with Arrow
when it can and with pandas otherwise; ``float_values`` casts text with Arrow when it can
and with ``pandas.to_numeric`` otherwise. Here both are compared with pandas on random
files and cells (hypothesis) and on the cases that send a file back to pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atlas._compat import PANDAS_3
from atlas.errors import AtlasInputError
from atlas.inputs.checks import _read_text_csv_arrow, float_values, read_csv_table


def pandas_text(path) -> pd.DataFrame:
    """What the readers did before the fast path: pandas, every cell as text."""
    df = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    return df


# cells made of the characters that matter to a CSV parser, and a few that do not
ODD_CELL = st.text(alphabet=[*"ab0 ,\"\t\n\r'é;.-", "\ufeff", "x"], max_size=6)
PLAIN_CELL = ODD_CELL.map(lambda c: c.lstrip(" \t").replace("\r", ""))
CELL = st.one_of(PLAIN_CELL, PLAIN_CELL, PLAIN_CELL, ODD_CELL)
NAME = st.one_of(
    st.text(alphabet=list("abcd"), min_size=1, max_size=3),
    st.text(alphabet=list("abc _"), max_size=4),
)


def quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


@st.composite
def csv_files(draw) -> bytes:
    """Mostly well-formed CSV files (quoted cells where needed), sometimes broken."""
    n_cols = draw(st.integers(1, 4))
    header = [draw(NAME) for _ in range(n_cols)]
    rows = []
    for _ in range(draw(st.integers(0, 5) | st.integers(1, 3))):
        width = n_cols if draw(st.integers(0, 19)) else draw(st.integers(1, 5))
        cells = [draw(CELL) for _ in range(width)]
        rows.append(
            [
                quoted(c) if draw(st.booleans()) or any(x in c for x in ',"\n\r') else c
                for c in cells
            ]
        )
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r\n", "\r"]))
    text = newline.join(",".join(r) for r in [header, *rows])
    if draw(st.booleans()):
        text += newline
    bom = "\ufeff" if draw(st.integers(0, 4)) == 0 else ""
    return (bom + text).encode("utf-8")


def check_same(path) -> bool:
    """The fast frame equals pandas' (True), or the fast path stepped aside (False)."""
    fast = _read_text_csv_arrow(path)
    if fast is None:
        return False
    fast.columns = [str(c).strip() for c in fast.columns]
    slow = pandas_text(path)  # must read: Arrow did
    pd.testing.assert_frame_equal(fast, slow)
    return True


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=csv_files())
def test_fast_csv_equals_pandas(tmp_path, data):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    check_same(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_fast_csv_any_bytes(tmp_path, data):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    check_same(path)


def test_fast_path_reads_plain_registers(tmp_path):
    """A plain register (ids that look like numbers, empty cells, quoted commas, CRLF and a
    BOM) is read by Arrow, and equals pandas' frame."""
    path = tmp_path / "ders.csv"
    path.write_bytes(
        "\ufeffder_id,name,capacity_kw,lat,lon\r\n"
        '007,"Rossi, Via Roma",4.5,45.46,9.19\r\n'
        "1e3,,NA,45.47,9.2\r\n"
        'null,"say ""hi""",nan,45.48,9.21\r\n'.encode()
    )
    assert check_same(path)
    df = read_csv_table(path, [], dtype=str, keep_default_na=False)
    assert list(df["der_id"]) == ["007", "1e3", "null"]
    assert list(df["capacity_kw"]) == ["4.5", "NA", "nan"]
    assert list(df["name"]) == ["Rossi, Via Roma", "", 'say "hi"']


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a,b\n 1,2\n", "a cell starting with a space"),
        ("a,b\n1\n", "a short row"),
        ("a,b\n1,2,3\n", "a long row"),
        ("a,a\n1,2\n", "duplicate names"),
        ("a,\n1,2\n", "an empty name"),
        ("a,b\n", "no data row"),
        ("", "an empty file"),
        ("a,b\r1,2\r", "lone CR line ends"),
    ],
)
def test_fast_path_steps_aside(tmp_path, text, why):
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert _read_text_csv_arrow(path) is None, why


def test_fast_path_steps_aside_for_latin1_and_compressed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\ncaffè,1\n".encode("latin-1"))
    assert _read_text_csv_arrow(path) is None
    with pytest.raises(AtlasInputError, match=r"t\.csv:2: byte 0xe8 is not UTF-8 text"):
        read_csv_table(path, [], dtype=str, keep_default_na=False)
    gz = tmp_path / "t.csv.gz"
    pd.DataFrame({"a": ["1"]}).to_csv(gz, index=False)
    assert _read_text_csv_arrow(gz) is None
    assert list(read_csv_table(gz, ["a"], dtype=str, keep_default_na=False)["a"]) == ["1"]


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.7f}"),
    st.integers(-(10**20), 10**20).map(str),
    st.text(alphabet=list("0123456789.eE+-_ xinfaNA,"), max_size=8),
    st.sampled_from(["-0", "-0.0", "+0", "0001", "1.", ".5", "1e400", "1e-400", "NA", ""]),
)


@settings(max_examples=500, deadline=None)
@given(cells=st.lists(NUMBER_TEXT, min_size=1, max_size=6))
def test_float_values_equal_to_numeric(cells):
    column = pd.Series(cells, dtype="str")
    expected = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if not PANDAS_3:  # pandas 2's parse is off by one ulp in some cells: Python's is exact
        expected = np.array(
            [
                float(c) if np.isfinite(e) and e != 0 else e
                for c, e in zip(cells, expected, strict=True)
            ]
        )
    got = float_values(column)
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_float_values_of_numbers_and_objects():
    np.testing.assert_array_equal(float_values(pd.Series([1, 2.5])), [1.0, 2.5])
    np.testing.assert_array_equal(float_values(pd.Series(["1", None], dtype=object)), [1.0, np.nan])
