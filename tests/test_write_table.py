"""Run tables written as CSV: the same bytes as pandas' to_csv, whichever writer runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas import runfolder
from atlas._compat import PANDAS_3, TEXT
from atlas.runfolder import _plain_csv, csv_text, text_from_csv, write_table

texts = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
    st.sampled_from(["", " a", "b ", "x,y", 'q"', "l\nm", "r\rs", "é", "\t"]),
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-5, 1e16, 0.1, 2.0, 123456789.0, 1e22]),
)


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    kinds = draw(st.lists(st.sampled_from(["str", "float", "int", "bool", "Int64"]), max_size=4))
    columns = {}
    for k, kind in enumerate(kinds):
        name = f"c{k}"
        if kind == "str":
            columns[name] = pd.Series(draw(st.lists(texts, min_size=n, max_size=n)), dtype=TEXT)
        elif kind == "float":
            columns[name] = pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=float)
        elif kind == "int":
            values = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
            columns[name] = pd.Series(values, dtype=np.int64)
        elif kind == "bool":
            columns[name] = pd.Series(
                draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool
            )
        else:
            values = draw(
                st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=n, max_size=n)
            )
            columns[name] = pd.Series(pd.array(values, dtype="Int64"))
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


@settings(max_examples=300, deadline=None)
@given(tables())
def test_write_table_writes_what_pandas_writes(tmp_path_factory, table):
    """The bytes of pandas' to_csv of the table whose text cells are escaped (csv_text),
    and the text reads back exactly."""
    path = tmp_path_factory.mktemp("t") / "t.csv"
    write_table(table, path)
    text = [c for c in table.columns if table[c].dtype == "str"]
    escaped = table.assign(**{c: csv_text(table[c]) for c in text})
    assert path.read_bytes() == escaped.to_csv(index=False, lineterminator="\n").encode()
    for c in text:
        back = text_from_csv(escaped[c])
        assert back.isna().equals(table[c].isna())
        assert (back[table[c].notna()] == table[c][table[c].notna()]).all()


def test_the_fast_writer_takes_a_plain_register_and_leaves_quoted_text_to_pandas():
    plain = pd.DataFrame(
        {"der_id": pd.Series(["D1", "D2"], dtype="str"), "capacity_mw": [0.0045, np.nan]}
    )
    # pandas 3's text (Arrow "str"); pandas 2 holds text as objects, always left to pandas
    assert _plain_csv(plain) == PANDAS_3
    quoted = plain.assign(der_id=pd.Series(["D,1", "D2"], dtype="str"))
    assert not _plain_csv(quoted)


def test_a_long_table_is_written_in_batches_with_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(runfolder, "CSV_BATCH_ROWS", 3)
    table = pd.DataFrame(
        {"a": pd.Series([f"x{i}" for i in range(10)], dtype="str"), "b": np.arange(10) / 7}
    )
    write_table(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == table.to_csv(
        index=False, lineterminator="\n"
    ).encode()
