"""Parquet datasets of a run folder: a table written in parts, by scenario and chunk of PS.

The hourly figures (``flexibility_hourly.parquet``) and the statistics
(``statistics.parquet``) of a run grow with the number of substations, so the run writes them
one chunk of substations at a time, as a folder of part files::

    flexibility_hourly.parquet/
        part-s000-c00000.parquet   scenario 0, substations 0 .. chunk_size-1
        part-s000-c00001.parquet
        ...
        part-s001-c00000.parquet   scenario 1, ...

Part names hold only indexes (a scenario or PS id is never a file name). Read in name order,
the parts give the rows ordered by scenario (study order), then PS (study order), then
whatever order each part holds (time for the hourly table): the same table whatever the
chunk size. ``pandas.read_parquet(folder)`` and ``pyarrow.dataset.dataset(folder)`` read it
whole or filtered; :func:`read_dataset` also returns the ids as text.

>>> from atlas.dataset import read_dataset
>>> hourly = read_dataset(
...     "outputs/flexibility_hourly.parquet",  # doctest: +SKIP
...     filters=[("ps_id", "==", "SUD")],
... )
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from atlas._compat import TEXT
from atlas.errors import AtlasInputError
from atlas.files import write_atomic

#: Columns of a run's datasets that hold text (ids, names): always read back as ``str``.
TEXT_COLUMNS = ("scenario", "ps_id", "figure", "statistic", "kind")

_PART = re.compile(r"^part-s(\d{3,})-c(\d{5,})\.parquet$")


def is_part(name: str) -> bool:
    """Whether a file name is a part file's."""
    return _PART.match(name) is not None


def part_name(scenario_index: int, chunk_index: int) -> str:
    """``part-s{scenario:03d}-c{chunk:05d}.parquet``."""
    return f"part-s{scenario_index:03d}-c{chunk_index:05d}.parquet"


def write_part(table, dataset: Path, scenario_index: int, chunk_index: int) -> Path:
    """Write one part of a dataset (zstd, no index), atomically (a whole file or none).

    ``table`` is a pandas.DataFrame, whose text columns are written as Arrow strings (so a
    PS id ``007`` or a scenario ``2030`` stays text), or a pyarrow.Table whose text columns
    are strings already (:func:`atlas.engine.compute.hourly_part_tables`). Returns the
    part's path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = Path(dataset)
    dataset.mkdir(parents=True, exist_ok=True)
    path = dataset / part_name(scenario_index, chunk_index)
    if isinstance(table, pa.Table):
        text = [c for c in TEXT_COLUMNS if c in table.column_names]
        for col in text:
            kind = table.schema.field(col).type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                raise TypeError(f"column {col!r} of a part must be text, got {kind}")
        return write_atomic(
            path, lambda p: pq.write_table(table, p, compression="zstd", use_dictionary=text)
        )
    out = table.copy(deep=False)
    for col in TEXT_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype(TEXT)
    # dictionary-encode the text columns only: trying it on every float column costs
    # more than the compression (about 6x the time, a larger file)
    text = [c for c in TEXT_COLUMNS if c in out.columns]
    return write_atomic(
        path,
        lambda p: out.to_parquet(p, index=False, compression="zstd", use_dictionary=text),
    )


def part_files(path: Path) -> list[Path]:
    """The part files of a dataset in reading order (a single Parquet file: itself).

    Raises
    ------
    AtlasInputError
        No such file or folder, or a folder holding something other than parts.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise AtlasInputError(path, "", "not found, expected a Parquet file or dataset folder")
    parts, other = [], []
    for entry in path.iterdir():
        m = _PART.match(entry.name)
        if m and entry.is_file():
            parts.append((int(m.group(1)), int(m.group(2)), entry))
        else:
            other.append(entry.name)
    if other:
        raise AtlasInputError(
            path / sorted(other)[0],
            "",
            "is not a part of the dataset, expected only part-sNNN-cNNNNN.parquet files",
        )
    return [p for _, _, p in sorted(parts)]


def dataset_columns(path: Path) -> list[str]:
    """The columns of a dataset (of its first part file, which every part shares).

    Raises
    ------
    AtlasInputError
        No such dataset, or a first part that is not Parquet.
    """
    import pyarrow.parquet as pq

    first = part_files(path)[:1]
    if not first:
        return []
    try:
        return list(pq.read_schema(first[0]).names)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise AtlasInputError(first[0], "", f"cannot be read as parquet ({exc})") from None


def chunk_indexes(path: Path) -> list[int]:
    """The chunk indexes a dataset holds, in order (``[0]`` for a single file)."""
    path = Path(path)
    if path.is_file():
        return [0]
    return sorted({int(_PART.match(p.name).group(2)) for p in part_files(path)})  # type: ignore[union-attr]


def _text_ids(table: pd.DataFrame) -> pd.DataFrame:
    for col in TEXT_COLUMNS:
        if col in table.columns:
            table[col] = table[col].astype(TEXT)
    return table


def read_parts(files: list[Path], columns: list[str] | None = None, filters=None) -> pd.DataFrame:
    """Read part files in the order given into one table, ids as text.

    Parameters
    ----------
    files : list of pathlib.Path
    columns : list of str, optional
    filters : optional
        A pyarrow filter expression or DNF list, e.g. ``[("ps_id", "==", "SUD")]``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for f in files:
        try:
            tables.append(pq.read_table(f, columns=columns, filters=filters))
        except Exception as exc:  # pyarrow raises several types for a file that is not parquet
            raise AtlasInputError(f, "", f"cannot be read as parquet ({exc})") from None
    if not tables:
        raise AtlasInputError(files[0] if files else Path("."), "", "holds no part files")
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return _text_ids(table.to_pandas()).reset_index(drop=True)


def scan_parts(files: list[Path], filters) -> pd.DataFrame:
    """:func:`read_parts` for a filter that picks a few rows of every part (the year-level
    statistics of a national run, say): the parts are scanned as one Arrow dataset, with
    threads and the text columns kept as dictionaries until the filter has picked the rows
    (about a third of the time of reading every part alone). The rows come back in the
    files' order (sorted by each row's fragment and batch index when the scan delivered them
    otherwise). A file that cannot be read is named by reading the parts one by one.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not files:
        raise AtlasInputError(Path("."), "", "holds no part files")
    order = ["__fragment_index", "__batch_index"]
    try:
        text = [c for c in TEXT_COLUMNS if c in pq.read_schema(files[0]).names]
        fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=text))
        dataset = ds.dataset([str(f) for f in files], format=fmt)
        expression = pq.filters_to_expression(filters) if isinstance(filters, list) else filters
        scan = dataset.scanner(columns=dataset.schema.names + order, filter=expression)
        table = scan.to_table()
    except Exception:  # a file that is not a part (or parts that differ): named one by one
        return read_parts(files, filters=filters)
    fragment = table["__fragment_index"].to_numpy().astype(np.int64)
    batch = table["__batch_index"].to_numpy().astype(np.int64)
    steps = np.diff(fragment)
    if (steps < 0).any() or ((steps == 0) & (np.diff(batch) < 0)).any():
        table = table.take(np.lexsort((batch, fragment)))  # stable: a batch keeps its order
    table = table.drop_columns(order)
    for name in text:  # the picked rows' text, decoded in Arrow
        i = table.column_names.index(name)
        table = table.set_column(i, name, table[name].cast(pa.string()))
    return _text_ids(table.to_pandas()).reset_index(drop=True)


def read_dataset(path: Path, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
    """Read a whole dataset (or a single Parquet file), optionally some columns or rows.

    Ids come back as text; rows in the dataset's order (scenario, PS, then the part's own).
    """
    return read_parts(part_files(path), columns, filters)


def read_chunk(path: Path, chunk_index: int, columns: list[str] | None = None) -> pd.DataFrame:
    """Every scenario's part of one chunk of substations, scenario after scenario (only
    ``columns``, in the files' order, if given)."""
    path = Path(path)
    if path.is_file():
        return read_parts([path], columns)
    files = [p for p in part_files(path) if _PART.match(p.name).group(2) == f"{chunk_index:05d}"]  # type: ignore[union-attr]
    return read_parts(files, columns)


def iter_chunks(path: Path, columns: list[str] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(chunk index, its rows of every scenario)`` for each chunk of a dataset, in order:
    memory bounded by one chunk. ``columns``: only those (a fraction of the reading for a
    few of the hourly table's many columns)."""
    for c in chunk_indexes(path):
        yield c, read_chunk(path, c, columns)
