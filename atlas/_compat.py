"""What differs between the pandas versions the atlas supports (pyproject: pandas >= 2.2).

pandas 3 parses text to the nearest double everywhere; pandas 2 does not by default (its fast
C parser is off by one unit in the last place in about one cell in ten), so a study read with
pandas 2 would give other bytes than with pandas 3. The helpers here make both exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: pandas 3 or later.
PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3

#: ``pandas.read_csv`` keywords that parse floats to the nearest double: pandas 3's default
#: (where ``float_precision`` is deprecated), ``"round_trip"`` (Python's own parser) before.
EXACT_FLOATS: dict[str, str] = {} if PANDAS_3 else {"float_precision": "round_trip"}


def to_float(column: pd.Series) -> np.ndarray:
    """``pandas.to_numeric(column, errors="coerce")`` as floats, each parsed exactly.

    Parameters
    ----------
    column : pandas.Series
        Cells as read (text, or numbers).

    Returns
    -------
    numpy.ndarray
        (n,) float64, NaN where a cell is not a number.
    """
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if PANDAS_3 or column.dtype.kind in "biuf":
        return values
    # pandas 2: re-read every cell it took for a number with Python's (exact) parser
    values = values.copy()  # (pandas may hand out a read-only view)
    cells = column.to_numpy(dtype=object)
    for i in np.flatnonzero(np.isfinite(values)):
        cell = cells[i]
        if isinstance(cell, str):
            try:
                exact = float(cell)
            except ValueError:
                continue  # pandas' reading stands (a form Python does not take)
            if exact != 0.0:  # a zero keeps pandas' sign ("-0" is pandas' integer 0)
                values[i] = exact
    return values


#: The text dtype: pandas 3's ``"str"`` (Arrow text, missing cells NaN). pandas 2.3 has the
#: same dtype but its ``"str"`` alias means Python objects, whose ``astype`` turns a missing
#: cell into the text ``"nan"``.
TEXT = "str" if PANDAS_3 else pd.StringDtype("pyarrow", na_value=np.nan)


def is_text(column: pd.Series) -> bool:
    """Whether a column holds text: the ``"str"`` dtype, or (pandas 2) objects that are all
    strings or missing."""
    if column.dtype == "str":
        return True
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in (
        "string",
        "empty",
    )
