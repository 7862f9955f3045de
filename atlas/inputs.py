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
from atlas.timeaxis import N_HOURS, hourly_axis

GEO_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb")


def _line(row_index: int) -> int:
    """File line of the 0-based data row of a CSV with one header line."""
    return int(row_index) + 2


def _read_csv(path: Path, required: list[str], dtype: dict | None = None) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=dtype, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise AtlasInputError(path, "", f"cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AtlasInputError(
            path, "header", f"missing column {missing[0]!r}, expected columns {required}", line=1
        )
    return df


def _numeric(df: pd.DataFrame, col: str, path: Path, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """A float column, every value finite and within [lo, hi], else an error on the first bad row."""
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if lo is not None:
        bad |= values < lo
    if hi is not None:
        bad |= values > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = "a finite number" + (f" >= {lo}" if lo is not None else "") + (f" and <= {hi}" if hi is not None else "")
        raise AtlasInputError(path, f"row {i + 1}, column {col}", f"got {df[col].iloc[i]!r}, expected {rng}", line=_line(i))
    return values


def _ids(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    ids = df[col].astype("string").str.strip()
    empty = ids.isna() | (ids == "")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise AtlasInputError(path, f"row {i + 1}, column {col}", "empty, expected an identifier", line=_line(i))
    return ids.astype(str)


def read_substations(path: Path) -> pd.DataFrame:
    """Read the primary substations.

    Parameters
    ----------
    path : pathlib.Path
        CSV with columns ``ps_id, name, lat, lon, rated_mva`` (WGS84 degrees, MVA), or a
        vector file (GeoJSON, GeoPackage, ...) of points with ``ps_id``, ``name`` and
        ``rated_mva`` attributes in any CRS (reprojected to EPSG:4326).

    Returns
    -------
    pandas.DataFrame
        Columns ps_id (str), name (str), lat, lon [deg], rated_mva [MVA], in file order.
    """
    if path.suffix.lower() in GEO_SUFFIXES:
        df = _read_points(path)
    else:
        df = _read_csv(path, ["ps_id", "name", "lat", "lon", "rated_mva"], dtype={"ps_id": str, "name": str})
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
        raise AtlasInputError(path, f"row {i + 1}, ps_id", f"duplicate ps_id {out['ps_id'].iloc[i]!r}, expected each PS once", line=_line(i))
    if out.empty:
        raise AtlasInputError(path, "", "no substation, expected at least one row")
    return out


def _read_points(path: Path) -> pd.DataFrame:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise AtlasInputError(path, "", f"cannot be read as a vector file ({exc})") from None
    for col in ("ps_id", "name", "rated_mva"):
        if col not in gdf.columns:
            raise AtlasInputError(path, "attributes", f"missing attribute {col!r}, expected ps_id, name, rated_mva")
    if gdf.crs is None:
        raise AtlasInputError(path, "crs", "the layer has no CRS, expected one (e.g. EPSG:4326)")
    bad = gdf.geometry.isna() | (gdf.geometry.geom_type != "Point")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise AtlasInputError(path, f"feature {i + 1}", "geometry is not a point, expected point substations")
    gdf = gdf.to_crs(4326)
    return pd.DataFrame(
        {"ps_id": gdf["ps_id"].astype(str), "name": gdf["name"], "lat": gdf.geometry.y, "lon": gdf.geometry.x, "rated_mva": gdf["rated_mva"]}
    )


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
    df = _read_csv(path, ["scenario", "ps_id", "technology", "capacity_mw"], dtype={"scenario": str, "ps_id": str, "technology": str, "level": str})
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
        ("technology", set(CAPACITY_TECHNOLOGIES), f"expected one of {list(CAPACITY_TECHNOLOGIES)} (EV power comes from the EV input)"),
        ("level", set(LEVELS), f"expected one of {list(LEVELS)}"),
    ]
    for col, allowed, expected in checks:
        bad = ~out[col].isin(allowed)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise AtlasInputError(path, f"row {i + 1}, {col}", f"{out[col].iloc[i]!r} {expected}", line=_line(i))
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


def _parse_utc(values: pd.Series, path: Path, col: str = "time") -> pd.DatetimeIndex:
    """Parse ISO 8601 stamps with an explicit offset into UTC; naive or bad stamps are errors."""
    text = values.astype("string").str.strip()
    stamps = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
    bad = stamps.isna().to_numpy() | ~has_offset.to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AtlasInputError(
            path, f"row {i + 1}, column {col}", f"got {values.iloc[i]!r}, expected an ISO 8601 UTC stamp such as 2030-01-01T00:00:00Z", line=_line(i)
        )
    return pd.DatetimeIndex(stamps)


def _axis_positions(
    stamps: pd.DatetimeIndex, year: int, path: Path, ps_ids: pd.Series, exact: bool, label: str = "ps_id"
) -> np.ndarray:
    """Position on the axis of ``year`` of each stamp; with ``exact``, every PS must hold
    every stamp once. Errors name the first bad stamp and its PS."""
    axis = hourly_axis(year)
    pos = axis.get_indexer(stamps)
    off = pos < 0
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise AtlasInputError(
            path,
            f"row {i + 1}, {label}={ps_ids.iloc[i]}",
            f"stamp {stamps[i].isoformat()} is not an hour of the {year} axis (UTC, on the hour, 29 February excluded)",
            line=_line(i),
        )
    key = pd.DataFrame({"ps": ps_ids.to_numpy(), "pos": pos})
    dup = key.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise AtlasInputError(path, f"row {i + 1}, {label}={ps_ids.iloc[i]}", f"duplicate stamp {axis[pos[i]].isoformat()}, expected each hour once", line=_line(i))
    if exact:
        counts = key.groupby("ps", sort=False)["pos"].size()
        for ps, count in counts.items():
            if count != N_HOURS:
                have = np.zeros(N_HOURS, dtype=bool)
                have[key.loc[key["ps"] == ps, "pos"].to_numpy()] = True
                first = int(np.flatnonzero(~have)[0])
                raise AtlasInputError(path, f"{label}={ps}", f"missing stamp {axis[first].isoformat()}, expected all {N_HOURS} hours of {year}")
    return pos


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
        axis, and step i moves to step i of the study axis (same position in the year).

    Returns
    -------
    numpy.ndarray
        (n_ps, 8760, 2): P [MW] and Q [Mvar] per PS in ``ps_ids`` order, load convention.
    """
    df = _read_csv(path, ["time", "ps_id", "p_mw", "q_mvar"], dtype={"ps_id": str, "time": str})
    ps = _ids(df, "ps_id", path)
    unknown = ~ps.isin(ps_ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise AtlasInputError(path, f"row {i + 1}, ps_id", f"{ps.iloc[i]!r} is not in the substations file", line=_line(i))
    missing = sorted(set(ps_ids) - set(ps))
    if missing:
        raise AtlasInputError(path, f"ps_id={missing[0]}", "no load rows, expected 8760 hours for every PS")
    p = _numeric(df, "p_mw", path)
    q = _numeric(df, "q_mvar", path)
    stamps = _parse_utc(df["time"], path)
    pos = _axis_positions(stamps, load_year or year, path, ps, exact=True)
    out = np.empty((len(ps_ids), N_HOURS, 2))
    index = {pid: k for k, pid in enumerate(ps_ids)}
    rows = ps.map(index).to_numpy(dtype=int)
    out[rows, pos, 0] = p
    out[rows, pos, 1] = q
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
        raise AtlasInputError(path, "rows", f"{len(df)} rows, expected {N_HOURS} (one per hour of the study axis)")
    return _numeric(df, "pu", path, 0.0, 1.0)


def read_ev(path: Path, scenarios: list[str], ps_ids: list[str], year: int) -> dict[str, np.ndarray]:
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
    df = _read_csv(path, ["scenario", "time", "ps_id", "location", "p_mw"], dtype={"scenario": str, "ps_id": str, "location": str, "time": str})
    scen = _ids(df, "scenario", path)
    ps = _ids(df, "ps_id", path)
    loc = df["location"].astype("string").str.strip().fillna("")
    for col, values, allowed, expected in (
        ("scenario", scen, scenarios, f"not a scenario of the study, expected one of {scenarios}"),
        ("ps_id", ps, ps_ids, "not in the substations file"),
        ("location", loc, list(EV_LOCATIONS), f"expected one of {list(EV_LOCATIONS)}"),
    ):
        bad = ~values.isin(allowed)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise AtlasInputError(path, f"row {i + 1}, {col}", f"{values.iloc[i]!r} {expected}", line=_line(i))
    p = _numeric(df, "p_mw", path, 0.0)
    stamps = _parse_utc(df["time"], path)
    group = scen + "\x1f" + ps + "\x1f" + loc
    pos = _axis_positions(stamps, year, path, group.str.replace("\x1f", "/"), exact=False, label="scenario/ps_id/location")
    out = {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in scenarios}
    ps_index = {pid: k for k, pid in enumerate(ps_ids)}
    loc_index = {name: k for k, name in enumerate(EV_LOCATIONS)}
    rows = ps.map(ps_index).to_numpy(dtype=int)
    cols = loc.map(loc_index).to_numpy(dtype=int)
    for s in scenarios:
        m = (scen == s).to_numpy()
        out[s][rows[m], cols[m], pos[m]] = p[m]
    return out
