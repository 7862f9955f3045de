"""The pandas-version shims (atlas._compat): exact floats and text with pandas 2 too.

The suite runs on pandas 3; these tests take pandas 2's branch by hand, and the whole suite
also passes on pandas 2.3 (the environment that pandapower needs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import atlas._compat as compat


@pytest.fixture
def pandas_2_branch(monkeypatch):
    monkeypatch.setattr(compat, "PANDAS_3", False)


def test_to_float_re_reads_every_number_exactly(pandas_2_branch):
    rng = np.random.default_rng(3)
    x = rng.random(2000) * 100
    cells = [repr(float(v)) for v in x] + [" 2.5", "1e-3", "abc", "", "-0", "-0.0"]
    got = compat.to_float(pd.Series(cells, dtype=object))
    np.testing.assert_array_equal(got[:2000], x)  # bit for bit
    assert got[2000] == 2.5 and got[2001] == 0.001
    assert np.isnan(got[2002]) and np.isnan(got[2003])
    # a zero keeps pandas' reading, sign included
    expected = pd.to_numeric(pd.Series(["-0", "-0.0"], dtype=object)).to_numpy(dtype=float)
    assert np.array_equal(np.signbit(got[2004:]), np.signbit(expected))


def test_to_float_leaves_numbers_alone(pandas_2_branch):
    np.testing.assert_array_equal(compat.to_float(pd.Series([1, 2.5])), [1.0, 2.5])


def test_is_text():
    assert compat.is_text(pd.Series(["a", "b"], dtype=compat.TEXT))
    assert compat.is_text(pd.Series(["a", None, np.nan], dtype=object))
    assert compat.is_text(pd.Series([None], dtype=object))
    assert not compat.is_text(pd.Series([1.0, 2.0]))
    assert not compat.is_text(pd.Series(["a", 1], dtype=object))


def test_text_keeps_missing_cells_missing():
    values = pd.Series(["a", np.nan], dtype=object).astype(compat.TEXT)
    assert values.iloc[0] == "a" and pd.isna(values.iloc[1])
