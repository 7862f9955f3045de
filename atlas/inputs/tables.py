"""Readers of the study's tabular inputs, normalised at the boundary.

Every reader checks what it reads and raises :class:`~atlas.errors.AtlasInputError` naming the
file, the row, the line (for CSV: 0-based data row i is line i + 2, under the header) and what
is expected, through the shared checks of :mod:`atlas.inputs.checks`. The core never sees a
foreign column name, a local-time stamp or a kW value.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.conventions import EV_LOCATIONS, INSTALLED_TECHNOLOGIES, LEVELS
from atlas.errors import AtlasInputError
from atlas.inputs.checks import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    check_text,
    code_column,
    csv_line,
    first_duplicate,
    float_values,
    id_column,
    numeric_column,
    raise_first_bad,
    read_csv_table,
    record_label,
    shown,
    unknown_ps,
)
from atlas.inputs.timeaxis import N_HOURS, hourly_axis

#: Optional substation columns: each PS's tap-changer band below and above 1 p.u. [p.u.]
OLTC_COLUMNS = ("oltc_dv_down", "oltc_dv_up")


def oltc_band_columns(
    df: pd.DataFrame, path: Path, is_csv: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The per-PS tap-changer bands of a substation table (optional columns
    ``oltc_dv_down``, ``oltc_dv_up``).

    Parameters
    ----------
    df : pandas.DataFrame
        The substations as read, rows in file order (CSV text or a layer's attributes).
    path : pathlib.Path
        The file, for messages.
    is_csv : bool
        Whether rows are CSV rows (messages give their line).

    Returns
    -------
    dv_down, dv_up : numpy.ndarray
        (n_rows,) the band below and above 1 p.u.; NaN in both where a row leaves both
        empty (or the table has neither column). [p.u.]

    Raises
    ------
    AtlasInputError
        One column without the other; the first row whose value is not a number in
        [0, 0.5), or that gives one end of the band without the other.
    """
    given = [c for c in OLTC_COLUMNS if c in df.columns]
    if not given:
        return np.full(len(df), np.nan), np.full(len(df), np.nan)
    if len(given) == 1:
        other = next(c for c in OLTC_COLUMNS if c not in given)
        raise AtlasInputError(
            path,
            "header",
            f"column {given[0]!r} without {other!r}, expected both ends of the tap "
            "changers' band (below and above 1 p.u.) or neither",
        )
    ends = []
    for col in OLTC_COLUMNS:
        cells = df[col]
        text = cells.astype("string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
        values = np.array(float_values(cells), dtype=float)  # a copy: empty cells become NaN
        with np.errstate(invalid="ignore"):
            bad = ~empty & ~(np.isfinite(values) & (values >= 0.0) & (values < 0.5))
        raise_first_bad(
            bad,
            path,
            f"column {col}",
            partial(_band_problem, cells),
            is_csv=is_csv,
        )
        values[empty] = np.nan
        ends.append(values)
    down, up = ends
    raise_first_bad(
        np.isnan(down) != np.isnan(up),
        path,
        "oltc_dv_down, oltc_dv_up",
        "one end of the tap changers' band, expected both or neither",
        is_csv=is_csv,
    )
    return down, up


def _band_problem(cells: pd.Series, i: int) -> str:
    return f"got {shown(cells.iloc[i])}, expected the band's end in [0, 0.5) p.u. or empty"


def read_substations(path: Path) -> pd.DataFrame:
    """Read the primary substations.

    Parameters
    ----------
    path : pathlib.Path
        CSV with columns ``ps_id, name, lat, lon, rated_mva`` (WGS84 degrees, MVA) and,
        optionally, ``oltc_dv_down, oltc_dv_up`` (:func:`oltc_band_columns`). Vector layers
        are read by :func:`atlas.geo.join.read_sites`.

    Returns
    -------
    pandas.DataFrame
        Columns ps_id (str), name (str), lat, lon [deg], rated_mva [MVA], oltc_dv_down,
        oltc_dv_up [p.u., NaN where not given], in file order.
    """
    df = read_csv_table(
        path, ["ps_id", "name", "lat", "lon", "rated_mva"], dtype={"ps_id": str, "name": str}
    )
    out = pd.DataFrame(
        {
            "ps_id": id_column(df, "ps_id", path),
            "name": df["name"].astype("string").fillna("").astype(str),  # "NA" stays "NA"
            "lat": numeric_column(df, "lat", path, -90, 90),
            "lon": numeric_column(df, "lon", path, -180, 180),
            "rated_mva": numeric_column(df, "rated_mva", path, 0),
        }
    )
    out["oltc_dv_down"], out["oltc_dv_up"] = oltc_band_columns(df, path)
    raise_first_bad(
        out["rated_mva"].to_numpy() == 0,
        path,
        "rated_mva",
        "0, expected the transformers' rating > 0 [MVA]",
    )
    check_text(out["ps_id"], path, "ps_id", MAX_ID_CHARS)
    check_text(out["name"], path, "name", MAX_NAME_CHARS)
    raise_first_bad(
        out["ps_id"].duplicated(),
        path,
        "ps_id",
        lambda i: f"duplicate ps_id {out['ps_id'].iloc[i]!r}, expected each PS once",
    )
    if out.empty:
        raise AtlasInputError(path, "", "no substation, expected at least one row")
    return out


def read_weights(path: Path, ps_ids: list[str], column: str = "weight") -> pd.Series:
    """A table of one weight per PS (``ps_id`` and ``column``): EV allocation weights, growth
    weights.

    Parameters
    ----------
    path : pathlib.Path
        The CSV.
    ps_ids : list of str
        The study's PS, in order.
    column : str, default ``"weight"``
        The weight column.

    Returns
    -------
    pandas.Series
        The weights indexed by ``ps_ids``, 0 for a PS the table does not list. [-]

    Raises
    ------
    AtlasInputError
        The file cannot be read as CSV (not UTF-8, empty), lacks a column or holds no
        row; the first row
        with an empty, duplicate or unknown ``ps_id`` (ids are text: ``007`` and ``NA``
        are ids), or a weight that is not a finite number >= 0.
    """
    df = read_csv_table(path, ["ps_id", column], dtype=str, keep_default_na=False)
    if df.empty:
        raise AtlasInputError(
            path, "", f"holds no rows, expected a row (ps_id, {column}) per PS with a weight"
        )
    ids = id_column(df, "ps_id", path)
    pair = first_duplicate(ids.to_numpy())
    if pair is not None:
        label, line = record_label(pair)
        raise AtlasInputError(
            path,
            f"{label}, ps_id",
            f"duplicate {ids.iloc[pair[1]]!r}, expected each ps_id once",
            line=line,
        )
    raise_first_bad(
        ~ids.isin(ps_ids).to_numpy(),
        path,
        "ps_id",
        lambda i: f"{ids.iloc[i]!r} {unknown_ps(ps_ids)}",
    )
    weights = numeric_column(df, column, path, lo=0)
    return pd.Series(weights, index=ids.to_numpy()).reindex(ps_ids, fill_value=0.0)


def read_capacity(path: Path, scenarios: list[str], ps_ids: list[str]) -> pd.DataFrame:
    """Read installed capacities per scenario, PS, technology and connection level.

    Parameters
    ----------
    path : pathlib.Path
        CSV ``scenario, ps_id, technology, capacity_mw[, level][, energy_mwh]``; ``level``
        MV or LV, default MV; technologies pv, chp, biomass, hydro, wind, bess (capacity:
        the converter's rating, with its usable energy in ``energy_mwh``) and statcom (the
        rating, read as MVA). EV capacity comes from the EV charging input.
    scenarios, ps_ids : list of str
        The study's scenarios and substations: anything else is an error.

    Returns
    -------
    pandas.DataFrame
        Columns scenario, ps_id, technology, level (str), capacity_mw [MW], energy_mwh
        [MWh] (NaN but on bess rows). A (scenario, PS, technology, level) key appears
        once; every scenario has a row.
    """
    df = read_csv_table(
        path,
        ["scenario", "ps_id", "technology", "capacity_mw"],
        dtype={
            "scenario": str,
            "ps_id": str,
            "technology": str,
            "level": str,
            "energy_mwh": str,
        },
    )
    level = df["level"] if "level" in df.columns else pd.Series("MV", index=df.index)
    out = pd.DataFrame(
        {
            "scenario": id_column(df, "scenario", path),
            "ps_id": id_column(df, "ps_id", path),
            "technology": df["technology"].astype("string").str.strip().str.lower().fillna(""),
            "level": level.astype("string").str.strip().str.upper().fillna("MV").replace("", "MV"),
            "capacity_mw": numeric_column(df, "capacity_mw", path, 0),
        }
    )
    out["energy_mwh"] = storage_energy(df, out["technology"], out["capacity_mw"], path)
    checks = [
        ("scenario", set(scenarios), f"not a scenario of the study, expected one of {scenarios}"),
        ("ps_id", set(ps_ids), unknown_ps(ps_ids).removeprefix("is ")),
        (
            "technology",
            set(INSTALLED_TECHNOLOGIES),
            f"expected one of {list(INSTALLED_TECHNOLOGIES)} (EV power comes from the EV input)",
        ),
        ("level", set(LEVELS), f"expected one of {list(LEVELS)}"),
    ]

    def not_allowed(col: str, expected: str, i: int) -> str:
        return f"{out[col].iloc[i]!r} {expected}"

    for col, allowed, expected in checks:
        raise_first_bad(~out[col].isin(allowed), path, col, partial(not_allowed, col, expected))

    def duplicate(i: int) -> str:
        r = out.iloc[i]
        return (
            f"duplicate key ({r.scenario}, {r.ps_id}, {r.technology}, {r.level}), "
            "expected one row per scenario, ps_id, technology and level"
        )

    raise_first_bad(
        out.duplicated(["scenario", "ps_id", "technology", "level"]), path, None, duplicate
    )
    given = set(out["scenario"])
    missing = [s for s in scenarios if s not in given]
    if missing:  # a forgotten scenario would run with no DER at all, silently
        raise AtlasInputError(
            path,
            "scenario",
            f"no row for scenario {missing[0]!r}, expected rows for every scenario of the "
            f"study {scenarios} (a scenario without DERs: one row with capacity_mw 0)",
        )
    return out


def storage_energy(
    df: pd.DataFrame,
    technology: pd.Series,
    capacity_mw: np.ndarray,
    path: Path,
    column: str = "energy_mwh",
    scale: float = 1.0,
    is_csv: bool = True,
) -> np.ndarray:
    """The usable energy of each battery row, NaN on the other rows.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read, with ``column`` if it has one.
    technology : pandas.Series
        Each row's technology (lower case).
    capacity_mw : numpy.ndarray
        Each row's capacity. [MW]
    path : pathlib.Path
    column : str
        ``energy_mwh`` (or the register's ``energy_kwh``, with ``scale`` 1e-3).
    scale : float
        To MWh. [MWh per unit of the column]
    is_csv : bool

    Returns
    -------
    numpy.ndarray
        (n_rows,) energy [MWh]: > 0 on every bess row with capacity, NaN elsewhere.

    Raises
    ------
    AtlasInputError
        A bess row with capacity but no energy (or the column missing), an energy that is
        not a finite number >= 0, or an energy on a row of another technology.
    """
    is_bess = (technology == "bess").to_numpy()
    needed = is_bess & (np.asarray(capacity_mw) > 0)
    if column not in df.columns:
        raise_first_bad(
            needed,
            path,
            "technology",
            f"a bess row without {column}, expected the battery's usable energy in a "
            f"column {column} (its capacity is the converter's rating)",
            is_csv=is_csv,
        )
        return np.full(len(df), np.nan)
    text = df[column].astype("string").str.strip().fillna("")
    given = (text != "").to_numpy()
    raise_first_bad(
        given & ~is_bess,
        path,
        column,
        lambda i: (
            f"{text.iloc[i]!r} on a {technology.iloc[i]!r} row, expected an energy only on "
            "bess rows (empty elsewhere)"
        ),
        is_csv=is_csv,
    )
    raise_first_bad(
        needed & ~given,
        path,
        column,
        "empty on a bess row, expected the battery's usable energy",
        is_csv=is_csv,
    )
    values = np.full(len(df), np.nan)
    if given.any():
        values[given] = float_values(text[given])
    raise_first_bad(
        given & ~(values >= 0) | given & ~np.isfinite(values),
        path,
        column,
        lambda i: f"got {text.iloc[i]!r}, expected a finite number >= 0",
        is_csv=is_csv,
    )
    raise_first_bad(
        needed & (values <= 0),
        path,
        column,
        "0 on a bess row with capacity, expected the battery's usable energy > 0",
        is_csv=is_csv,
    )
    return np.where(is_bess, values * scale, np.nan)


def _stamp_positions(values: pd.Series, year: int, path: Path, col: str = "time") -> np.ndarray:
    """Position on the hourly axis of ``year`` of each row's stamp.

    Stamps are ISO 8601 with an explicit offset (``Z`` or ``+01:00``), converted to UTC; a
    naive, unparsable or off-axis stamp is an error naming its row. Each distinct text is
    parsed once (a long table repeats the same 8760 stamps per PS).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string").str.strip()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
    bad_unique = parsed.isna().to_numpy() | ~has_offset.to_numpy(dtype=bool)
    raise_first_bad(
        (codes < 0) | bad_unique[np.maximum(codes, 0)],
        path,
        col,
        lambda i: (
            f"got {values.iloc[i]!r}, expected an ISO 8601 UTC stamp such as {year}-01-01T00:00:00Z"
        ),
    )
    axis = hourly_axis(year)
    pos_unique = axis.get_indexer(pd.DatetimeIndex(parsed))
    pos = pos_unique[codes]
    raise_first_bad(
        pos < 0,
        path,
        col,
        lambda i: (
            f"stamp {values.iloc[i]!r} is not an hour of the {year} axis (UTC, on the hour, 29 February excluded)"
        ),
    )
    return pos


def read_load(path: Path, year: int, ps_ids: list[str], load_year: int | None = None) -> np.ndarray:
    """Read the measured PS load on the study axis.

    Parameters
    ----------
    path : pathlib.Path
        CSV or Parquet (``.parquet``) ``time, ps_id, p_mw, q_mvar``: UTC ISO 8601 stamps
        (in Parquet also a timestamp column with a time zone), PS load convention (P > 0
        from transmission into distribution, Q > 0 absorbed by distribution).
    year : int
        The study year.
    ps_ids : list of str
        Every PS must have exactly the 8760 stamps; other PS are an error.
    load_year : int, optional
        Year the series was measured in, if not ``year``: the stamps must be that year's
        axis, and step i moves to step i of the study axis (same position in the year, so
        weekdays shift; 29 February of a leap year is not on any axis).

    Returns
    -------
    numpy.ndarray
        (n_ps, 8760, 2): P [MW] and Q [Mvar] per PS in ``ps_ids`` order, load convention.
    """
    if is_parquet(path):
        check_load_parquet(path, ps_ids)
        return read_load_parquet(path, year, ps_ids, load_year)
    df = read_csv_table(
        path, ["time", "ps_id", "p_mw", "q_mvar"], dtype={"time": str, "ps_id": str}
    )
    return load_from_table(df, path, year, ps_ids, load_year)


def is_parquet(path: Path) -> bool:
    """Whether an input table is Parquet (by its suffix, ``.parquet`` or ``.pq``)."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


#: Columns of a load table.
LOAD_COLUMNS = ["time", "ps_id", "p_mw", "q_mvar"]


def check_load_parquet(path: Path, ps_ids: list[str]) -> None:
    """Check a Parquet load table's columns and that it names only known PS, reading only
    its schema and its ``ps_id`` column (the hours are checked chunk by chunk as they are
    read, :func:`read_load_parquet`).

    Raises
    ------
    AtlasInputError
        Not Parquet, a column missing, or an unknown ps_id (named).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise AtlasInputError(path, "", "not found") from None
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise AtlasInputError(path, "", f"cannot be read as parquet ({exc})") from None
    missing = [c for c in LOAD_COLUMNS if c not in pf.schema_arrow.names]
    if missing:
        raise AtlasInputError(
            path, "columns", f"missing {missing}, expected columns {', '.join(LOAD_COLUMNS)}"
        )
    known = set(ps_ids)
    if pa.types.is_string(pf.schema_arrow.field("ps_id").type):
        # text ids read as dictionaries: each row group's distinct ids without a string per row
        pf = pq.ParquetFile(path, read_dictionary=["ps_id"])
    for g in range(pf.num_row_groups):
        col = pf.read_row_group(g, columns=["ps_id"]).column(0)
        if col.null_count:
            raise AtlasInputError(
                path, f"row group {g}, ps_id", "empty ps_id, expected a known ps_id"
            )
        if pa.types.is_dictionary(col.type):  # the ids the rows use (not every entry)
            values = pc.cast(
                pa.chunked_array(
                    [c.dictionary.take(pc.unique(c.indices)) for c in col.chunks],
                    col.type.value_type,
                ),
                "string",
            )
        else:
            values = pc.cast(col, "string")
        for value in pc.unique(values).to_pylist():
            if value not in known:
                raise AtlasInputError(
                    path,
                    f"ps_id={value}",
                    unknown_ps(ps_ids),
                )


def read_load_parquet(
    path: Path, year: int, ps_ids: list[str], load_year: int | None = None
) -> np.ndarray:
    """The load of some PS from a Parquet load table, reading only their rows.

    Like :func:`read_load` for the PS in ``ps_ids`` (other PS in the file are skipped: call
    :func:`check_load_parquet` once for the whole table). Rows are named by their ps_id and
    stamp in errors (a filtered read has no global row number).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path, format="parquet")
        table = dataset.to_table(columns=LOAD_COLUMNS, filter=ds.field("ps_id").isin(list(ps_ids)))
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise AtlasInputError(path, "", f"cannot be read as parquet ({exc})") from None
    time_type = table.schema.field("time").type
    if pa.types.is_timestamp(time_type) and time_type.tz is None:
        raise AtlasInputError(
            path,
            "time",
            "timestamps without a time zone, expected UTC timestamps (or ISO 8601 text with Z)",
        )
    df = table.to_pandas()
    # timestamps stay as they are (placed on the axis as instants) and so do the ids (the
    # filter kept only ps_ids' rows); text, or anything else, is parsed as written
    if not isinstance(df["time"].dtype, pd.DatetimeTZDtype):
        df["ps_id"] = df["ps_id"].astype(str)
        df["time"] = df["time"].astype(str)
    return load_from_table(df, path, year, ps_ids, load_year, rows="ps_id")


def _timestamp_positions(values: pd.Series, year: int, path: Path, col: str = "time") -> np.ndarray:
    """Position on the hourly axis of ``year`` of each row's timestamp (time zone aware).

    The stamps are compared with the axis as instants (in UTC), nothing is formatted unless
    a message shows a stamp. A fraction of a second is dropped, as when the stamps were
    compared as whole-second text. An empty stamp (NaT) or an off-axis stamp is an error
    naming its row, in the words of :func:`_stamp_positions`, the stamp shown in UTC.
    """
    stamps = pd.DatetimeIndex(values).tz_convert("UTC")
    axis = hourly_axis(year)
    pos = axis.get_indexer(stamps)
    missed = pos < 0
    if not missed.any():
        return pos
    raise_first_bad(
        stamps.isna(),
        path,
        col,
        lambda i: (
            f"got {values.iloc[i]!r}, expected an ISO 8601 UTC stamp such as {year}-01-01T00:00:00Z"
        ),
    )
    pos[missed] = axis.get_indexer(stamps[missed].floor("s"))
    raise_first_bad(
        pos < 0,
        path,
        col,
        lambda i: (
            f"stamp {_stamp_text(values.iloc[i])!r} is not an hour of the {year} axis (UTC, on the hour, 29 February excluded)"
        ),
    )
    return pos


def _stamp_text(value) -> str:
    """A row's stamp as messages show it: text as written, a timestamp in UTC to the second
    (``2030-01-01T05:00:00Z``)."""
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def load_from_table(
    df: pd.DataFrame,
    path: Path,
    year: int,
    ps_ids: list[str],
    load_year: int | None = None,
    rows: str = "csv",
) -> np.ndarray:
    """The (n_ps, 8760, 2) load array of a table ``time, ps_id, p_mw, q_mvar``, checked as
    :func:`read_load` says. ``time`` is text, or time zone aware timestamps (a Parquet
    table). ``rows="ps_id"`` names a bad row by its PS and stamp rather than its file line
    (a filtered read)."""
    ps = code_column(df, "ps_id", path, ps_ids, unknown_ps(ps_ids))
    p = numeric_column(df, "p_mw", path)
    q = numeric_column(df, "q_mvar", path)
    source_year = load_year or year
    if isinstance(df["time"].dtype, pd.DatetimeTZDtype):
        pos = _timestamp_positions(df["time"], source_year, path)
    else:
        pos = _stamp_positions(df["time"], source_year, path)
    key = ps * N_HOURS + pos
    count = np.bincount(key, minlength=len(ps_ids) * N_HOURS)  # per (PS, hour)
    pair = first_duplicate(key) if (count > 1).any() else None
    if pair is not None:
        dup = pair[1]
        where = f"row {dup + 1}, " if rows == "csv" else ""
        raise AtlasInputError(
            path,
            f"{where}ps_id={ps_ids[ps[dup]]}",
            f"duplicate stamp {_stamp_text(df['time'].iloc[dup])}, expected each hour once per PS",
            line=csv_line(dup) if rows == "csv" else None,
        )
    have = count.reshape(len(ps_ids), N_HOURS) > 0
    if not have.all():
        k, first = np.argwhere(~have)[0]
        axis = hourly_axis(source_year)
        n_missing = int((~have[k]).sum())
        problem = (
            f"no row for this substation, expected its {N_HOURS} hours of {source_year}"
            if n_missing == N_HOURS
            else f"missing stamp {axis[first].strftime('%Y-%m-%dT%H:%M:%SZ')}"
            + (f" (and {n_missing - 1} more)" if n_missing > 1 else "")
            + f", expected all {N_HOURS} hours of {source_year}"
        )
        raise AtlasInputError(path, f"ps_id={ps_ids[k]}", problem)
    out = np.empty((len(ps_ids), N_HOURS, 2))
    out[ps, pos, 0] = p
    out[ps, pos, 1] = q
    return out


def read_profile(path: Path) -> np.ndarray:
    """Read a per-unit profile: 8760 rows, column ``pu`` in [0, 1], row i = hour i of the axis.

    Returns
    -------
    numpy.ndarray
        (8760,) per unit of installed capacity. [-]
    """
    df = read_csv_table(path, ["pu"])
    if len(df) != N_HOURS:
        raise AtlasInputError(
            path, "rows", f"{len(df)} rows, expected {N_HOURS} (one per hour of the study axis)"
        )
    return numeric_column(df, "pu", path, 0.0, 1.0)


def read_bess_schedule(path: Path, ps_ids: list[str], year: int) -> np.ndarray:
    """Read battery schedules per unit of each battery's converter rating.

    Parameters
    ----------
    path : pathlib.Path
        CSV ``time, pu`` (one schedule for every battery) or ``time, ps_id, pu`` (one per
        PS; a PS without rows keeps its batteries idle). ``pu`` in [-1, 1], generator
        convention (> 0 discharges); every hour of the axis once per PS listed.
    ps_ids : list of str
        The study's substations.
    year : int
        The study year (stamps on its axis, ISO 8601 UTC).

    Returns
    -------
    numpy.ndarray
        (8760,) for a shared schedule, else (n_ps, 8760). [-]
    """
    df = read_csv_table(path, ["time", "pu"], dtype={"time": str, "ps_id": str})
    pu = numeric_column(df, "pu", path, -1.0, 1.0)
    pos = _stamp_positions(df["time"], year, path)
    per_ps = "ps_id" in df.columns
    ps = code_column(df, "ps_id", path, ps_ids, unknown_ps(ps_ids)) if per_ps else 0 * pos
    key = ps * N_HOURS + pos
    pair = first_duplicate(key)
    if pair is not None:
        dup = pair[1]
        what = f"{ps_ids[ps[dup]]}, " if per_ps else ""
        raise AtlasInputError(
            path,
            f"row {dup + 1}",
            f"duplicate ({what}{df['time'].iloc[dup]}), expected one row per "
            + ("ps_id and hour" if per_ps else "hour"),
            line=csv_line(dup),
        )
    counts = np.bincount(ps, minlength=len(ps_ids) if per_ps else 1)
    short = np.flatnonzero((counts > 0) & (counts < N_HOURS))
    if len(short):
        whose = f"ps_id {ps_ids[short[0]]!r}: " if per_ps else ""
        raise AtlasInputError(
            path,
            "time",
            f"{whose}{counts[short[0]]} hours, expected every one of the {N_HOURS} hours of "
            f"the {year} axis",
        )
    out = np.zeros((len(ps_ids) if per_ps else 1, N_HOURS))
    out[ps, pos] = pu
    return out if per_ps else out[0]


def read_ev(
    path: Path, scenarios: list[str], ps_ids: list[str], year: int
) -> dict[str, np.ndarray]:
    """Read EV charging power per scenario, PS, location and hour.

    Parameters
    ----------
    path : pathlib.Path
        CSV ``scenario, time, ps_id, location, p_mw``: p_mw >= 0 is charging power [MW];
        a missing (scenario, ps_id, location, hour) is 0. Locations: home, work, b2c,
        public.
    scenarios, ps_ids : list of str
        Declared scenarios and substations; anything else is an error.
    year : int
        The study year (stamps must be on its axis).

    Returns
    -------
    dict
        ``{scenario: array (n_ps, n_locations, 8760)}`` with locations in the order of
        :data:`atlas.conventions.EV_LOCATIONS`; scenarios without rows get zeros. [MW]
    """
    df = read_csv_table(
        path,
        ["scenario", "time", "ps_id", "location", "p_mw"],
        dtype={"scenario": str, "time": str, "ps_id": str, "location": str},
    )
    scen = code_column(
        df,
        "scenario",
        path,
        scenarios,
        f"is not a scenario of the study, expected one of {scenarios}",
    )
    ps = code_column(df, "ps_id", path, ps_ids, unknown_ps(ps_ids))
    loc = code_column(
        df, "location", path, list(EV_LOCATIONS), f"expected one of {list(EV_LOCATIONS)}"
    )
    p = numeric_column(df, "p_mw", path, 0.0)
    pos = _stamp_positions(df["time"], year, path)
    key = ((scen * len(ps_ids) + ps) * len(EV_LOCATIONS) + loc) * N_HOURS + pos
    pair = first_duplicate(key)
    if pair is not None:
        dup = pair[1]
        raise AtlasInputError(
            path,
            f"row {dup + 1}",
            f"duplicate ({scenarios[scen[dup]]}, {df['time'].iloc[dup]}, {ps_ids[ps[dup]]}, {EV_LOCATIONS[loc[dup]]}), expected one row per scenario, time, ps_id and location",
            line=csv_line(dup),
        )
    out = {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in scenarios}
    for k, s in enumerate(scenarios):
        m = scen == k
        out[s][ps[m], loc[m], pos[m]] = p[m]
    return out
