"""Checks shared by the input readers: the first bad row of a table gives one clear error.

Every reader of a user's table or layer (:mod:`atlas.inputs.tables`, :mod:`atlas.geo`)
checks a column at once (vectorised) and reports only the **first** bad record, as an
:class:`~atlas.errors.AtlasInputError` naming the file, the record, the column and what is
expected. Records are named the same way everywhere:

- a CSV data row by its 1-based number among the data rows, ``row 3``, and its file line
  (one header line: data row *i* is line *i* + 1, :func:`csv_line`);
- a feature of a vector layer (GeoJSON, GeoPackage, ...) by its 1-based number,
  ``feature 3``, without a line.

Row positions passed to these functions are 0-based positions in file order (the index of a
freshly read frame).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from atlas._compat import EXACT_FLOATS, PANDAS_3
from atlas.errors import AtlasInputError

__all__ = [
    "code_column",
    "csv_line",
    "first_duplicate",
    "float_values",
    "id_column",
    "numeric_column",
    "raise_first_bad",
    "read_csv_table",
    "record_label",
    "shown",
]


def csv_line(row_index: int) -> int:
    """File line of a data row of a CSV with one header line.

    Parameters
    ----------
    row_index : int
        0-based position of the row among the data rows.

    Returns
    -------
    int
        1-based line of the file: ``row_index + 2`` (line 1 is the header).
    """
    return int(row_index) + 2


def record_label(rows: int | Sequence[int], is_csv: bool = True) -> tuple[str, int | None]:
    """How messages name one record, or two (a duplicate pair), and the line to report.

    Parameters
    ----------
    rows : int or sequence of int
        0-based position of the record, or of several records in file order.
    is_csv : bool, default True
        Whether the records are CSV data rows (named ``row``, with a line) or features of a
        vector layer (named ``feature``, no line).

    Returns
    -------
    label : str
        ``"row 3"``, ``"rows 3 and 7"``, ``"feature 3"``, ``"features 3 and 7"`` (1-based).
    line : int or None
        File line of the last record named, for a CSV; None for a layer.

    Examples
    --------
    >>> record_label(2)
    ('row 3', 4)
    >>> record_label([2, 6], is_csv=False)
    ('features 3 and 7', None)
    """
    positions = [int(r) for r in np.atleast_1d(rows)]  # one row (a scalar), or several
    if not positions:
        raise ValueError("record_label needs at least one row")
    noun = "row" if is_csv else "feature"
    numbers = [str(r + 1) for r in positions]
    if len(numbers) == 1:
        label = f"{noun} {numbers[0]}"
    else:
        label = f"{noun}s {', '.join(numbers[:-1])} and {numbers[-1]}"
    return label, csv_line(positions[-1]) if is_csv else None


def _as_mask(mask) -> np.ndarray:
    """A plain boolean array; a missing value (pandas NA) counts as bad."""
    if isinstance(mask, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return np.asarray(pd.array(mask, dtype="boolean").fillna(True), dtype=bool)
    return np.asarray(mask, dtype=bool)


def raise_first_bad(
    mask,
    path: str | PathLike | None,
    col: str | None,
    problem: str | Callable[[int], str],
    *,
    is_csv: bool = True,
) -> None:
    """Raise the error of the first bad record, if any.

    Parameters
    ----------
    mask : array-like of bool
        (n_records,) True where a record is bad, in file order. A missing value (pandas NA)
        counts as bad.
    path : str or path-like or None
        The file, for the message.
    col : str or None
        What follows the record in the message: a column name (``"technology"`` gives
        ``row 3, technology``), a longer label (``"column lat"``, ``"ps_id=PS01"``), or None
        for the record alone.
    problem : str or callable
        What is wrong and what is expected; a callable gets the 0-based position of the bad
        record and returns that text (so the message can show the bad value, and costs
        nothing when every record is good).
    is_csv : bool, default True
        CSV rows (``row i``, with the file line) or layer features (``feature i``).

    Raises
    ------
    AtlasInputError
        ``path[:line]: row i[, col]: problem`` for the first True of ``mask``.

    Examples
    --------
    >>> raise_first_bad([False, True, True], "t.csv", "column p_mw", "expected a number")
    Traceback (most recent call last):
    ...
    atlas.errors.AtlasInputError: t.csv:3: row 2, column p_mw: expected a number
    """
    bad = _as_mask(mask)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    label, line = record_label(i, is_csv)
    where = f"{label}, {col}" if col else label
    raise AtlasInputError(path, where, problem(i) if callable(problem) else problem, line=line)


def first_duplicate(key) -> tuple[int, int] | None:
    """The first record that repeats an earlier one, and that earlier record.

    Parameters
    ----------
    key : array-like or pandas.DataFrame
        (n_records,) values of any type (integers are compared as they are, other values
        through :func:`pandas.factorize`; missing values equal each other), or a frame
        whose rows are compared as a whole (a key of several columns).

    Returns
    -------
    tuple of int or None
        ``(first, repeat)``, 0-based positions with ``first < repeat``: ``repeat`` is the
        earliest record whose key appeared before, ``first`` the record where it first
        appeared. None when every key is distinct.

    Examples
    --------
    >>> first_duplicate(["a", "b", "c", "b", "a"])
    (1, 3)
    """
    if isinstance(key, pd.DataFrame):
        codes = key.groupby(list(key.columns), sort=False, dropna=False).ngroup().to_numpy()
    else:
        values = np.asarray(key)
        if values.dtype.kind in "biu":
            codes = values
        else:
            codes, _ = pd.factorize(values, use_na_sentinel=False)
    codes = np.asarray(codes).reshape(-1)
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    same = ranked[1:] == ranked[:-1]
    if not same.any():
        return None
    repeat = int(order[1:][same].min())
    start = int(np.searchsorted(ranked, codes[repeat], side="left"))
    return int(order[start]), repeat


def shown(value) -> str:
    """A cell as the user wrote it, for a message.

    Numbers plainly (``-1``, not ``np.float64(-1.0)``), a missing number as empty or a
    missing-value word,
    anything else quoted as text (``'5kW'``).
    """
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        # a CSV's empty cell and its missing-value words (NA, n/a, null...) both read as NaN
        return (
            "empty or a missing-value word (NA, n/a, null...)" if pd.isna(value) else f"{value:g}"
        )
    if isinstance(value, str) and not value.strip():
        return "empty"
    return repr(str(value))


#: Cells read as missing values in the columns that are not text (pandas' default list, as
#: documented for ``pandas.read_csv``'s ``na_values``).
MISSING_TEXT = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def read_csv_table(
    path: Path,
    required: list[str],
    dtype: dict | type | None = None,
    *,
    keep_default_na: bool = True,
) -> pd.DataFrame:
    """Read a CSV with a header line, column names stripped, required columns checked.

    Parameters
    ----------
    path : pathlib.Path
        The file (compression recognised from the suffix).
    required : list of str
        Columns that must be present.
    dtype : dict or type, optional
        Passed to :func:`pandas.read_csv` (read identifiers as ``str``); a dict's keys are
        the stripped column names, so ``" ps_id "`` in the header is typed as ``ps_id``.
    keep_default_na : bool, default True
        Whether the cells of :data:`MISSING_TEXT` are missing values (pandas' rule),
        except in columns typed ``str`` by a dict ``dtype``: an identifier or a name
        ``NA``, ``null`` or ``None`` (Napoli's province code, say) is text there, and an
        empty cell is ``""``. False keeps every cell as written.

    Returns
    -------
    pandas.DataFrame
        The table in file order, index 0..n-1.

    Raises
    ------
    AtlasInputError
        The file cannot be read as CSV, or a required column is missing (line 1).
    """
    if dtype is str and not keep_default_na:  # all text: Arrow's reader where it agrees
        fast = _read_text_csv_arrow(Path(path))
        if fast is not None:
            return _required_columns(fast, path, required)
    try:
        na_values = None
        if isinstance(dtype, dict):  # key the types by the names as written (" ps_id ")
            header = pd.read_csv(path, nrows=0, skipinitialspace=True).columns
            dtype = {c: dtype[str(c).strip()] for c in header if str(c).strip() in dtype}
            if keep_default_na:  # text columns keep NA, null, None, nan as written
                na_values = {c: MISSING_TEXT for c in header if dtype.get(c) is not str}
                keep_default_na = False
        df = pd.read_csv(
            path,
            dtype=dtype,
            skipinitialspace=True,
            keep_default_na=keep_default_na,
            na_values=na_values,
            # one type per column for the whole file (no DtypeWarning on the user's terminal
            # when a bad cell sits in a later block): the cell is named below instead
            low_memory=False,
            **EXACT_FLOATS,
        )
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError, ValueError) as exc:
        # OSError: unreadable, or not gzip; EOFError: a truncated compressed file;
        # ValueError: a zip of several files, or compressed data that is corrupt
        raise AtlasInputError(
            path, "", f"cannot be read as CSV ({str(exc).splitlines()[0]})"
        ) from None
    return _required_columns(df, path, required)


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> AtlasInputError:
    """The error of a CSV that is not UTF-8 text: its first bad byte and line."""
    try:
        data = _decompressed(Path(path))
    except (OSError, EOFError, ValueError):
        data = b""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return AtlasInputError(
            path, "", "is UTF-16 text, expected a UTF-8 CSV (in a spreadsheet: save as 'CSV UTF-8')"
        )
    try:
        data.decode("utf-8")
        start, line = exc.start, None  # (a compressed file: the offset is of its text)
    except UnicodeDecodeError as whole:
        start, line = whole.start, data.count(b"\n", 0, whole.start) + 1
        exc = whole
    return AtlasInputError(
        path,
        "",
        f"byte 0x{exc.object[start]:02x} is not UTF-8 text, expected a UTF-8 CSV (in a "
        "spreadsheet: save as 'CSV UTF-8')",
        line=line,
    )


def _decompressed(path: Path) -> bytes:
    """A file's bytes, decompressed if its suffix says so (.gz, .bz2, .xz)."""
    import bz2
    import gzip
    import lzma

    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if suffix == ".bz2":
        return bz2.decompress(path.read_bytes())
    if suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    return path.read_bytes()


#: Separators a CSV written with another locale's settings may use instead of commas.
OTHER_SEPARATORS = (";", "\t", "|")


def _required_columns(df: pd.DataFrame, path: Path, required: list[str]) -> pd.DataFrame:
    names = [str(c).strip() for c in df.columns]
    for k, name in enumerate(names):  # pandas renames a repeated column 'x' to 'x.1'
        base, dot, number = name.rpartition(".")
        if name in names[:k] or (dot and number.isdigit() and base in names[:k]):
            raise AtlasInputError(
                path,
                "header",
                f"column {base if name not in names[:k] else name!r} appears twice, expected "
                "each column once",
                line=1,
            )
    df.columns = names
    if len(df.columns) == 1:
        sep = next((s for s in OTHER_SEPARATORS if s in df.columns[0]), None)
        if sep is not None:
            raise AtlasInputError(
                path,
                "header",
                f"one column {df.columns[0]!r}: the columns are separated by {sep!r}, "
                "expected commas (a CSV as written by a spreadsheet in an English locale)",
                line=1,
            )
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AtlasInputError(
            path, "header", f"missing column {missing[0]!r}, expected columns {required}", line=1
        )
    return df


#: Suffixes from which pandas infers a compression: such files are read by pandas only.
_COMPRESSED_SUFFIXES = frozenset(
    {".gz", ".bz2", ".zip", ".xz", ".zst", ".tar", ".tgz", ".tbz", ".txz", ".tzst"}
)


def _read_text_csv_arrow(path: Path) -> pd.DataFrame | None:
    """A CSV read whole as text by Arrow's multithreaded reader, the frame that
    ``pandas.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)``
    gives, or None wherever the two readers could differ (pandas then reads the file).

    Arrow reads a 1.5-million-row register in 0.6 s where pandas takes 5 s. It is used
    only for plain UTF-8 files whose every row has the header's number of fields, with
    distinct non-empty column names, at least one data row and no cell starting with a
    space or tab (pandas' ``skipinitialspace`` would strip it); any other file, and any
    file Arrow cannot parse, goes to pandas, whose messages the readers report.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if any(s.lower() in _COMPRESSED_SUFFIXES for s in path.suffixes) or not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None  # NUL bytes and lone CR line ends: left to pandas
    try:  # the header alone first: every column is read as text, by name
        end = data.find(b"\n")
        first = data if end < 0 else data[: end + 1]
        header = pacsv.read_csv(pa.py_buffer(first)).column_names
        names = [str(c).strip() for c in header]
        if "" in names or len(set(names)) != len(names):
            return None  # pandas names or renames these columns
        table = pacsv.read_csv(
            pa.py_buffer(data),
            parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in data),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if table.num_rows == 0 or table.column_names != header:
        return None
    for column in table.columns:
        if (
            pc.any(pc.starts_with(column, " ")).as_py()
            or pc.any(pc.starts_with(column, "\t")).as_py()
        ):
            return None
    if not PANDAS_3:  # pandas 2 reads text as Python objects
        return table.to_pandas()
    text = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str"
    return table.to_pandas(types_mapper=lambda t: text if t == pa.string() else None)


def numeric_column(
    df: pd.DataFrame,
    col: str,
    path: Path,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    """A CSV column as floats, every value finite and within ``[lo, hi]``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read (:func:`read_csv_table`), rows in file order.
    col : str
        The column.
    path : pathlib.Path
        The file, for messages.
    lo, hi : float, optional
        Inclusive bounds, in the column's unit.

    Returns
    -------
    numpy.ndarray
        (n_rows,) the values, in the column's unit.

    Raises
    ------
    AtlasInputError
        On the first empty, non-numeric, infinite or out-of-bounds value:
        ``row i, column col: got 5kW, expected a finite number >= 0``.
    """
    values = float_values(df[col])
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values)
        if lo is not None:
            bad |= values < lo
        if hi is not None:
            bad |= values > hi
    expected = (
        "a finite number"
        + (f" >= {lo}" if lo is not None else "")
        + (f" and <= {hi}" if hi is not None else "")
    )
    raise_first_bad(
        bad,
        path,
        f"column {col}",
        lambda i: f"got {shown(df[col].iloc[i])}, expected {expected}",
    )
    return values


def float_values(column: pd.Series) -> np.ndarray:
    """A column as floats: ``pandas.to_numeric(column, errors="coerce")`` as a float array.

    Parameters
    ----------
    column : pandas.Series
        Cells as read (text, or numbers).

    Returns
    -------
    numpy.ndarray
        (n,) float64, NaN where a cell is not a number.

    Notes
    -----
    A column of Arrow text (``str``) whose every cell Arrow parses as a number is cast by
    Arrow, ten times faster on a register's coordinates. Both parses round correctly (the
    tests compare them), so the values are the same; where Arrow refuses a cell (spaces,
    ``NA``, an empty cell) or reads a ``-0`` (pandas reads ``-0`` as the integer 0) or a
    NaN, pandas parses the whole column.
    """
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            values = pc.cast(pa.array(column.array), pa.float64())  # no copy of the text
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = None
        if values is not None and values.null_count == 0:
            out = values.to_numpy()
            # a -0 (pandas reads "-0" as the integer 0) or a NaN (whose sign may differ; a
            # NaN is an error for every reader, which then shows pandas' reading of the cell)
            if not np.any(np.signbit(out) & (out == 0.0)) and not np.isnan(out).any():
                return out
    from atlas._compat import to_float

    return to_float(column)


def id_column(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    """A CSV column of identifiers as stripped text, none empty.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read (identifiers read as ``str``, so ``"001"`` stays ``"001"``).
    col : str
        The column.
    path : pathlib.Path
        The file, for messages.

    Returns
    -------
    pandas.Series
        The identifiers (str), same index as ``df``.

    Raises
    ------
    AtlasInputError
        On the first empty or blank cell.
    """
    ids = df[col].astype("string").str.strip()
    empty = ids.isna() | (ids == "")
    raise_first_bad(empty, path, f"column {col}", "empty, expected an identifier")
    return ids.astype(str)


#: Longest identifier (``ps_id``, ``der_id``) and name the atlas accepts: they head
#: figures, tables and map labels, where a paragraph of text is an input error. [characters]
MAX_ID_CHARS = 100
MAX_NAME_CHARS = 200

#: C0 and C1 control characters and DEL: never part of a name, invisible or harmful in a
#: terminal, a CSV or a web page.
_CONTROL = "[\x00-\x1f\x7f-\x9f]"


def control_character(value: str) -> str | None:
    """``control character U+0007`` for the first control character of a text, else None."""
    found = re.search(_CONTROL, value)
    return None if found is None else f"control character U+{ord(found.group()):04X}"


def check_text(
    values: pd.Series,
    path: str | PathLike,
    col: str,
    max_chars: int,
    *,
    is_csv: bool = True,
) -> None:
    """Refuse control characters and text longer than ``max_chars`` in a text column.

    Parameters
    ----------
    values : pandas.Series
        The column as text (missing cells allowed), in file order.
    path : str or path-like
        The file, for the message.
    col : str
        The column's name.
    max_chars : int
        Longest text accepted. [characters]
    is_csv : bool, default True
        CSV rows or layer features.

    Raises
    ------
    AtlasInputError
        The first cell with a control character (named by its code point) or too long.
    """
    text = values.astype("string").fillna("")
    control = text.str.contains(_CONTROL, regex=True)

    def which(i: int) -> str:
        value = str(text.iloc[i])
        return f"{control_character(value)} in {value[:40]!r}, expected printable text"

    raise_first_bad(control, path, col, which, is_csv=is_csv)
    length = text.str.len()
    raise_first_bad(
        length > max_chars,
        path,
        col,
        lambda i: f"{int(length.iloc[i])} characters long, expected at most {max_chars}",
        is_csv=is_csv,
    )


class PsIds(list):
    """The study's ps_ids in study order, and the substations file they come from.

    A list of str everywhere; the readers that check a table's ps_id against it name that
    file too (:func:`unknown_ps`), since an id missing there may be the substations file's
    fault as much as the table's.
    """

    source: str | None = None

    def __init__(self, ids=(), source: str | PathLike | None = None) -> None:
        super().__init__(ids)
        self.source = None if source is None else str(source)


def unknown_ps(ps_ids) -> str:
    """``is not in the substations file (PATH), expected a known ps_id``."""
    source = getattr(ps_ids, "source", None)
    where = f" ({source})" if source else ""
    return f"is not in the substations file{where}, expected a known ps_id"


def code_column(
    df: pd.DataFrame, col: str, path: Path, allowed: Sequence[str], expected: str
) -> np.ndarray:
    """Position in ``allowed`` of each row's (stripped) text.

    Each distinct value is checked once, so long, repetitive tables cost little.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read.
    col : str
        The column.
    path : pathlib.Path
        The file, for messages.
    allowed : sequence of str
        The accepted values, in the order that gives the codes.
    expected : str
        What is expected, after the bad value (``"expected one of ['MV', 'LV']"``).

    Returns
    -------
    numpy.ndarray of int64
        (n_rows,) index into ``allowed``.

    Raises
    ------
    AtlasInputError
        On the first value not in ``allowed``: ``row i, col: 'garage' expected ...``
        (``empty`` for an empty cell).
    """
    codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
    index = {name: k for k, name in enumerate(allowed)}
    mapped = np.array([index.get(str(u).strip(), -1) for u in uniques] + [-1], dtype=np.int64)
    rows = mapped[codes]  # codes == -1 (empty cell) picks the trailing -1

    def problem(i: int) -> str:
        value = df[col].iloc[i]
        text = "empty" if pd.isna(value) or not str(value).strip() else repr(str(value).strip())
        return f"{text} {expected}"

    raise_first_bad(rows < 0, path, col, problem)
    return rows
