"""The run: what one study produced, and the run folder that holds it.

A :class:`Run` is the contract between the stages: the engine makes one, the analysis adds
its statistics and screening, and the report, the map and ``atlas screen`` read it. No other
module reads or writes the files of a run folder. This module owns their format, documented
file by file in ``docs/run-folder.md``; ``run.json`` carries :data:`FORMAT_VERSION`.

A run folder is one unit. It is written whole into a staging folder beside it
(:class:`Staging`) and swapped into place at the end, so a reader, or a run killed at any
moment, sees either the previous complete run or the new one, never a mix. A swap killed
half-way is undone by the next call of :func:`recover` (every ``atlas`` command that writes
a run folder calls it first). A folder holding anything that is not part of a run is refused,
never emptied.

>>> run = Run.load("outputs")  # doctest: +SKIP
>>> run.screening.head()  # doctest: +SKIP
>>> run.hourly.query("ps_id == 'SUD'")  # read on first use  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlas._compat import EXACT_FLOATS, TEXT, is_text
from atlas.errors import AtlasInputError
from atlas.files import (
    WRITE_ERRORS,
    error_path,
    fault_point,
    folder_error,
    write_atomic,
    write_text_atomic,
)
from atlas.inputs.checks import raise_first_bad

#: What draws a page (or figures) of a run into a folder: ``writer(run, folder)``.
Views = dict[str, "Callable[[Run, Path], Any]"]

#: Version of the run-folder format written into ``run.json`` (``format_version``).
FORMAT_VERSION = 3

#: File names of a run folder.
RUN_JSON = "run.json"
HOURLY_PARQUET = "flexibility_hourly.parquet"
HOURLY_CSV = "flexibility_hourly.csv"
FIGURES_DIR = "figures"
REPORT_HTML = "report.html"
MAP_HTML = "map.html"
#: The network-aware stage's files (docs/network.md), with ``[network]`` only.
NETWORK_HOURLY_PARQUET = "network_hourly.parquet"
NETWORK_PLACEMENT_CSV = "network_placement.csv"

#: Column kinds of the tables written as CSV: ``text`` (ids, names: read as they are
#: written, so ``NA`` or ``007`` stay text), ``float``, ``int``, ``Int64`` (integer or
#: missing), ``bool``.
SUBSTATIONS_SCHEMA = {
    "ps_id": "text",
    "name": "text",
    "lat": "float",
    "lon": "float",
    "rated_mva": "float",
    "oltc_dv_down": "float",
    "oltc_dv_up": "float",
}
CAPACITY_SCHEMA = {
    "scenario": "text",
    "ps_id": "text",
    "technology": "text",
    "level": "text",
    "capacity_mw": "float",
    "energy_mwh": "float",
}
EV_SCHEMA = {
    "scenario": "text",
    "ps_id": "text",
    "charging_points": "int",
    "energy_mwh": "float",
}
SCREENING_SCHEMA = {
    "scenario": "text",
    "ps_id": "text",
    "name": "text",
    "direction": "text",
    "threshold": "float",
    "unit": "text",
    "availability": "float",
    "firm": "float",
    "mean": "float",
    "share_at_or_above": "float",
    "meets": "bool",
    "longest_run_h": "int",
    "hours_over_rating": "Int64",
}
REGISTER_SCHEMA = {
    "der_id": "text",
    "name": "text",
    "technology": "text",
    "level": "text",
    "location": "text",
    "v2g": "float",
    "scenario": "text",
    "capacity_mw": "float",
    "energy_mwh": "float",
    "ps_id": "text",
    "lat": "float",
    "lon": "float",
}
UNASSIGNED_SCHEMA = {
    "der_id": "text",
    "name": "text",
    "technology": "text",
    "level": "text",
    "capacity_mw": "float",
    "lat": "float",
    "lon": "float",
    "distance_m": "float",
    "nearest_ps_id": "text",
    "snapped": "bool",
}
PLACEMENT_SCHEMA = {
    "ps_id": "text",
    "der_id": "text",
    "scenario": "text",
    "technology": "text",
    "level": "text",
    "capacity_mw": "float",
    "bus": "int",
    "distance_m": "float",
    "placed": "text",
}
ENVELOPE_SCHEMA = {"scenario": "text", "ps_id": "text", "kind": "text"}
#: The columns of :attr:`Run.areas` besides the geometry: area_km2 in the study's metric CRS.
AREAS_SCHEMA = {"ps_id": "text", "area_km2": "float"}

#: CSV tables of a run: ``{attribute: (file name, schema, required)}``.
CSV_TABLES: dict[str, tuple[str, dict[str, str], bool]] = {
    "substations": ("substations.csv", SUBSTATIONS_SCHEMA, True),
    "capacity": ("capacity_by_ps.csv", CAPACITY_SCHEMA, True),
    "ev": ("ev_by_ps.csv", EV_SCHEMA, True),
    "screening": ("screening.csv", SCREENING_SCHEMA, True),
    "register": ("der_register.csv", REGISTER_SCHEMA, False),
    "unassigned": ("unassigned_ders.csv", UNASSIGNED_SCHEMA, False),
    "placement": (NETWORK_PLACEMENT_CSV, PLACEMENT_SCHEMA, False),
}
ENVELOPES_CSV = "envelopes.csv"
STATISTICS_PARQUET = "statistics.parquet"
#: The run's Parquet datasets: folders of part files (:mod:`atlas.dataset`).
DATASETS = frozenset([HOURLY_PARQUET, STATISTICS_PARQUET])
#: Columns of the statistics table (:func:`atlas.analysis.stats.statistics`).
STATISTICS_COLUMNS = ["scenario", "ps_id", "figure", "statistic", "month", "hour", "value"]
AREAS_GEOJSON = "service_areas.geojson"
BOUNDARY_GEOJSON = "boundary.geojson"

#: Every file name a run folder may hold (besides ``figures/`` and a README.md of the
#: user's, which is kept).
RUN_FILES = frozenset(
    [RUN_JSON, HOURLY_PARQUET, HOURLY_CSV, REPORT_HTML, MAP_HTML, ENVELOPES_CSV]
    + [NETWORK_HOURLY_PARQUET]
    + [STATISTICS_PARQUET, AREAS_GEOJSON, BOUNDARY_GEOJSON]
    + [name for name, _, _ in CSV_TABLES.values()]
)
#: Files of the user's that a run folder keeps across runs.
KEPT_FILES = frozenset(["README.md"])


# ---------------------------------------------------------------------------------------------
# Tables: one canonical form, so a loaded run equals the saved one
# ---------------------------------------------------------------------------------------------


def conform(table: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """The table with the schema's columns, in its order and canonical dtypes.

    Text becomes pandas ``str`` (missing as ""), floats ``float64``, ``int`` ``int64``,
    ``Int64`` the nullable integer, ``bool`` ``bool``. Columns missing from ``table`` are
    added empty (text "", numbers NaN or <NA>); extra columns are dropped.
    """
    out = {}
    n = len(table)
    for col, kind in schema.items():
        s = table[col] if col in table.columns else None
        if kind == "text":
            if s is None:
                out[col] = pd.Series([""] * n, dtype=TEXT)
            elif s.dtype == "str":  # already text (Arrow): only the missing cells change
                out[col] = (s.fillna("") if s.hasnans else s).reset_index(drop=True)
            else:
                cells = s.astype(object)
                out[col] = cells.where(cells.notna(), "").astype(TEXT).reset_index(drop=True)
        elif kind == "float":
            out[col] = pd.Series(np.full(n, np.nan) if s is None else s.to_numpy(dtype=float))
        elif kind == "int":
            out[col] = pd.Series(np.zeros(n, dtype=np.int64) if s is None else s.astype(np.int64))
        elif kind == "Int64":
            out[col] = pd.Series(
                pd.array([pd.NA] * n if s is None else s.to_numpy(object), dtype="Int64")
            )
        elif kind == "bool":
            out[col] = pd.Series(np.zeros(n, bool) if s is None else s.to_numpy(dtype=bool))
        else:  # pragma: no cover - a schema error
            raise ValueError(f"unknown column kind {kind!r}")
    return pd.DataFrame(out, index=pd.RangeIndex(n))


#: What each kind of number column expects, for the message on a bad cell.
_EXPECTED = {
    "float": "a number",
    "int": "an integer",
    "Int64": "an integer or empty",
    "bool": "true or false",
}


def _parses(cell: str, kind: str) -> bool:
    """Whether one CSV cell is a valid value of ``kind``."""
    try:
        if kind == "float":
            float(cell or "nan")
        elif kind == "int":
            int(cell)
        elif kind == "Int64":
            int(cell or "0")
        else:
            return cell in ("True", "False", "true", "false")
    except ValueError:
        return False
    return True


def _raise_bad_cell(raw: pd.DataFrame, numbers: dict[str, str], path: Path) -> None:
    """Name the first cell of a number column that does not parse (file, row, column)."""
    for col, kind in numbers.items():
        cells = raw[col].to_numpy(dtype=object)
        bad = np.array([not _parses(c, kind) for c in cells], dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise_first_bad(
                bad, path, f"column {col}", f"got {cells[i]!r}, expected {_EXPECTED[kind]}"
            )


#: First characters that make a spreadsheet read a text cell as a formula (``=``, ``+``,
#: ``-``, ``@``, tab, carriage return), and the apostrophe that escapes them.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_text(values: pd.Series) -> pd.Series:
    """Text cells as a run's CSV files hold them: a cell that starts with a formula prefix
    (:data:`FORMULA_PREFIXES`) or an apostrophe gets one apostrophe in front, so a
    spreadsheet shows ``=HYPERLINK(...)`` as text instead of running it; every other cell is
    unchanged. :func:`text_from_csv` gives the values back exactly (Parquet, GeoJSON and
    the map hold them as they are).

    Examples
    --------
    >>> csv_text(pd.Series(["=1+1", "'quoted", "PS Sud", "-2"], dtype="str")).tolist()
    ["'=1+1", "''quoted", 'PS Sud', "'-2"]
    """
    values = values.astype(TEXT)
    escape = values.str.startswith(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
    if not escape.any():
        return values
    return values.where(~escape, "'" + values)


def text_from_csv(values: pd.Series) -> pd.Series:
    """The text cells of a run's CSV as they were before :func:`csv_text`: one leading
    apostrophe removed."""
    values = values.astype(TEXT)
    quoted = values.str.startswith("'").fillna(False).to_numpy(dtype=bool)
    if not quoted.any():
        return values
    return values.where(~quoted, values.str.slice(1))


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write a run table as CSV; floats in their shortest exact form (they read back equal).

    Text cells that a spreadsheet would run as a formula are escaped (:func:`csv_text`).
    The bytes are pandas' ``to_csv(index=False, lineterminator="\\n")``; a table whose cells
    need no quoting (no comma, quote or line break in its text) is written by Arrow's CSV
    writer with the numbers formatted here, :data:`CSV_BATCH_ROWS` rows at a time, about 2.5
    times faster and in bounded memory (a national register holds millions of rows).
    """
    text = [c for c in table.columns if is_text(table[c])]
    if text:
        table = table.assign(**{str(c): csv_text(table[c]) for c in text})
    if not _plain_csv(table):
        return write_atomic(path, lambda p: table.to_csv(p, index=False, lineterminator="\n"))

    def write(p: Path) -> None:
        import pyarrow.csv as pcsv

        options = pcsv.WriteOptions(include_header=False, quoting_style="none", eol="\n")
        with open(p, "wb") as out:
            out.write((",".join(table.columns) + "\n").encode())
            for start in range(0, len(table), CSV_BATCH_ROWS):
                rows = table.iloc[start : start + CSV_BATCH_ROWS]
                pcsv.write_csv(_csv_cells(rows), out, options)

    return write_atomic(path, write)


#: Rows formatted at a time by :func:`write_table` (about 100 MB of cells at most).
CSV_BATCH_ROWS = 100_000

#: A CSV cell holding one of these is quoted (Python's csv module, QUOTE_MINIMAL).
_NEEDS_QUOTES = r'[,"\r\n]'

#: The dtypes :func:`_csv_cells` formats as pandas' ``to_csv`` does.
_PLAIN_DTYPES = ("str", "float64", "int64", "bool", "Int64")


def _plain_csv(table: pd.DataFrame) -> bool:
    """Whether :func:`_csv_cells` can format the table: two columns or more (csv quotes the
    empty row of a one-column table), dtypes it knows, and no name or text that csv would
    quote."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [str(c) for c in table.columns]
    if len(names) < 2 or any(re.search(_NEEDS_QUOTES, n) for n in names):
        return False
    for col in table.columns:
        s = table[col]
        if not any(s.dtype == d for d in _PLAIN_DTYPES):
            return False
        if s.dtype == "str" and len(s):
            if pc.any(pc.match_substring_regex(pa.array(s.array), _NEEDS_QUOTES)).as_py():
                return False
    return True


def _csv_cells(table: pd.DataFrame):
    """The cells of a :func:`_plain_csv` table as Arrow text, as pandas' ``to_csv`` writes
    them: floats by ``repr``, integers and booleans by ``str``, missing values empty."""
    import pyarrow as pa

    columns = []
    for col in table.columns:
        s = table[col]
        if s.dtype == "str":
            columns.append(pa.array(s.array))
        elif s.dtype == np.float64:
            values = s.to_numpy()
            cells = np.full(len(values), None, dtype=object)  # missing: an empty cell
            given = ~np.isnan(values)
            cells[given] = [repr(v) for v in values[given].tolist()]
            columns.append(pa.array(cells, type=pa.string()))
        elif s.dtype == "Int64":
            text = [None if v is pd.NA else str(v) for v in s.astype(object).tolist()]
            columns.append(pa.array(text, type=pa.string()))
        else:  # int64, bool
            columns.append(pa.array(s.to_numpy().astype(str).astype(object), type=pa.string()))
    return pa.table(columns, names=[str(c) for c in table.columns])


def read_table(path: Path, schema: dict[str, str]) -> pd.DataFrame:
    """Read a CSV table of a run folder into its schema (:func:`conform`'s form).

    Raises
    ------
    AtlasInputError
        The file is missing or unreadable, lacks a column, or holds a cell of the wrong kind.
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except FileNotFoundError:
        raise AtlasInputError(path, "", "not found, expected a file of the run folder") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AtlasInputError(path, "", f"cannot be read as CSV ({exc})") from None
    missing = [c for c in schema if c not in raw.columns]
    if missing:
        raise AtlasInputError(
            path, "header", f"missing column {missing[0]!r}, expected {list(schema)}", line=1
        )
    numbers = {c: k for c, k in schema.items() if k != "text"}
    try:  # the parser in one pass
        typed = pd.read_csv(
            path,
            usecols=list(numbers),
            dtype={c: {"float": float, "int": np.int64}.get(k, k) for c, k in numbers.items()},
            keep_default_na=False,
            na_values={c: [""] for c in numbers},
            **EXACT_FLOATS,  # floats parsed exactly with pandas 2 too
        )
    except (ValueError, TypeError) as exc:  # a bad cell: name it
        _raise_bad_cell(raw, numbers, path)
        raise AtlasInputError(path, "", f"cannot be read as a run table ({exc})") from None
    columns = {
        c: text_from_csv(raw[c])
        if kind == "text"
        else typed[c].astype({"float": float, "int": np.int64}.get(kind, kind))
        for c, kind in schema.items()
    }
    return pd.DataFrame(columns).set_index(pd.RangeIndex(len(raw)))


def conform_hourly(hourly: pd.DataFrame) -> pd.DataFrame:
    """The hourly table with text ids as pandas ``str`` (a PS ``007`` stays text)."""
    out = hourly.copy()
    for col in ("scenario", "ps_id"):
        if col in out.columns:  # some columns only (:meth:`Run.hourly_chunks`)
            out[col] = out[col].astype(TEXT)
    return out.reset_index(drop=True)


def conform_statistics(stats: pd.DataFrame) -> pd.DataFrame:
    """The statistics table with its text columns as pandas ``str``."""
    out = stats.copy()
    for col in ("scenario", "ps_id", "figure", "statistic"):
        if col in out.columns:
            out[col] = out[col].astype(TEXT)
    return out.reset_index(drop=True)


def conform_envelopes(envelopes: pd.DataFrame) -> pd.DataFrame:
    """scenario, ps_id, kind (text) and geometry (shapely) in that order."""
    out = conform(envelopes, ENVELOPE_SCHEMA)
    out["geometry"] = np.asarray(envelopes["geometry"], dtype=object)
    return out


# ---------------------------------------------------------------------------------------------
# The Run
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Run:
    """Everything one run of a study produced.

    Attributes
    ----------
    manifest : dict
        ``run.json``: ``format_version``, the study (file, checksum, name, year, timezone),
        ``scenarios`` in order, ``settings`` (the study file's sections, after any
        command-line override), ``overrides`` (what the command line changed, by key),
        ``inputs`` (paths and checksums), ``capability_parameters``, ``versions``,
        ``summary`` (the geodata stage's counts), ``figures`` (``{ps_id: [png paths
        relative to the folder]}``), ``timings_s`` and ``outputs``.
    substations : pandas.DataFrame
        One row per PS in study order: ps_id, name, lat, lon (the PS site, WGS84) [deg],
        rated_mva [MVA] (NaN where not given).
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw [MW], energy_mwh (of a battery,
        NaN on other rows) [MWh].
    ev : pandas.DataFrame
        scenario, ps_id, charging_points (of the register, 0 without one), energy_mwh
        (yearly EV charging energy) [MWh].
    envelopes : pandas.DataFrame
        scenario, ps_id, kind (``year``, ``cloud_convex``, ``cloud_concave``), geometry
        (shapely; x = P [MW], y = Q [Mvar], load convention).
    statistics : pandas.DataFrame
        Long-form statistics (:func:`atlas.analysis.stats.statistics`), read from the run
        folder on first use (see :attr:`statistics`; :meth:`select_statistics` reads a part
        chunk by chunk).
    screening : pandas.DataFrame
        Relief screening (:data:`atlas.analysis.stats.SCREENING_COLUMNS`).
    areas : geopandas.GeoDataFrame or None
        ps_id, area_km2 (measured in the study's metric CRS) [km2] and the service-area
        geometry (EPSG:4326), one row per PS; None without areas.
    boundary : geopandas.GeoDataFrame or None
        The study boundary (EPSG:4326).
    register : pandas.DataFrame or None
        Every DER of the register with the PS it joined (:data:`REGISTER_SCHEMA`).
    unassigned : pandas.DataFrame or None
        DERs outside every service area (:data:`UNASSIGNED_SCHEMA`).
    placement : pandas.DataFrame or None
        With ``[network]``: each register DER of a PS with a network and its bus
        (:data:`PLACEMENT_SCHEMA`, docs/network.md).
    folder : pathlib.Path or None
        The run folder the run was loaded from or saved to: the hourly table is read from
        it on first use, and the figures live in it.
    hourly_table : pandas.DataFrame or None
        The hourly table when it is in memory (see :attr:`hourly`).
    statistics_table : pandas.DataFrame or None
        The statistics when in memory (see :attr:`statistics`).
    network_table : pandas.DataFrame or None
        The network-aware hourly figures when in memory (see :attr:`network_hourly`).
    restate : bool
        The statistics are to be computed again from the hourly table at the run's
        ``[screening]`` settings (after :func:`atlas.pipeline.screen_run` on a run whose
        hourly table is in its folder): chunk by chunk when saved.
    """

    manifest: dict[str, Any]
    substations: pd.DataFrame
    capacity: pd.DataFrame
    ev: pd.DataFrame
    envelopes: pd.DataFrame
    screening: pd.DataFrame
    areas: Any = None
    boundary: Any = None
    register: pd.DataFrame | None = None
    unassigned: pd.DataFrame | None = None
    placement: pd.DataFrame | None = None
    folder: Path | None = None
    hourly_table: pd.DataFrame | None = field(default=None, repr=False)
    statistics_table: pd.DataFrame | None = field(default=None, repr=False)
    network_table: pd.DataFrame | None = field(default=None, repr=False)
    restate: bool = False

    def __post_init__(self) -> None:
        self.envelopes = conform_envelopes(self.envelopes)
        if self.statistics_table is not None:
            self.statistics_table = conform_statistics(self.statistics_table)
        for attr, (_, schema, _) in CSV_TABLES.items():
            table = getattr(self, attr)
            if table is not None:
                setattr(self, attr, conform(table, schema))
        if self.hourly_table is not None:
            self.hourly_table = conform_hourly(self.hourly_table)
        if self.network_table is not None:
            self.network_table = conform_network_hourly(self.network_table)
        if self.areas is not None:
            self.areas = _conform_areas(self.areas)

    # ---- views ------------------------------------------------------------------------------
    @property
    def scenarios(self) -> list[str]:
        """The run's scenarios in study order."""
        return list(self.manifest["scenarios"])

    @property
    def default_scenario(self) -> str:
        """The scenario the map, the report and the figures show first: the last listed, or
        the base of a what-if scenario (``run.json``'s ``what_if``), which comes after it."""
        return default_scenario(self.scenarios, self.manifest.get("what_if"))

    @property
    def ps_ids(self) -> list[str]:
        return list(self.substations["ps_id"])

    @property
    def settings(self) -> dict[str, Any]:
        """The settings the run used (study file, then command-line overrides)."""
        return self.manifest["settings"]

    @property
    def screening_settings(self) -> dict[str, Any]:
        """``[screening]``: threshold_mw [MW], threshold_mvar [Mvar], availability, sample_day."""
        return self.settings["screening"]

    @property
    def timezone(self) -> str:
        return self.manifest["study"]["timezone"]

    @property
    def names(self) -> dict[str, str]:
        """``{ps_id: name}``."""
        return dict(zip(self.substations["ps_id"], self.substations["name"], strict=True))

    @property
    def rated_mva(self) -> dict[str, float]:
        """``{ps_id: rated apparent power}``, NaN where not given. [MVA]"""
        return dict(zip(self.substations["ps_id"], self.substations["rated_mva"], strict=True))

    @property
    def figures(self) -> dict[str, list[str]]:
        """``{ps_id: [PNG paths relative to the run folder]}``."""
        return self.manifest.get("figures", {})

    @property
    def hourly(self) -> pd.DataFrame:
        """The hourly table (read from the run folder on first use).

        One row per scenario, ps_id and hour: scenario, ps_id, time (UTC), p_mw, q_mvar
        (PS point, load convention), the four figures and ``{figure}_{tech}`` (generator
        convention) [MW, Mvar], over_rating and daylight (bool).
        """
        if self.hourly_table is None:
            if self.folder is None:
                raise ValueError("this run has no hourly table and no folder to read it from")
            self.hourly_table = read_hourly(self.folder / HOURLY_PARQUET)
        return self.hourly_table

    @property
    def network_hourly(self) -> pd.DataFrame | None:
        """The network-aware figures of the PS with a network (read from the run folder on
        first use), None for a run without ``[network]``.

        One row per scenario, PS with a network and hour: scenario, ps_id, time (UTC),
        ``{figure}_net`` [MW, Mvar], ``{figure}_loss_mw`` (the linearised change in network
        losses) [MW], ``{figure}_binding`` (the binding limit, ``""`` where the resources'
        own sets bind) (:data:`atlas.network.stage.NETWORK_HOURLY_COLUMNS`).
        """
        if self.network_table is None and self.folder is not None:
            path = self.folder / NETWORK_HOURLY_PARQUET
            if path.is_file():
                self.network_table = read_network_hourly(path)
        return self.network_table

    @property
    def statistics(self) -> pd.DataFrame:
        """The statistics of every scenario and PS (read from the run folder on first use,
        or computed from the hourly table after a new screening). A run of many PS is
        better read in parts: :meth:`select_statistics`."""
        if self.statistics_table is None:
            self.statistics_table = self.select_statistics(None)
            self.restate = False
        return self.statistics_table

    def statistics_chunks(self) -> Iterator[pd.DataFrame]:
        """The statistics chunk of substations by chunk, every scenario of a chunk together
        (memory bounded by a chunk): from memory, from the folder's dataset, or computed from the hourly chunks
        after a new screening."""
        from atlas.dataset import iter_chunks

        if self.statistics_table is not None:
            yield self.statistics_table
        elif self.restate or self.folder is None:
            if self.hourly_table is not None:
                yield self._statistics_of(self.hourly_table)
            else:
                if self.folder is None:
                    raise ValueError("this run has no statistics and no folder to read them from")
                from atlas.analysis.stats import ARRAY_COLUMNS

                for hourly in self.hourly_chunks(ARRAY_COLUMNS):
                    yield self._statistics_of(hourly)
        else:
            for _, stats in iter_chunks(self.folder / STATISTICS_PARQUET):
                yield conform_statistics(stats)

    def _statistics_of(self, hourly: pd.DataFrame) -> pd.DataFrame:
        from atlas.analysis.stats import statistics

        st = self.screening_settings
        return statistics(hourly, self.timezone, st["threshold_mw"], st["threshold_mvar"])

    def select_statistics(
        self, keep: Callable[[pd.DataFrame], Any] | None, arrow_filter: Any = None
    ) -> pd.DataFrame:
        """The rows of the statistics that ``keep(table)`` (a boolean mask) selects, read
        chunk by chunk (:meth:`statistics_chunks`); every row with ``keep=None``.

        ``arrow_filter``, a pyarrow expression selecting the same rows (or more), lets the
        rows be picked while the folder's dataset is read (much faster for many PS)."""
        if (
            arrow_filter is not None
            and self.statistics_table is None
            and not self.restate
            and self.folder is not None
        ):
            from atlas.dataset import part_files, scan_parts

            table = scan_parts(part_files(self.folder / STATISTICS_PARQUET), arrow_filter)
            if keep is not None:
                table = table[np.asarray(keep(table), dtype=bool)]
            return conform_statistics(table.reset_index(drop=True))
        parts = [
            t if keep is None else t[np.asarray(keep(t), dtype=bool)]
            for t in self.statistics_chunks()
        ]
        if not parts:
            return conform_statistics(pd.DataFrame(columns=STATISTICS_COLUMNS))
        table = pd.concat(parts, ignore_index=True)
        # chunk after chunk -> the table's order: scenario by scenario, then as the chunks came
        index = {s: i for i, s in enumerate(self.scenarios)}
        sc = np.array([index.get(s, len(index)) for s in table["scenario"]])
        return conform_statistics(table.iloc[np.argsort(sc, kind="stable")])

    def hourly_chunks(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The hourly table chunk of substations by chunk, every scenario of the chunk's PS
        together: memory bounded by a chunk.

        ``columns``: only those of them the folder's dataset has, read from it (screening
        and statistics need 9 of its columns, :data:`atlas.analysis.stats.ARRAY_COLUMNS`,
        read in about a fifth of the time of them all); every column from a table in memory.
        """
        from atlas.dataset import dataset_columns, iter_chunks

        if self.hourly_table is not None:
            yield self.hourly_table
            return
        if self.folder is None:
            raise ValueError("this run has no hourly table and no folder to read it from")
        path = self.folder / HOURLY_PARQUET
        if columns is not None:
            have = set(dataset_columns(path))
            columns = [c for c in columns if c in have]
        for _, hourly in iter_chunks(path, None if columns is None else list(columns)):
            yield conform_hourly(hourly)

    def hourly_loaded(self) -> bool:
        """Whether the hourly table is in memory (a loaded run reads it on first use)."""
        return self.hourly_table is not None

    # ---- equality ---------------------------------------------------------------------------
    def differences(self, other: Run) -> list[str]:
        """What differs between two runs: the names of the tables (and ``manifest``) that are
        not equal. Tables are compared exactly, dtypes included; geometries by their
        coordinates."""
        out = []
        if self.manifest != other.manifest:
            out.append("manifest")
        for name in ("substations", "capacity", "ev", "screening", "statistics", "hourly"):
            if not _frames_equal(getattr(self, name), getattr(other, name)):
                out.append(name)
        for name in ("register", "unassigned"):
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None) or (a is not None and not _frames_equal(a, b)):
                out.append(name)
        if not _frames_equal(
            self.envelopes.drop(columns="geometry"), other.envelopes.drop(columns="geometry")
        ) or not _geoms_equal(self.envelopes["geometry"], other.envelopes["geometry"]):
            out.append("envelopes")
        for name in ("areas", "boundary"):
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None):
                out.append(name)
            elif a is not None and (
                a.crs != b.crs
                or not _frames_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
                or not _geoms_equal(a.geometry, b.geometry)
            ):
                out.append(name)
        return out

    def equals(self, other: Run) -> bool:
        """Every table and the manifest equal (see :meth:`differences`)."""
        return not self.differences(other)

    # ---- folder I/O -------------------------------------------------------------------------
    def write_into(
        self,
        folder: Path,
        views: Views | None = None,
        link_from: Path | None = None,
        tables_written: list[Path] | None = None,
    ) -> list[str]:
        """Write the whole run into ``folder`` (a staging folder): tables, views, manifest.

        The hourly table and the figures are hard-linked from ``link_from`` (default the
        folder the run was read from) where they are there, else the hourly table is written
        from memory; then the other tables; then each view in order (each writer's time in
        ``timings_s`` under the file's stem); ``run.json`` last, listing the files.

        Parameters
        ----------
        folder : pathlib.Path
        views : dict, optional
            ``{file name: writer(run, folder)}``: the pages built from the run (report, map)
            and any step that draws into the folder (figures).
        link_from : pathlib.Path, optional
        tables_written : list of pathlib.Path, optional
            The geodata stage's CSV tables, already written into ``folder``
            (:meth:`write_geodata`).

        Returns
        -------
        list of str
            The names written (as ``run.json["outputs"]``).
        """
        folder = Path(folder)
        t0 = time.perf_counter()
        source = link_from if link_from is not None else self.folder
        same = source is not None and source.resolve() == folder.resolve()
        if source is not None and (source / HOURLY_PARQUET).exists():
            if not same:  # the hourly table of the folder it came from, unchanged
                link_dataset(source / HOURLY_PARQUET, folder / HOURLY_PARQUET)
                if (source / HOURLY_CSV).is_file():
                    link_or_copy(source / HOURLY_CSV, folder / HOURLY_CSV)
        elif self.hourly_table is not None:
            write_hourly(self.hourly_table, folder, tuple(self.manifest_formats()))
        if source is not None and not same:
            for rel in sorted({r for paths in self.figures.values() for r in paths}):
                if (source / rel).is_file():
                    link_or_copy(source / rel, folder / rel)
        written = self.write_geodata(folder, tables_written)
        if source is not None and (source / NETWORK_HOURLY_PARQUET).is_file():
            if not same:
                link_or_copy(source / NETWORK_HOURLY_PARQUET, folder / NETWORK_HOURLY_PARQUET)
            written.append(folder / NETWORK_HOURLY_PARQUET)
        elif self.network_table is not None:
            written.append(write_network_hourly(self.network_table, folder))
        if self.placement is not None:
            name, schema, _ = CSV_TABLES["placement"]
            written.append(write_table(conform(self.placement, schema), folder / name))
        for attr in ("ev", "screening"):
            name, schema, _ = CSV_TABLES[attr]
            written.append(write_table(conform(getattr(self, attr), schema), folder / name))
        written.append(write_envelopes(self.envelopes, folder))
        written.append(self._write_statistics(folder, source, same))
        timings = self.manifest.setdefault("timings_s", {})
        timings["write"] = round(time.perf_counter() - t0, 4)
        self.folder = folder  # the views link the figures in it
        names = [p.name for p in written]
        names += [n for n in (HOURLY_PARQUET, HOURLY_CSV) if (folder / n).exists()]
        for name, writer in (views or {}).items():
            t1 = time.perf_counter()
            writer(self, folder)
            timings[Path(name).stem] = round(time.perf_counter() - t1, 4)
            if (folder / name).is_file():
                names.append(name)
        self.manifest["outputs"] = sorted(set(names))  # run.json and figures/ aside
        write_manifest(self.manifest, folder)
        return self.manifest["outputs"]

    def _write_statistics(self, folder: Path, source: Path | None, same: bool) -> Path:
        """Write (or link) ``statistics.parquet``: from memory, linked from the folder it was
        read from, or computed chunk by chunk after a new screening."""
        from atlas.dataset import write_part

        path = folder / STATISTICS_PARQUET
        if self.statistics_table is None and not self.restate and source is not None:
            if not same:
                link_dataset(source / STATISTICS_PARQUET, path)
            return path
        if same and path.exists():  # computed again into the folder it came from
            raise ValueError("cannot rewrite the statistics of a run into its own folder")
        scenarios = self.scenarios
        for c, stats in enumerate(self.statistics_chunks()):
            for s, scenario in enumerate(scenarios):
                write_part(stats[stats["scenario"] == scenario], path, s, c)
        self.restate = False  # computed once: the views read them from the new folder
        return path

    def write_geodata(self, folder: Path, tables_written: list[Path] | None = None) -> list[Path]:
        """Write the geodata stage's files: ``substations.csv``, ``capacity_by_ps.csv``,
        ``service_areas.geojson`` and ``boundary.geojson`` (when the run has them),
        ``der_register.csv`` and ``unassigned_ders.csv`` (with a register).

        ``tables_written``: the CSV tables are already in ``folder``
        (:func:`write_geodata_tables`, which a new run calls while its chunks compute)."""
        if tables_written is None:
            tables = {attr: getattr(self, attr) for attr in GEODATA_TABLES}
            tables_written = write_geodata_tables(tables, Path(folder))
        written = list(tables_written)
        if self.areas is not None:
            written.append(write_areas(self, Path(folder)))
        if self.boundary is not None:
            written.append(
                write_geojson(self.boundary, Path(folder) / BOUNDARY_GEOJSON, "boundary")
            )
        return written

    def manifest_formats(self) -> list[str]:
        """Hourly table formats of the run: parquet, and csv when asked for."""
        formats = self.settings.get("formats", ["parquet"])
        return ["parquet", *[f for f in formats if f != "parquet"]]

    def save(self, folder: str | Path, views: Views | None = None) -> Path:
        """Write the run into ``folder``, replacing what was there whole.

        Parameters
        ----------
        folder : path
            The run folder. An empty or missing folder, or one holding an earlier run, is
            accepted; any other is refused (:func:`check_run_folder`).
        views : dict, optional
            ``{file name: writer(run, staging_folder)}``, see :meth:`write_into`
            (:func:`atlas.pipeline.save_run` passes the report and the map).

        Returns
        -------
        pathlib.Path
            ``folder``; afterwards :attr:`folder` is it.
        """
        folder = Path(folder)
        with Staging(folder) as stage:
            self.write_into(stage.path, views, link_from=self.folder)
        self.folder = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Run:
        """Read a run folder (the hourly table lazily, on first use of :attr:`hourly`).

        Raises
        ------
        AtlasInputError
            Not a run folder, a format this version cannot read, a missing or malformed
            file.
        """
        folder = Path(folder)
        recover(folder)
        manifest = read_manifest(folder)
        tables: dict[str, Any] = {}
        for attr, (name, schema, required) in CSV_TABLES.items():
            path = folder / name
            if path.is_file():
                tables[attr] = read_table(path, schema)
            elif required:
                raise AtlasInputError(path, "", "not found, expected a file of the run folder")
            else:
                tables[attr] = None
        _check_complete(tables["screening"], manifest["scenarios"], folder / "screening.csv")
        _check_same_ps(tables, folder)
        return cls(
            manifest=manifest,
            envelopes=read_envelopes(folder / ENVELOPES_CSV),
            areas=read_geojson(folder / AREAS_GEOJSON, AREAS_SCHEMA, optional=True),
            boundary=read_geojson(folder / BOUNDARY_GEOJSON, {"name": "text"}, optional=True),
            folder=folder,
            **tables,
        )


def _conform_areas(areas):
    """Areas with the columns of :data:`AREAS_SCHEMA`; ``area_km2`` measured in the UTM zone
    of their centre where not given."""
    import geopandas as gpd
    import shapely

    from atlas.geo.layers import utm_crs

    if "area_km2" not in areas.columns:
        x0, y0, x1, y1 = areas.to_crs("EPSG:4326").total_bounds
        metric = areas.geometry.to_crs(utm_crs((x0 + x1) / 2, (y0 + y1) / 2))
        areas = areas.assign(area_km2=shapely.area(metric.to_numpy()) / 1e6)
    geoms = areas.geometry.to_numpy()
    return gpd.GeoDataFrame(conform(areas, AREAS_SCHEMA), geometry=list(geoms), crs=areas.crs)


def _check_complete(screening: pd.DataFrame, scenarios: list[str], path: Path) -> None:
    """A screening holds every scenario of the run, each with the same PS and directions."""
    got = pd.unique(screening["scenario"]).tolist()
    keys = screening.groupby("scenario")["ps_id"].size()
    if sorted(got) != sorted(scenarios) or keys.nunique() > 1:
        raise AtlasInputError(
            path,
            "scenario",
            f"holds scenarios {got} ({keys.to_dict()} rows), expected every scenario, PS and "
            f"direction of the run {scenarios} (run `atlas screen` on the folder)",
        )


def _check_same_ps(tables: dict[str, Any], folder: Path) -> None:
    """The run's per-PS tables name the PS of its substations.csv, no more, no fewer (a row
    deleted or added by hand would make the report and the map fail half-way)."""
    known = set(tables["substations"]["ps_id"])
    for attr in ("screening", "capacity", "ev"):
        table = tables[attr]
        if table is None:
            continue
        ids = set(table["ps_id"])
        extra, missing = sorted(ids - known), sorted(known - ids)
        if extra or (attr == "screening" and missing):
            name = CSV_TABLES[attr][0]
            what = (
                f"ps_id {extra[0]!r} is not in substations.csv"
                if extra
                else f"has no row for ps_id {missing[0]!r} of substations.csv"
            )
            raise AtlasInputError(
                folder / name,
                "ps_id",
                f"{what}, expected the same substations in every table of the run (run the "
                "study again)",
            )


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError:
        return False
    return True


def _geoms_equal(a, b) -> bool:
    import shapely

    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    return len(a) == len(b) and bool(np.all(shapely.equals_exact(a, b, tolerance=0.0)))


# ---------------------------------------------------------------------------------------------
# Writers and readers of single files
# ---------------------------------------------------------------------------------------------


def write_hourly(hourly: pd.DataFrame, folder: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write an hourly table held in memory: ``flexibility_hourly.parquet`` (a dataset, one
    part per scenario, :mod:`atlas.dataset`) and, with ``csv`` in ``formats``,
    ``flexibility_hourly.csv`` (times as ISO 8601 with ``Z``)."""
    from atlas.dataset import write_part

    written = [folder / HOURLY_PARQUET]
    scenarios = list(pd.unique(hourly["scenario"].astype(str)))
    for s, scenario in enumerate(scenarios):
        write_part(
            hourly[hourly["scenario"].astype(str) == scenario], folder / HOURLY_PARQUET, s, 0
        )
    if "csv" in formats:
        csv = hourly.assign(time=hourly["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        written.append(
            write_atomic(
                folder / HOURLY_CSV,
                lambda p: csv.to_csv(p, index=False, float_format="%.9g", lineterminator="\n"),
            )
        )
    return written


def write_network_hourly(table: pd.DataFrame, folder: Path) -> Path:
    """Write ``network_hourly.parquet`` (one file; scenario, ps_id and the binding limits as
    text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(folder) / NETWORK_HOURLY_PARQUET
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.cast(
        pa.schema(
            [
                pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
                for f in arrow.schema
            ],
            metadata=arrow.schema.metadata,
        )
    )
    write_atomic(path, lambda p: pq.write_table(arrow, p))
    return path


def read_network_hourly(path: Path) -> pd.DataFrame:
    """Read ``network_hourly.parquet``: text columns as text, whatever they hold."""
    import pyarrow.parquet as pq

    return conform_network_hourly(pq.read_table(path).to_pandas())


def conform_network_hourly(table: pd.DataFrame) -> pd.DataFrame:
    """The network-aware hourly table with its text columns as text."""
    table = table.copy()
    for col in table.columns:
        if col in ("scenario", "ps_id") or col.endswith("_binding"):
            table[col] = table[col].astype(TEXT)
    return table


def read_hourly(path: Path) -> pd.DataFrame:
    """Read ``flexibility_hourly.parquet`` (a dataset folder, or a single file of format 1)
    with its ids as text."""
    from atlas.dataset import read_dataset

    return conform_hourly(read_dataset(path))


def link_dataset(source: Path, dest: Path) -> None:
    """Hard-link a dataset's part files (or a single file) from ``source`` to ``dest``."""
    from atlas.dataset import part_files

    if source.is_file():
        link_or_copy(source, dest)
        return
    for part in part_files(source):
        link_or_copy(part, dest / part.name)


def write_envelopes(envelopes: pd.DataFrame, folder: Path) -> Path:
    """Write ``envelopes.csv``: scenario, ps_id, kind, wkt (to read) and wkb (hex, exact)."""
    import shapely

    geoms = np.asarray(envelopes["geometry"], dtype=object)
    table = conform(envelopes, ENVELOPE_SCHEMA).assign(
        wkt=shapely.to_wkt(geoms, rounding_precision=-1), wkb=shapely.to_wkb(geoms, hex=True)
    )
    return write_table(table, folder / ENVELOPES_CSV)


def read_envelopes(path: Path) -> pd.DataFrame:
    """Read ``envelopes.csv`` back into shapely geometries."""
    import shapely

    table = read_table(path, {**ENVELOPE_SCHEMA, "wkt": "text", "wkb": "text"})
    geoms = shapely.from_wkb(table["wkb"].to_numpy(dtype=object), on_invalid="ignore")
    bad = shapely.is_missing(geoms)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AtlasInputError(
            path, f"row {i + 1}, column wkb", "not valid WKB, expected a geometry", line=i + 2
        )
    return conform_envelopes(table.drop(columns=["wkt", "wkb"]).assign(geometry=geoms))


def _rfc7946(geoms: np.ndarray) -> np.ndarray:
    """Polygons with counter-clockwise exterior rings (RFC 7946's right-hand rule)."""
    import shapely

    return shapely.orient_polygons(geoms, exterior_cw=False)


def write_geojson(table, path: Path, layer: str) -> Path:
    """Write a layer in EPSG:4326 as GeoJSON, counter-clockwise exterior rings (RFC 7946).

    Written here rather than by GDAL so that every coordinate and number is in its shortest
    exact form (it reads back equal) and the bytes depend only on the data: one feature a
    line, properties in column order, missing numbers as ``null``.
    """
    import shapely

    geoms = _rfc7946(table.geometry.to_numpy())
    props = pd.DataFrame(table.drop(columns=table.geometry.name))
    cells = {c: props[c].to_numpy(dtype=object) for c in props.columns}  # not cell by cell
    lines = []
    for k, geom in enumerate(geoms):
        row = {c: _json_value(cells[c][k]) for c in props.columns}
        shape = None if geom is None else json.loads(shapely.to_geojson(geom))
        if shape is not None:
            shape["coordinates"] = _coordinates(geom)
        feature = {"type": "Feature", "properties": row, "geometry": shape}
        lines.append(json.dumps(feature, ensure_ascii=False, allow_nan=False))
    head = {
        "type": "FeatureCollection",
        "name": layer,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    }
    text = json.dumps(head)[:-1] + ',\n"features": [\n' + ",\n".join(lines) + "\n]\n}\n"
    return write_text_atomic(path, text)


def _json_value(value: Any) -> Any:
    """A property as JSON holds it: numbers exact, NaN and <NA> as null."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return value


def _coordinates(geom) -> list:
    """Nested coordinate lists of a (multi)polygon as Python floats (exact in JSON)."""
    import shapely

    if geom.geom_type == "MultiPolygon":
        return [_coordinates(part) for part in geom.geoms]
    if geom.geom_type == "Polygon":
        if geom.is_empty:
            return []
        rings = [geom.exterior, *geom.interiors]
        return [shapely.get_coordinates(ring).tolist() for ring in rings]
    return json.loads(shapely.to_geojson(geom))["coordinates"]


def read_geojson(path: Path, schema: dict[str, str], optional: bool = False):
    """Read a GeoJSON layer of the run folder: the schema's columns and the geometry
    (EPSG:4326)."""
    import geopandas as gpd
    import shapely

    if not path.is_file():
        if optional:
            return None
        raise AtlasInputError(path, "", "not found, expected a file of the run folder")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise AtlasInputError(path, "", f"cannot be read as GeoJSON ({exc})") from None
    missing = [c for c in schema if c not in gdf.columns]
    if missing:
        raise AtlasInputError(path, "properties", f"missing property {missing[0]!r}")
    geoms = gdf.geometry.to_numpy()
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    table = conform(gdf, schema)
    return gpd.GeoDataFrame(table, geometry=list(geoms), crs="EPSG:4326")


#: The geodata stage's CSV tables (``Run`` attributes, keys of :data:`CSV_TABLES`).
GEODATA_TABLES = ("substations", "capacity", "register", "unassigned")


def write_geodata_tables(tables: dict[str, Any], folder: Path) -> list[Path]:
    """Write the geodata stage's CSV tables (:data:`GEODATA_TABLES`, those not None) into
    ``folder``: they depend on the study alone, so a run writes them while its chunks
    compute. Returns the paths written."""
    written = []
    for attr in GEODATA_TABLES:
        name, schema, _ = CSV_TABLES[attr]
        table = tables.get(attr)
        if table is not None:
            written.append(write_table(conform(table, schema), Path(folder) / name))
    return written


def area_properties(run: Run) -> pd.DataFrame:
    """The properties of ``service_areas.geojson``, one row per area of ``run.areas``.

    ps_id, name, rated_mva [MVA], site_lat, site_lon (the PS site) [deg], area_km2
    [km2], ders (the register's rows joined to the PS; without a register, no column), ``cap_{scenario}_{technology}_mw`` [MW], ``cap_{scenario}_bess_mwh`` [MWh], and for a run (not
    ``atlas areas`` alone) ``ev_points_{scenario}`` (charging points of the register) and
    ``ev_mwh_{scenario}`` (yearly EV charging energy) [MWh].
    """
    from atlas.conventions import INSTALLED_TECHNOLOGIES

    areas = run.areas
    ps_ids = list(areas["ps_id"])
    sites = run.substations.set_index("ps_id").loc[ps_ids]
    table = pd.DataFrame(
        {
            "ps_id": ps_ids,
            "name": sites["name"].to_numpy(),
            "rated_mva": sites["rated_mva"].to_numpy(),
            "site_lat": sites["lat"].to_numpy(),
            "site_lon": sites["lon"].to_numpy(),
            "area_km2": areas["area_km2"].to_numpy(dtype=float),
        }
    )
    if run.register is not None:
        counts = run.register[run.register["ps_id"] != ""].groupby("ps_id").size()
        table["ders"] = counts.reindex(ps_ids, fill_value=0).to_numpy()
    pivot = run.capacity.groupby(["scenario", "technology", "ps_id"])["capacity_mw"].sum()
    bess = run.capacity[run.capacity["technology"] == "bess"]
    energy = bess.groupby(["scenario", "ps_id"])["energy_mwh"].sum() if len(bess) else None
    ev = run.ev.set_index(["scenario", "ps_id"])
    for scenario in run.scenarios:
        for tech in INSTALLED_TECHNOLOGIES:
            values = pivot.get((scenario, tech), pd.Series(dtype=float))
            table[f"cap_{scenario}_{tech}_mw"] = values.reindex(ps_ids, fill_value=0.0).to_numpy()
        stored = (
            energy.loc[scenario]
            if energy is not None and scenario in energy.index.get_level_values(0)
            else pd.Series(dtype=float)
        )
        table[f"cap_{scenario}_bess_mwh"] = stored.reindex(ps_ids, fill_value=0.0).to_numpy()
        if run.ev.empty:  # the geodata stage alone (`atlas areas`) computes no EV energy
            continue
        one = ev.loc[scenario] if scenario in ev.index.get_level_values(0) else None
        for col, name in (("charging_points", "ev_points"), ("energy_mwh", "ev_mwh")):
            values = one[col] if one is not None else pd.Series(dtype=float)
            table[f"{name}_{scenario}"] = values.reindex(ps_ids, fill_value=0).to_numpy()
    return table


def write_areas(run: Run, folder: Path) -> Path:
    """Write ``service_areas.geojson``: the areas with :func:`area_properties`."""
    import geopandas as gpd

    table = gpd.GeoDataFrame(
        area_properties(run), geometry=run.areas.geometry.to_numpy(), crs=run.areas.crs
    )
    return write_geojson(table, folder / AREAS_GEOJSON, "service_areas")


def capability_table(parameters: dict) -> dict[str, dict[str, Any]]:
    """The grid-code parameters a run used, as ``run.json`` records them:
    ``{"tech/level": {active_range, pf_inject, pf_absorb, p_min_pu, q_at_night, source}}``
    (power factors [-], p_min_pu [p.u. of Sn])."""
    return {
        f"{tech}/{level}": {
            "active_range": p.active_range,
            "pf_inject": p.pf_inject,
            "pf_absorb": p.pf_absorb,
            "p_min_pu": p.p_min_pu,
            "q_at_night": p.q_at_night,
            "source": p.source,
        }
        for (tech, level), p in sorted(parameters.items())
    }


def new_manifest(study, input_files: dict[str, Path], parameters: dict) -> dict[str, Any]:
    """The manifest of a new run: format, study, inputs' checksums, settings, parameters,
    versions (JSON-ready; the caller adds summary, figures, timings and outputs)."""
    import platform
    from datetime import UTC, datetime
    from importlib.metadata import version

    import shapely

    from atlas import __version__
    from atlas.files import sha256

    return json_ready(
        {
            "format_version": FORMAT_VERSION,
            "atlas_version": __version__,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "study": {
                "file": str(study.path),
                "sha256": sha256(study.path),
                **study.model.study.model_dump(),
            },
            "scenarios": study.scenarios,
            "inputs": {k: {"path": str(p), "sha256": sha256(p)} for k, p in input_files.items()},
            "settings": study.model.model_dump(mode="json", exclude={"study", "inputs"}),
            "overrides": {},
            "capability_parameters": capability_table(parameters),
            "versions": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "shapely": shapely.__version__,
                # read from its metadata: importing pvlib costs the main process 0.8 s
                "pvlib": version("pvlib"),
            },
        }
    )


def default_scenario(scenarios: list[str], what_if: dict | None) -> str:
    """The scenario a run shows first: the last of ``scenarios``, or the ``base`` of a
    what-if scenario (:func:`atlas.batch.with_what_if`), which is listed after its base."""
    if isinstance(what_if, dict) and what_if.get("base") in scenarios:
        return str(what_if["base"])
    return scenarios[-1]


def substations_table(geo) -> pd.DataFrame:
    """The PS of the geodata stage in study order (:data:`SUBSTATIONS_SCHEMA`): ps_id, name,
    lat, lon of the site (WGS84) [deg], rated_mva [MVA], oltc_dv_down, oltc_dv_up (the tap
    changers' band counted, from ``[oltc]`` or the substation table; empty where none). [p.u.]"""
    from atlas.geo.layers import WGS84

    sites = geo.sites.to_crs(WGS84)
    table = pd.DataFrame(
        {
            "ps_id": sites["ps_id"].to_numpy(),
            "name": sites["name"].to_numpy(),
            "lat": sites.geometry.y.to_numpy(),
            "lon": sites.geometry.x.to_numpy(),
            "rated_mva": sites["rated_mva"].to_numpy(dtype=float),
            "oltc_dv_down": sites["oltc_dv_down"].to_numpy(dtype=float),
            "oltc_dv_up": sites["oltc_dv_up"].to_numpy(dtype=float),
        }
    )
    return conform(table, SUBSTATIONS_SCHEMA)


def tables_from_geo(geo, capacity: pd.DataFrame) -> dict[str, Any]:
    """The run tables of the geodata stage (:class:`atlas.geo.join.GeoStage`).

    Returns
    -------
    dict
        substations, capacity, areas, boundary (EPSG:4326), register, unassigned; the
        keyword arguments of :class:`Run` that come from the geodata stage.
    """
    import geopandas as gpd

    from atlas.geo.layers import WGS84

    areas = boundary = register = unassigned = None
    if geo.areas is not None:
        areas = gpd.GeoDataFrame(
            conform(
                geo.areas.assign(area_km2=geo.areas.geometry.area / 1e6),  # metric CRS
                AREAS_SCHEMA,
            ),
            geometry=_rfc7946(geo.areas.geometry.to_crs(WGS84).to_numpy()),
            crs=WGS84,
        )
    if geo.boundary is not None:
        boundary = gpd.GeoDataFrame(
            {"name": pd.Series(["boundary"], dtype=TEXT)},
            geometry=_rfc7946(gpd.GeoSeries([geo.boundary], crs=geo.crs).to_crs(WGS84).to_numpy()),
            crs=WGS84,
        )
    if geo.register is not None:
        lon, lat = _wgs84_xy(geo.register.geometry)
        register = conform(
            pd.DataFrame(geo.register.drop(columns="geometry")).assign(lat=lat, lon=lon),
            REGISTER_SCHEMA,
        )
        unassigned = conform(geo.unassigned(), UNASSIGNED_SCHEMA)
    return {
        "substations": substations_table(geo),
        "capacity": conform(capacity, CAPACITY_SCHEMA),
        "areas": areas,
        "boundary": boundary,
        "register": register,
        "unassigned": unassigned,
    }


def _wgs84_xy(points) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of points (a GeoSeries) in WGS84: what ``to_crs(WGS84)``
    gives (the same transformer, ``always_xy``), without making a geometry per point (a
    national register has 1.5 million). [deg]"""
    import pyproj
    import shapely

    from atlas.geo.layers import WGS84

    xy = shapely.get_coordinates(points.to_numpy())
    if len(xy) != len(points):
        raise ValueError("expected one point per row")
    target = pyproj.CRS.from_user_input(WGS84)
    if points.crs is None or points.crs.is_exact_same(target):
        return xy[:, 0].copy(), xy[:, 1].copy()
    lon, lat = pyproj.Transformer.from_crs(points.crs, target, always_xy=True).transform(
        xy[:, 0], xy[:, 1]
    )
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def save_geodata(
    tables: dict[str, Any], scenarios: list[str], summary: dict, folder: str | Path
) -> list[Path]:
    """Save the geodata stage alone (``atlas areas``) into ``folder``, replacing it whole.

    Writes the files of :meth:`Run.write_geodata` and a ``run.json`` whose ``kind`` is
    ``areas`` (no hourly table, statistics or screening: :meth:`Run.load` refuses it).

    Returns
    -------
    list of pathlib.Path
        The files written, at their final place.
    """
    from atlas import __version__

    empty = pd.DataFrame()
    run = Run(
        manifest=json_ready(
            {
                "format_version": FORMAT_VERSION,
                "atlas_version": __version__,
                "kind": "areas",
                "scenarios": scenarios,
                "summary": summary,
            }
        ),
        ev=empty,
        envelopes=pd.DataFrame(columns=[*ENVELOPE_SCHEMA, "geometry"]),
        screening=empty,
        **tables,
    )
    folder = Path(folder)
    with Staging(folder) as stage:
        names = [p.name for p in run.write_geodata(stage.path)]
        run.manifest["outputs"] = sorted(names)
        write_manifest(run.manifest, stage.path)
    return [folder / name for name in names]


def write_manifest(manifest: dict, folder: Path) -> Path:
    """Write ``run.json`` (2-space indent, keys in insertion order)."""
    return write_text_atomic(folder / RUN_JSON, json.dumps(manifest, indent=2) + "\n")


def json_ready(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples as lists, paths and others as text)."""
    return json.loads(json.dumps(value, default=str))


def read_manifest(folder: Path) -> dict:
    """Read and check ``run.json``.

    Raises
    ------
    AtlasInputError
        Missing, not JSON, not an atlas run manifest, or a newer format.
    """
    path = Path(folder) / RUN_JSON
    if not path.is_file():
        raise AtlasInputError(path, "", "not found, expected the output folder of `atlas run`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AtlasInputError(
            path, f"line {exc.lineno}", f"not valid JSON ({exc.msg})", line=exc.lineno
        ) from None
    except (UnicodeDecodeError, OSError) as exc:
        raise AtlasInputError(path, "", f"cannot be read ({exc})") from None
    if not isinstance(data, dict) or "atlas_version" not in data:
        raise AtlasInputError(path, "", "not an atlas run manifest (no atlas_version)")
    if data.get("kind") == "areas":
        raise AtlasInputError(
            path, "kind", "the folder holds only service areas (`atlas areas`), expected a run"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise AtlasInputError(
            path,
            "format_version",
            f"got {version!r}, expected {FORMAT_VERSION}: run the study again with this "
            "version of atlas (`atlas run`)",
        )
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, list) or not scenarios:
        raise AtlasInputError(path, "scenarios", "expected a non-empty list of scenario names")
    return data


# ---------------------------------------------------------------------------------------------
# The folder as one unit: staging, swap, recovery
# ---------------------------------------------------------------------------------------------


def _sibling(folder: Path, what: str) -> Path:
    return folder.parent / f".{folder.name}.atlas-{what}"


def link_or_copy(src: Path, dest: Path) -> Path:
    """Hard-link ``src`` to ``dest`` (a copy where the file system has no hard links)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return dest


def foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` that are not part of a run (nor a kept README.md), sorted."""
    if not folder.is_dir():
        return []
    out = []
    for entry in folder.iterdir():
        name = entry.name
        if name in KEPT_FILES:
            continue
        if name == FIGURES_DIR and entry.is_dir() and not entry.is_symlink():
            out += [f"{name}/{rel}" for rel in _foreign_figures(entry)]
            continue
        if name in RUN_FILES and entry.is_file() and not entry.is_symlink():
            continue
        if name in DATASETS and entry.is_dir() and not entry.is_symlink():
            out += [f"{name}/{rel}" for rel in _foreign_parts(entry)]
            continue
        out.append(name)
    return sorted(out)


def _foreign_parts(folder: Path) -> list[str]:
    """What a dataset folder holds besides its part files."""
    from atlas.dataset import is_part

    return sorted(
        e.name
        for e in folder.iterdir()
        if not (is_part(e.name) and e.is_file() and not e.is_symlink())
    )


def _foreign_figures(folder: Path) -> list[str]:
    """What ``figures/`` holds besides the runs' PNGs (one folder per PS, PNGs in it)."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        depth = len(rel.parts)
        if path.is_symlink() or (depth == 1 and not path.is_dir()):
            out.append(rel.as_posix())
        elif depth == 2 and (path.suffix != ".png" or not path.is_file()):
            out.append(rel.as_posix())
        elif depth > 2:
            out.append(rel.as_posix())
    return out


def check_run_folder(folder: str | Path) -> None:
    """Refuse a folder that a run must not, or cannot, replace.

    A missing or empty folder, or one holding only the files of a run (and a README.md,
    kept), may be written. Anything else is refused: its contents are never touched.

    Raises
    ------
    AtlasInputError
        ``folder`` is a file, or holds a file or folder that is not part of a run, or holds
        run files without an atlas ``run.json``, or is read-only, or holds a read-only
        folder (its old run could not be removed).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AtlasInputError(folder, "", "is a file, expected a folder for the run")
    foreign = foreign_entries(folder)
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise AtlasInputError(
            folder,
            "",
            f"holds {shown}, which no atlas run wrote: expected an empty folder or the "
            "folder of an earlier run (choose another --out, or move those files)",
        )
    has_run_files = any((folder / n).exists() for n in RUN_FILES | {FIGURES_DIR} if n != RUN_JSON)
    if has_run_files:
        path = folder / RUN_JSON
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ours = isinstance(data, dict) and "atlas_version" in data
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise AtlasInputError(
                path,
                "",
                "missing or not an atlas run manifest, so the folder is not an atlas run "
                "folder: expected an empty folder or the folder of an earlier run",
            )
    _check_replaceable(folder)


def _check_replaceable(folder: Path) -> None:
    """Refuse a run folder this process may not empty: it or a folder in it is read-only
    (:func:`os.access`; the superuser passes)."""
    if not folder.is_dir():
        return
    for top, _, _ in os.walk(folder):
        if not os.access(top, os.W_OK | os.X_OK):
            exc = PermissionError(errno.EACCES, "permission denied", top)
            raise _folder_error(folder, exc, what="replace the run folder")


@contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder that holds the run folder, while the run folder is
    recovered or swapped (two atlas commands never rename in the same place at once)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(folder: str | Path) -> list[str]:
    """Undo what a killed atlas command left beside ``folder``.

    A swap killed between its two renames left no ``folder`` and the previous run under
    ``.{name}.atlas-old``: it is put back. A swap killed after them left that old run
    beside the new one: it is removed. Staging folders of processes that no longer run are
    removed.

    Returns
    -------
    list of str
        What was done, one line each.
    """
    folder = Path(folder)
    done: list[str] = []
    if not folder.parent.is_dir():
        return done
    with _lock(folder):
        old = _sibling(folder, "old")
        if old.is_dir():
            if not folder.exists():
                try:
                    os.rename(old, folder)
                except OSError as exc:
                    raise _folder_error(
                        folder, exc, what="restore the previous run", note=f"it is in {old}"
                    ) from None
                done.append(f"restored the previous run of {folder} (a swap was interrupted)")
            else:
                shutil.rmtree(old, ignore_errors=True)
                if not old.exists():
                    done.append(f"removed the previous run left beside {folder}")
        prefix = f".{folder.name}.atlas-staging-"
        for entry in folder.parent.iterdir():
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name[len(prefix) :].split("-")[0]
            if pid.isdigit() and _pid_alive(int(pid)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():  # (a read-only folder keeps it)
                done.append(f"removed {entry.name}, left by an interrupted run")
    return done


class Staging:
    """A staging folder beside a run folder, swapped into its place on success.

    >>> with Staging(Path("outputs")) as stage:  # doctest: +SKIP
    ...     (stage.path / "run.json").write_text("{}")

    On entering, the destination is recovered (:func:`recover`) and checked
    (:func:`check_run_folder`). On a clean exit the staging folder replaces the destination
    whole (a README.md of the destination is kept); on an error it is removed and the
    destination is left as it was. An OSError of writing the run folder (a read-only
    place, a full disk: :meth:`writing`) is raised as an :class:`AtlasInputError` naming
    the destination.
    """

    def __init__(self, dest: str | Path):
        self.dest = Path(dest).absolute()  # "." has no name to stage beside
        cwd = Path.cwd()
        if self.dest == cwd or self.dest in cwd.parents:
            raise AtlasInputError(
                dest,
                "",
                "is the current folder or holds it, expected a folder for the run below the "
                "current one (it is replaced whole), e.g. --out outputs",
            )
        self.path = self.dest.parent / (
            f".{self.dest.name}.atlas-staging-{os.getpid()}-{secrets.token_hex(4)}"
        )

    def __enter__(self) -> Staging:
        recover(self.dest)
        check_run_folder(self.dest)
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise _folder_error(self.dest, exc, self.path) from None
        fault_point("staged")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            if isinstance(exc, OSError) and self.writing(exc):  # a full disk, say
                raise _folder_error(self.dest, exc, self.path) from exc
            staged, where = str(self.path), getattr(exc, "path", None) or ""
            if isinstance(exc, AtlasInputError) and where.startswith(staged):
                # a file linked from the run into the staging folder: name it in the run
                raise AtlasInputError(
                    str(self.dest) + where[len(staged) :],
                    exc.where,
                    exc.problem.replace(staged, str(self.dest)),
                    exc.line,
                ) from None
            return
        try:
            for name in KEPT_FILES:
                if (self.dest / name).is_file() and not (self.path / name).exists():
                    link_or_copy(self.dest / name, self.path / name)
            fault_point("written")
            swap(self.path, self.dest)
        except OSError as err:
            shutil.rmtree(self.path, ignore_errors=True)
            if not self.writing(err):
                raise
            raise _folder_error(self.dest, err, self.path) from err
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise

    def writing(self, exc: OSError) -> bool:
        """Whether ``exc`` comes from writing the run folder: it names the staging folder,
        the run folder or a path in them, or the folder they are in; or it names no path
        (a write to an open file) and is one of :data:`atlas.files.WRITE_ERRORS`. An error
        about another path (an input file) is not the run folder's."""
        path = error_path(exc)
        if path is None:
            return exc.errno in WRITE_ERRORS
        places = (self.path, self.dest, _sibling(self.dest, "old"))
        return path == self.dest.parent or any(p == path or p in path.parents for p in places)


def swap(staging: Path, dest: Path) -> None:
    """Put ``staging`` in the place of ``dest``: two renames, then the old run removed.

    Killed between the renames, ``dest`` is missing and the old run waits beside it; the
    next :func:`recover` puts it back.
    """
    old = _sibling(dest, "old")
    with _lock(dest):
        check_run_folder(dest)  # nothing foreign arrived while the run was computing
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            os.rename(dest, old)
        fault_point("swap")
        try:
            os.rename(staging, dest)
        except OSError:
            if old.exists() and not dest.exists():
                os.rename(old, dest)  # the previous run back in its place
            raise
        fault_point("swapped")
        shutil.rmtree(old, ignore_errors=True)


def _folder_error(
    folder: Path,
    exc: OSError,
    staging: Path | None = None,
    what: str = "write the run folder",
    note: str = "the folder is left as it was",
) -> AtlasInputError:
    """The user error for an OSError while a run folder is written (a read-only place, a
    full disk: :func:`atlas.files.folder_error`), naming the run folder. A path in the
    staging folder is named as the run file it was to be; the staging folder itself, as
    the folder that holds the run folder."""
    path = error_path(exc)
    shown = None
    if staging is not None and path is not None and (path == staging or staging in path.parents):
        rel = path.relative_to(staging)
        shown = folder.parent if rel == Path() else folder / rel
    return folder_error(folder, exc, what, shown, note)
