"""EV charging power by location from daily shapes, scaled to a scenario's yearly energy.

Four locations (home, work, b2c, public), each with a 24-hour shape in local clock time for
working days and one for holidays (Saturdays, Sundays, national and local holidays, from the
``holidays`` package: Italy with Milan's Sant'Ambrogio by default). The shapes ship as data in
``profiles/ev_shapes.csv`` (docs/profiles.md).

A scenario's city-wide EV energy is split by location shares and allocated to the substations
by a weight (the register's charging points by default, or a per-PS table); the hourly power
of each PS and location is its energy spread over the year in proportion to the shape, so the
yearly energy is conserved exactly (hourly steps: MW x 1 h = MWh).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlas._compat import EXACT_FLOATS
from atlas.conventions import EV_LOCATIONS

DAY_TYPES = ("working", "holiday")


@dataclass(frozen=True)
class EvShapes:
    """Charging shapes: ``hourly[location][day_type]`` (24,) summing to 1, and the day's
    energy relative to a working day, ``daily[location][day_type]``. [-]"""

    hourly: dict[str, dict[str, np.ndarray]]
    daily: dict[str, dict[str, float]]


def read_ev_shapes(path: Path | None = None) -> EvShapes:
    """Read shapes (``location,day_type,daily_energy,h00..h23``); default the shipped ones."""
    from atlas.demo import data_root
    from atlas.errors import AtlasInputError

    path = Path(path) if path is not None else data_root("profiles") / "ev_shapes.csv"
    hours = [f"h{h:02d}" for h in range(24)]
    try:
        table = pd.read_csv(
            path, comment="#", dtype={"location": str, "day_type": str}, **EXACT_FLOATS
        )
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise AtlasInputError(
            path, "", f"cannot be read as CSV ({str(exc).splitlines()[0]})"
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    missing_cols = [c for c in ["location", "day_type", "daily_energy", *hours] if c not in table]
    if missing_cols:
        raise AtlasInputError(
            path,
            "header",
            f"missing column {missing_cols[0]!r}, expected location, day_type, daily_energy "
            "and h00..h23 (docs/profiles.md)",
            line=1,
        )
    numbers = table[["daily_energy", *hours]].apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(numbers.to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AtlasInputError(path, f"row {i + 1}", "expected numbers in daily_energy and h00..h23")
    table[["daily_energy", *hours]] = numbers
    hourly: dict[str, dict[str, np.ndarray]] = {loc: {} for loc in EV_LOCATIONS}
    daily: dict[str, dict[str, float]] = {loc: {} for loc in EV_LOCATIONS}
    for row in table.itertuples(index=False):
        w = np.array([getattr(row, h) for h in hours], dtype=float)
        if (
            row.location not in hourly
            or row.day_type not in DAY_TYPES
            or w.min() < 0
            or w.sum() <= 0
        ):
            raise AtlasInputError(
                path,
                f"{row.location},{row.day_type}",
                "expected a known location and day type with weights >= 0, not all 0",
            )
        hourly[row.location][row.day_type] = w / w.sum()
        daily[row.location][row.day_type] = float(row.daily_energy)
    missing = [(loc, d) for loc in EV_LOCATIONS for d in DAY_TYPES if d not in hourly[loc]]
    if missing:
        raise AtlasInputError(
            path,
            f"{missing[0][0]},{missing[0][1]}",
            "missing shape, expected every location and day type",
        )
    return EvShapes(hourly, daily)


def local_day_types(
    axis: pd.DatetimeIndex, timezone: str, country: str = "IT", subdiv: str | None = "MI"
) -> tuple[np.ndarray, np.ndarray]:
    """Local clock hour and working-day flag of each stamp.

    Parameters
    ----------
    axis : pandas.DatetimeIndex
        The study's UTC axis.
    timezone : str
        IANA zone of the local clock.
    country, subdiv : str
        For the ``holidays`` package (default Italy, Milan: Sant'Ambrogio on 7 December).

    Returns
    -------
    hour : numpy.ndarray of int
        Local hour 0-23 (summer time included).
    working : numpy.ndarray of bool
        Monday-Friday and not a holiday (local date).
    """
    import holidays

    local = axis.tz_convert(timezone)
    dates = local.normalize().tz_localize(None)
    years = sorted(set(dates.year))
    calendar = holidays.country_holidays(country, subdiv=subdiv, years=years)
    # the holidays of every year spanned, matched to every hour's local date at once
    days = np.array(list(calendar.keys()), dtype="datetime64[D]")
    is_holiday = np.isin(dates.to_numpy().astype("datetime64[D]"), days)
    working = (dates.day_of_week.to_numpy() < 5) & ~is_holiday
    return np.asarray(local.hour), working


def charging_power(
    energy_mwh: np.ndarray, hour: np.ndarray, working: np.ndarray, shapes: EvShapes
) -> np.ndarray:
    """Hourly charging power from yearly energy, by location.

    Parameters
    ----------
    energy_mwh : numpy.ndarray
        (n_ps, 4) yearly energy per PS and location (EV_LOCATIONS order). [MWh]
    hour, working : numpy.ndarray
        (8760,) local hour and working-day flag (:func:`local_day_types`).
    shapes : EvShapes

    Returns
    -------
    numpy.ndarray
        (n_ps, 4, 8760) charging power, >= 0, summing over the year to ``energy_mwh``. [MW]
    """
    weight = np.empty((len(EV_LOCATIONS), len(hour)))  # (4, 8760)
    for j, loc in enumerate(EV_LOCATIONS):
        work = shapes.daily[loc]["working"] * shapes.hourly[loc]["working"][hour]
        rest = shapes.daily[loc]["holiday"] * shapes.hourly[loc]["holiday"][hour]
        weight[j] = np.where(working, work, rest)
    weight /= weight.sum(axis=1, keepdims=True)
    return np.asarray(energy_mwh, dtype=float)[:, :, None] * weight[None, :, :]


def allocate_energy(
    total_mwh: float, location_shares: dict[str, float], weights: np.ndarray
) -> np.ndarray:
    """Split a city-wide yearly EV energy by location and then over the substations.

    Parameters
    ----------
    total_mwh : float
        The scenario's city-wide EV energy. [MWh]
    location_shares : dict
        Share of each location, summing to 1. [-]
    weights : numpy.ndarray
        (n_ps, 4) weight of each PS for each location (e.g. its charging points there). A
        location with no weight anywhere is spread by the PS's total weight. [-]

    Returns
    -------
    numpy.ndarray
        (n_ps, 4) energy per PS and location; the total equals ``total_mwh``. [MWh]

    Raises
    ------
    ValueError
        Every weight is zero.
    """
    w = np.asarray(weights, dtype=float)
    total_w = w.sum(axis=1)
    if total_w.sum() <= 0:
        raise ValueError(
            "every allocation weight is zero: no charging point (or weight) in any service area"
        )
    out = np.zeros_like(w)
    for j, loc in enumerate(EV_LOCATIONS):
        col = w[:, j] if w[:, j].sum() > 0 else total_w
        out[:, j] = total_mwh * location_shares.get(loc, 0.0) * col / col.sum()
    return out
