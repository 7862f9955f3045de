"""The shared checks of the input readers: which record is reported, and how."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from atlas.errors import AtlasInputError
from atlas.inputs.checks import (
    code_column,
    csv_line,
    first_duplicate,
    id_column,
    numeric_column,
    raise_first_bad,
    read_csv_table,
    record_label,
    shown,
)

#: How a message shows a CSV cell read as missing (empty, NA, n/a, null...).
MISSING = "empty or a missing-value word (NA, n/a, null...)"


def _raised(fn, *args, **kwargs) -> AtlasInputError:
    with pytest.raises(AtlasInputError) as err:
        fn(*args, **kwargs)
    return err.value


def _csv(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- naming records --------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "line"), [(0, 2), (1, 3), (99, 101)])
def test_csv_line_is_under_the_header(row, line):
    assert csv_line(row) == line
    assert csv_line(np.int64(row)) == line


@pytest.mark.parametrize(
    ("rows", "is_csv", "label", "line"),
    [
        (0, True, "row 1", 2),
        (np.int64(4), True, "row 5", 6),
        (4, False, "feature 5", None),
        ([2, 6], True, "rows 3 and 7", 8),  # the line of the later row
        ([2, 6], False, "features 3 and 7", None),
        ([0, 1, 2], True, "rows 1, 2 and 3", 4),
    ],
)
def test_record_label(rows, is_csv, label, line):
    assert record_label(rows, is_csv) == (label, line)


# ---- the first bad record --------------------------------------------------------------------


def test_nothing_bad_raises_nothing():
    assert raise_first_bad(np.zeros(3, dtype=bool), "t.csv", "x", "never") is None
    assert raise_first_bad(np.zeros(0, dtype=bool), "t.csv", "x", "never") is None


def test_the_first_bad_row_is_reported_with_its_line():
    exc = _raised(raise_first_bad, [False, False, True, True], "t.csv", "column p_mw", "bad")
    assert (exc.where, exc.line, exc.problem) == ("row 3, column p_mw", 4, "bad")
    assert exc.one_line() == "t.csv:4: row 3, column p_mw: bad"


def test_a_feature_has_no_line_and_no_column():
    exc = _raised(raise_first_bad, np.array([False, True]), "a.gpkg", None, "bad", is_csv=False)
    assert (exc.where, exc.line) == ("feature 2", None)
    assert exc.one_line() == "a.gpkg: feature 2: bad"


def test_the_problem_may_show_the_bad_value():
    values = pd.Series(["a", "b", "zz", "c"])
    exc = _raised(
        raise_first_bad, values.str.len() > 1, "t.csv", "name", lambda i: f"got {values[i]!r}"
    )
    assert exc.one_line() == "t.csv:4: row 3, name: got 'zz'"


def test_the_problem_is_not_built_when_all_is_well():
    def boom(i):
        raise AssertionError("called")

    raise_first_bad(pd.Series([False, False]), "t.csv", "x", boom)


def test_a_missing_mask_value_counts_as_bad():
    mask = pd.array([False, pd.NA, True], dtype="boolean")
    assert _raised(raise_first_bad, mask, "t.csv", "x", "bad").where == "row 2, x"


# ---- duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "pair"),
    [
        ([1, 2, 3], None),
        ([], None),
        ([5, 5], (0, 1)),
        ([3, 1, 2, 1, 3], (1, 3)),  # row 3 repeats row 1 before row 4 repeats row 0
        ([7, 8, 9, 9, 7], (2, 3)),
        (np.array([10, 20, 10, 20], dtype=np.int64), (0, 2)),
        (["PV1", "PV2", "pv1", "PV2"], (1, 3)),  # text compared exactly
        (np.array(["a", None, "b", None], dtype=object), (1, 3)),  # missing equals missing
    ],
)
def test_first_duplicate(key, pair):
    assert first_duplicate(key) == pair


def test_first_duplicate_of_several_columns():
    key = pd.DataFrame({"id": ["A", "A", "B", "A"], "scenario": ["x", "y", "x", "y"]})
    assert first_duplicate(key) == (1, 3)
    assert first_duplicate(key.iloc[:3]) is None


def test_first_duplicate_matches_pandas_on_random_keys():
    rng = np.random.default_rng(0)
    for _ in range(50):
        key = rng.integers(0, 30, size=rng.integers(1, 40))
        dup = pd.Series(key).duplicated().to_numpy()
        got = first_duplicate(key)
        if not dup.any():
            assert got is None
            continue
        repeat = int(np.flatnonzero(dup)[0])
        assert got == (int(np.flatnonzero(key == key[repeat])[0]), repeat)


# ---- shown values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float64(-1.0), "-1"),
        (2.5, "2.5"),
        (np.int64(3), "3"),
        (float("nan"), "empty or a missing-value word (NA, n/a, null...)"),
        ("5kW", "'5kW'"),
        (" x ", "' x '"),
        (True, "'True'"),
    ],
)
def test_shown(value, text):
    assert shown(value) == text


# ---- reading a CSV ---------------------------------------------------------------------------


def test_read_csv_table_strips_names_and_keeps_text(tmp_path):
    path = _csv(tmp_path, " ps_id , lat\n001, 45.1\n")
    df = read_csv_table(path, ["ps_id", "lat"], dtype={"ps_id": str})
    assert list(df.columns) == ["ps_id", "lat"]
    assert df["ps_id"].iloc[0] == "001" and df["lat"].iloc[0] == 45.1


def test_read_csv_table_empty_cells_as_text(tmp_path):
    path = _csv(tmp_path, "a,b\n,x\n")
    df = read_csv_table(path, [], dtype=str, keep_default_na=False)
    assert df["a"].iloc[0] == "" and df["b"].iloc[0] == "x"


def test_read_csv_table_missing_column_is_line_1(tmp_path):
    exc = _raised(read_csv_table, _csv(tmp_path, "a,b\n1,2\n"), ["a", "c"])
    assert (exc.where, exc.line) == ("header", 1)
    assert "missing column 'c', expected columns ['a', 'c']" in exc.problem


def test_read_csv_table_unreadable(tmp_path):
    exc = _raised(read_csv_table, _csv(tmp_path, ""), ["a"])
    assert exc.problem.startswith("cannot be read as CSV")
    exc = _raised(read_csv_table, tmp_path / "absent.csv", ["a"])
    assert exc.problem.startswith("cannot be read as CSV")


# ---- numeric columns -------------------------------------------------------------------------


def test_numeric_column_values(tmp_path):
    df = read_csv_table(_csv(tmp_path, "v\n0\n1.5\n-2e3\n"), ["v"])
    assert_array_equal(numeric_column(df, "v", "t.csv"), [0.0, 1.5, -2000.0])


@pytest.mark.parametrize(
    ("cells", "lo", "hi", "row", "got", "expected"),
    [
        (["1", "2", "x"], None, None, 3, "'x'", "a finite number"),
        (["1", "", "3"], None, None, 2, MISSING, "a finite number"),  # an empty cell
        (["1", "nan", "3"], None, None, 2, MISSING, "a finite number"),
        (["1", "inf", "3"], None, None, 2, "inf", "a finite number"),
        (["0", "-1", "-2"], 0, None, 2, "-1", "a finite number >= 0"),
        (["0.5", "1", "1.2"], 0.0, 1.0, 3, "1.2", "a finite number >= 0.0 and <= 1.0"),
        (["-90", "90", "90.5"], -90, 90, 3, "90.5", "a finite number >= -90 and <= 90"),
    ],
    ids=["text", "empty", "nan", "inf", "below", "above", "bounds-inclusive"],
)
def test_numeric_column_first_bad_row(tmp_path, cells, lo, hi, row, got, expected):
    path = _csv(tmp_path, "k,v\n" + "".join(f"{k},{c}\n" for k, c in enumerate(cells)))
    df = read_csv_table(path, ["v"])
    exc = _raised(numeric_column, df, "v", path, lo, hi)
    assert exc.where == f"row {row}, column v"
    assert exc.line == row + 1  # under the header
    assert exc.problem == f"got {got}, expected {expected}"


def test_numeric_column_of_text_cells_shows_them_quoted(tmp_path):
    path = _csv(tmp_path, "v\n1\n-1\n")
    df = read_csv_table(path, ["v"], dtype={"v": str})
    assert (
        _raised(numeric_column, df, "v", path, 0).problem
        == "got '-1', expected a finite number >= 0"
    )


# ---- identifiers and codes -------------------------------------------------------------------


def test_id_column_strips_and_keeps_text(tmp_path):
    path = _csv(tmp_path, "ps_id\n 001 \nN\n")
    df = read_csv_table(path, ["ps_id"], dtype={"ps_id": str})
    assert list(id_column(df, "ps_id", path)) == ["001", "N"]


@pytest.mark.parametrize("cell", ["", "   "])
def test_id_column_empty(tmp_path, cell):
    path = _csv(tmp_path, f"ps_id,x\nA,1\n{cell},2\nB,3\n")
    df = read_csv_table(path, ["ps_id"], dtype={"ps_id": str})
    exc = _raised(id_column, df, "ps_id", path)
    assert (exc.where, exc.line, exc.problem) == (
        "row 2, column ps_id",
        3,
        "empty, expected an identifier",
    )


def test_code_column_codes(tmp_path):
    path = _csv(tmp_path, "loc\nwork\n home\nwork\npublic\n")
    df = read_csv_table(path, ["loc"], dtype=str)
    codes = code_column(df, "loc", path, ["home", "work", "b2c", "public"], "expected a place")
    assert_array_equal(codes, [1, 0, 1, 3])
    assert codes.dtype == np.int64


@pytest.mark.parametrize(
    ("cells", "row", "shown_as"),
    [(["work", "garage", "x"], 2, "'garage'"), (["work", "", "x"], 2, "empty")],
)
def test_code_column_first_bad_row(tmp_path, cells, row, shown_as):
    path = _csv(tmp_path, "k,loc\n" + "".join(f"{k},{c}\n" for k, c in enumerate(cells)))
    df = read_csv_table(path, ["loc"], dtype=str)
    exc = _raised(code_column, df, "loc", path, ["home", "work"], "expected home or work")
    assert (exc.where, exc.line) == (f"row {row}, loc", row + 1)
    assert exc.problem == f"{shown_as} expected home or work"
