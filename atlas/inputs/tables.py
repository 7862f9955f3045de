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

from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS, LEVELS
from atlas.errors import AtlasInputError
from atlas.inputs.checks import (
    code_column,
    csv_line,
    first_duplicate,
    id_column,
    numeric_column,
    raise_first_bad,
    read_csv_table,
)
from atlas.inputs.timeaxis import N_HOURS, hourly_axis


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
    df = read_csv_table(
        path, ["ps_id", "name", "lat", "lon", "rated_mva"], dtype={"ps_id": str, "name": str}
    )
    out = pd.DataFrame(
        {
            "ps_id": id_column(df, "ps_id", path),
            "name": df["name"].astype("string").fillna("").astype(str),
            "lat": numeric_column(df, "lat", path, -90, 90),
            "lon": numeric_column(df, "lon", path, -180, 180),
            "rated_mva": numeric_column(df, "rated_mva", path, 0),
        }
    )
    raise_first_bad(
        out["ps_id"].duplicated(),
        path,
        "ps_id",
        lambda i: f"duplicate ps_id {out['ps_id'].iloc[i]!r}, expected each PS once",
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
    df = read_csv_table(
        path,
        ["scenario", "ps_id", "technology", "capacity_mw"],
        dtype={"scenario": str, "ps_id": str, "technology": str, "level": str},
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
    return out


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
    df = read_csv_table(
        path, ["time", "ps_id", "p_mw", "q_mvar"], dtype={"time": str, "ps_id": str}
    )
    ps = code_column(
        df, "ps_id", path, ps_ids, "is not in the substations file, expected a known ps_id"
    )
    p = numeric_column(df, "p_mw", path)
    q = numeric_column(df, "q_mvar", path)
    source_year = load_year or year
    pos = _stamp_positions(df["time"], source_year, path)
    key = ps * N_HOURS + pos
    pair = first_duplicate(key)
    if pair is not None:
        dup = pair[1]
        raise AtlasInputError(
            path,
            f"row {dup + 1}, ps_id={ps_ids[ps[dup]]}",
            f"duplicate stamp {df['time'].iloc[dup]}, expected each hour once per PS",
            line=csv_line(dup),
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
    df = read_csv_table(path, ["pu"])
    if len(df) != N_HOURS:
        raise AtlasInputError(
            path, "rows", f"{len(df)} rows, expected {N_HOURS} (one per hour of the study axis)"
        )
    return numeric_column(df, "pu", path, 0.0, 1.0)


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
    ps = code_column(
        df, "ps_id", path, ps_ids, "is not in the substations file, expected a known ps_id"
    )
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
