"""Readers of the study's tabular inputs, normalised at the boundary.

Every reader checks what it reads and raises :class:`~atlas.errors.AtlasInputError` naming the
file, the line (for CSV: data row i is line i + 2, under the header) and what is expected. The
core never sees a foreign column name, a local-time stamp or a kW value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS, LEVELS
from atlas.errors import AtlasInputError
from atlas.inputs.timeaxis import N_HOURS, hourly_axis


def _line(row_index: int) -> int:
    """File line of the 0-based data row of a CSV with one header line."""
    return int(row_index) + 2


def _read_csv(path: Path, required: list[str], dtype: dict | None = None) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=dtype, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise AtlasInputError(
            path, "", f"cannot be read as CSV ({str(exc).splitlines()[0]})"
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AtlasInputError(
            path, "header", f"missing column {missing[0]!r}, expected columns {required}", line=1
        )
    return df


def _numeric(
    df: pd.DataFrame, col: str, path: Path, lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """A float column, every value finite and within [lo, hi], else an error on the first bad row."""
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if lo is not None:
        bad |= values < lo
    if hi is not None:
        bad |= values > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = (
            "a finite number"
            + (f" >= {lo}" if lo is not None else "")
            + (f" and <= {hi}" if hi is not None else "")
        )
        raise AtlasInputError(
            path,
            f"row {i + 1}, column {col}",
            f"got {_shown(df[col].iloc[i])}, expected {rng}",
            line=_line(i),
        )
    return values


def _shown(value) -> str:
    """A cell as the user wrote it: numbers plainly (-1, not np.float64(-1.0)), text quoted."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return "empty" if pd.isna(value) else f"{value:g}"
    return repr(str(value))


def _ids(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    ids = df[col].astype("string").str.strip()
    empty = ids.isna() | (ids == "")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise AtlasInputError(
            path, f"row {i + 1}, column {col}", "empty, expected an identifier", line=_line(i)
        )
    return ids.astype(str)


def read_substations(path: Path) -> pd.DataFrame:
    """Read the primary substations.

    Parameters
    ----------
    path : pathlib.Path
        CSV with columns ``ps_id, name, lat, lon, rated_mva`` (WGS84 degrees, MVA). Vector
        layers are read by :func:`atlas.geo.join.read_sites`.

    Returns
    -------
    pandas.DataFrame
        Columns ps_id (str), name (str), lat, lon [deg], rated_mva [MVA], in file order.
    """
    df = _read_csv(
        path, ["ps_id", "name", "lat", "lon", "rated_mva"], dtype={"ps_id": str, "name": str}
    )
    out = pd.DataFrame(
        {
            "ps_id": _ids(df, "ps_id", path),
            "name": df["name"].astype("string").fillna("").astype(str),
            "lat": _numeric(df, "lat", path, -90, 90),
            "lon": _numeric(df, "lon", path, -180, 180),
            "rated_mva": _numeric(df, "rated_mva", path, 0),
        }
    )
    dup = out["ps_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise AtlasInputError(
            path,
            f"row {i + 1}, ps_id",
            f"duplicate ps_id {out['ps_id'].iloc[i]!r}, expected each PS once",
            line=_line(i),
        )
    if out.empty:
        raise AtlasInputError(path, "", "no substation, expected at least one row")
    return out


def read_capacity(path: Path, scenarios: list[str], ps_ids: list[str]) -> pd.DataFrame:
    """Read installed capacities per scenario, PS, technology and connection level.

    Parameters
    ----------
    path : pathlib.Path
        CSV ``scenario, ps_id, technology, capacity_mw[, level]``; ``level`` MV or LV,
        default MV; technologies pv, chp, biomass, hydro (EV capacity comes from the EV
        charging input).
    scenarios, ps_ids : list of str
        The study's scenarios and substations: anything else is an error.

    Returns
    -------
    pandas.DataFrame
        Columns scenario, ps_id, technology, level (str), capacity_mw [MW]. A (scenario,
        PS, technology, level) key appears once.
    """
    df = _read_csv(
        path,
        ["scenario", "ps_id", "technology", "capacity_mw"],
        dtype={"scenario": str, "ps_id": str, "technology": str, "level": str},
    )
    level = df["level"] if "level" in df.columns else pd.Series("MV", index=df.index)
    out = pd.DataFrame(
        {
            "scenario": _ids(df, "scenario", path),
            "ps_id": _ids(df, "ps_id", path),
            "technology": df["technology"].astype("string").str.strip().str.lower().fillna(""),
            "level": level.astype("string").str.strip().str.upper().fillna("MV").replace("", "MV"),
            "capacity_mw": _numeric(df, "capacity_mw", path, 0),
        }
    )
    checks = [
        ("scenario", set(scenarios), f"not a scenario of the study, expected one of {scenarios}"),
        ("ps_id", set(ps_ids), "not in the substations file, expected a known ps_id"),
        (
            "technology",
            set(CAPACITY_TECHNOLOGIES),
            f"expected one of {list(CAPACITY_TECHNOLOGIES)} (EV power comes from the EV input)",
        ),
        ("level", set(LEVELS), f"expected one of {list(LEVELS)}"),
    ]
    for col, allowed, expected in checks:
        bad = ~out[col].isin(allowed)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise AtlasInputError(
                path, f"row {i + 1}, {col}", f"{out[col].iloc[i]!r} {expected}", line=_line(i)
            )
    dup = out.duplicated(["scenario", "ps_id", "technology", "level"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        r = out.iloc[i]
        raise AtlasInputError(
            path,
            f"row {i + 1}",
            f"duplicate key ({r.scenario}, {r.ps_id}, {r.technology}, {r.level}), expected one row per scenario, ps_id, technology and level",
            line=_line(i),
        )
    return out


def _codes(df: pd.DataFrame, col: str, path: Path, allowed: list[str], expected: str) -> np.ndarray:
    """Index into ``allowed`` of each row's (stripped) text; anything else is an error.

    Each distinct value is checked once, so long tables cost little.
    """
    codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
    index = {name: k for k, name in enumerate(allowed)}
    mapped = np.array([index.get(str(u).strip(), -1) for u in uniques] + [-1], dtype=np.int64)
    rows = mapped[codes]  # codes == -1 (empty cell) picks the trailing -1
    bad = rows < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = df[col].iloc[i]
        shown = "empty" if pd.isna(value) or not str(value).strip() else repr(str(value).strip())
        raise AtlasInputError(path, f"row {i + 1}, {col}", f"{shown} {expected}", line=_line(i))
    return rows


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
    bad = (codes < 0) | bad_unique[np.maximum(codes, 0)]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AtlasInputError(
            path,
            f"row {i + 1}, {col}",
            f"got {values.iloc[i]!r}, expected an ISO 8601 UTC stamp such as {year}-01-01T00:00:00Z",
            line=_line(i),
        )
    axis = hourly_axis(year)
    pos_unique = axis.get_indexer(pd.DatetimeIndex(parsed))
    pos = pos_unique[codes]
    off = pos < 0
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise AtlasInputError(
            path,
            f"row {i + 1}, {col}",
            f"stamp {values.iloc[i]!r} is not an hour of the {year} axis (UTC, on the hour, 29 February excluded)",
            line=_line(i),
        )
    return pos


def _first_duplicate(key: np.ndarray) -> int | None:
    """Row of the first repeated value of an integer key (the later of the two), or None."""
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    if not same.any():
        return None
    return int(order[1:][same].min())


def read_load(path: Path, year: int, ps_ids: list[str], load_year: int | None = None) -> np.ndarray:
    """Read the measured PS load on the study axis.

    Parameters
    ----------
    path : pathlib.Path
        CSV ``time, ps_id, p_mw, q_mvar``: UTC ISO 8601 stamps, PS load convention
        (P > 0 from transmission into distribution, Q > 0 absorbed by distribution).
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
    df = _read_csv(path, ["time", "ps_id", "p_mw", "q_mvar"], dtype={"time": str, "ps_id": str})
    ps = _codes(df, "ps_id", path, ps_ids, "is not in the substations file, expected a known ps_id")
    p = _numeric(df, "p_mw", path)
    q = _numeric(df, "q_mvar", path)
    source_year = load_year or year
    pos = _stamp_positions(df["time"], source_year, path)
    key = ps * N_HOURS + pos
    dup = _first_duplicate(key)
    if dup is not None:
        raise AtlasInputError(
            path,
            f"row {dup + 1}, ps_id={ps_ids[ps[dup]]}",
            f"duplicate stamp {df['time'].iloc[dup]}, expected each hour once per PS",
            line=_line(dup),
        )
    have = np.zeros((len(ps_ids), N_HOURS), dtype=bool)
    have[ps, pos] = True
    if not have.all():
        k, first = np.argwhere(~have)[0]
        axis = hourly_axis(source_year)
        raise AtlasInputError(
            path,
            f"ps_id={ps_ids[k]}",
            f"missing stamp {axis[first].strftime('%Y-%m-%dT%H:%M:%SZ')}, expected all {N_HOURS} hours of {source_year}",
        )
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
    df = _read_csv(path, ["pu"])
    if len(df) != N_HOURS:
        raise AtlasInputError(
            path, "rows", f"{len(df)} rows, expected {N_HOURS} (one per hour of the study axis)"
        )
    return _numeric(df, "pu", path, 0.0, 1.0)


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
    df = _read_csv(
        path,
        ["scenario", "time", "ps_id", "location", "p_mw"],
        dtype={"scenario": str, "time": str, "ps_id": str, "location": str},
    )
    scen = _codes(
        df,
        "scenario",
        path,
        scenarios,
        f"is not a scenario of the study, expected one of {scenarios}",
    )
    ps = _codes(df, "ps_id", path, ps_ids, "is not in the substations file, expected a known ps_id")
    loc = _codes(df, "location", path, list(EV_LOCATIONS), f"expected one of {list(EV_LOCATIONS)}")
    p = _numeric(df, "p_mw", path, 0.0)
    pos = _stamp_positions(df["time"], year, path)
    key = ((scen * len(ps_ids) + ps) * len(EV_LOCATIONS) + loc) * N_HOURS + pos
    dup = _first_duplicate(key)
    if dup is not None:
        raise AtlasInputError(
            path,
            f"row {dup + 1}",
            f"duplicate ({scenarios[scen[dup]]}, {df['time'].iloc[dup]}, {ps_ids[ps[dup]]}, {EV_LOCATIONS[loc[dup]]}), expected one row per scenario, time, ps_id and location",
            line=_line(dup),
        )
    out = {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in scenarios}
    for k, s in enumerate(scenarios):
        m = scen == k
        out[s][ps[m], loc[m], pos[m]] = p[m]
    return out
