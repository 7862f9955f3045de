"""Statistics of the hourly figures and the relief screening (METHOD.md).

Pure functions over the hourly table (:attr:`atlas.runfolder.Run.hourly`): one row per
scenario, PS and hour with the four figures in generator convention (magnitudes >= 0), and
optionally ``over_rating`` (a point of the hour's PS envelope beyond the PS rating) and
``daylight`` (the sun above the horizon at the PS in the middle of the hour).

Firm value: the level a figure reaches in at least ``availability`` of the hours, i.e. the
largest v with ``#(figure >= v) >= availability x n``; for n = 8760 and 0.90 it is the 877th
smallest value, not an interpolated percentile. A PS meets a direction when its firm value is
at or above the threshold, which is the same as: the share of hours at or above the threshold
is at least the availability.

Everything is vectorised over scenarios, substations and hours: the table is reshaped once
into arrays (n_scenarios, n_ps, n_hours) per figure (:func:`hourly_arrays`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atlas.conventions import AVAILABILITY, THRESHOLD_MVAR, THRESHOLD_MW

#: Directions, their figure column and unit.
DIRECTIONS: dict[str, tuple[str, str]] = {
    "p_up": ("p_up_mw", "MW"),
    "p_down": ("p_down_mw", "MW"),
    "q_up": ("q_up_mvar", "Mvar"),
    "q_down": ("q_down_mvar", "Mvar"),
}


#: Columns of ``screening.csv``, in order.
SCREENING_COLUMNS = [
    "scenario",
    "ps_id",
    "name",
    "direction",
    "threshold",
    "unit",
    "availability",
    "firm",
    "mean",
    "share_at_or_above",
    "meets",
    "longest_run_h",
    "hours_over_rating",
]


def firm_value(values: np.ndarray, availability: float = AVAILABILITY) -> float:
    """Largest v such that at least ``availability`` of the values are >= v.

    Parameters
    ----------
    values : numpy.ndarray
        One figure's hourly values (n,). [MW] or [Mvar]
    availability : float
        Required share of hours, in (0, 1]. [-]

    Returns
    -------
    float
        The k-th largest value with k = ceil(availability x n) (the (n - k + 1)-th smallest:
        the 877th smallest of 8760 at 0.90).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("need values and an availability in (0, 1]")
    return float(firm_values(v, availability))


def firm_values(values: np.ndarray, availability: float = AVAILABILITY) -> np.ndarray:
    """:func:`firm_value` along the last axis of an array, (..., n) -> (...)."""
    if not 0 < availability <= 1:
        raise ValueError("need values and an availability in (0, 1]")
    v = np.sort(np.asarray(values, dtype=float), axis=-1)
    n = v.shape[-1]
    k = math.ceil(availability * n - 1e-9)  # hours that must reach the value
    return v[..., n - k]


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of consecutive True values. [h]"""
    return int(longest_runs(np.asarray(mask, dtype=bool)))


def longest_runs(mask: np.ndarray) -> np.ndarray:
    """Longest run of consecutive True values along the last axis, (..., n) -> (...). [h]

    The run ending at t has length ``t - (last False index <= t)``, a running maximum.
    """
    m = np.asarray(mask, dtype=bool)
    n = m.shape[-1]
    if n == 0:
        return np.zeros(m.shape[:-1], dtype=np.int64)
    idx = np.arange(n)
    last_false = np.where(m, -1, idx)
    np.maximum.accumulate(last_false, axis=-1, out=last_false)
    return (idx - last_false).max(axis=-1)


@dataclass(frozen=True)
class HourlyArrays:
    """The hourly table as arrays, one axis per scenario, PS and hour.

    Attributes
    ----------
    scenarios, ps_ids : list of str
        In order of first appearance in the table.
    time : pandas.DatetimeIndex
        (n_hours,) UTC, shared by every scenario and PS.
    values : numpy.ndarray
        (n_scenarios, n_ps, 4, n_hours), the four figures in :data:`DIRECTIONS` order.
        [MW, Mvar]
    over_rating : numpy.ndarray or None
        (n_scenarios, n_ps, n_hours) bool, where the table has it.
    daylight : numpy.ndarray or None
        (n_ps, n_hours) bool, where the table has it (the first scenario's rows).
    """

    scenarios: list[str]
    ps_ids: list[str]
    time: pd.DatetimeIndex
    values: np.ndarray
    over_rating: np.ndarray | None
    daylight: np.ndarray | None


def hourly_arrays(hourly: pd.DataFrame | HourlyArrays) -> HourlyArrays:
    """Reshape the hourly table into arrays, checking that it is a full grid.

    An :class:`HourlyArrays` is returned as it is, so the functions below accept either.

    Raises
    ------
    ValueError
        Some scenario and PS lack hours that others have, or repeat one.
    """
    if isinstance(hourly, HourlyArrays):
        return hourly
    scenarios = list(pd.unique(hourly["scenario"].astype(str)))
    ps_ids = list(pd.unique(hourly["ps_id"].astype(str)))
    sc = pd.Categorical(hourly["scenario"].astype(str), categories=scenarios)
    ps = pd.Categorical(hourly["ps_id"].astype(str), categories=ps_ids)
    time = pd.DatetimeIndex(hourly["time"])
    # the run writes the table in grid order: check that in O(n) before sorting
    key = sc.codes.astype(np.int64) * len(ps_ids) + ps.codes
    t8 = time.asi8
    in_order = bool(np.all((np.diff(key) > 0) | ((np.diff(key) == 0) & (np.diff(t8) > 0))))
    order = np.arange(len(hourly)) if in_order else np.lexsort((t8, ps.codes, sc.codes))
    n_sc, n_ps = len(scenarios), len(ps_ids)
    n = len(hourly) // max(n_sc * n_ps, 1)
    t_sorted = time.asi8[order]
    grid = t_sorted.reshape(n_sc * n_ps, n) if n * n_sc * n_ps == len(hourly) else None
    if grid is None or not (grid == grid[0]).all() or np.any(np.diff(grid[0]) <= 0):
        raise ValueError(
            "the hourly table is not one full grid of scenarios x substations x hours "
            "(some hours missing or repeated)"
        )
    values = np.stack(
        [hourly[col].to_numpy(dtype=float)[order] for col, _ in DIRECTIONS.values()]
    ).reshape(4, n_sc, n_ps, n)
    values = np.moveaxis(values, 0, 2)  # (n_sc, n_ps, 4, n)
    over = None
    if "over_rating" in hourly.columns:
        over = hourly["over_rating"].to_numpy(dtype=bool)[order].reshape(n_sc, n_ps, n)
    daylight = None
    if "daylight" in hourly.columns:
        daylight = hourly["daylight"].to_numpy(dtype=bool)[order].reshape(n_sc, n_ps, n)[0]
    first = time[order[:n]]
    return HourlyArrays(
        scenarios,
        ps_ids,
        first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC"),
        values,
        over,
        daylight,
    )


def _thresholds(threshold_mw: float, threshold_mvar: float) -> np.ndarray:
    """Threshold of each direction, (4,). [MW or Mvar]"""
    return np.array(
        [threshold_mw if unit == "MW" else threshold_mvar for _, unit in DIRECTIONS.values()]
    )


def screening(
    hourly: pd.DataFrame | HourlyArrays,
    names: dict[str, str] | None = None,
    threshold_mw: float = THRESHOLD_MW,
    threshold_mvar: float = THRESHOLD_MVAR,
    availability: float = AVAILABILITY,
    rated_mva: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Relief screening of every PS, scenario and direction.

    Parameters
    ----------
    hourly : pandas.DataFrame
        The hourly table (scenario, ps_id, time, the four figures; ``over_rating``
        optional).
    names : dict, optional
        PS names by ps_id.
    threshold_mw, threshold_mvar : float
        Relief thresholds for the active and reactive directions. [MW], [Mvar]
    availability : float
        Share of hours the firm value must be reached in. [-]
    rated_mva : dict, optional
        PS ratings by ps_id: a PS with no rating (NaN) has no ``hours_over_rating``. [MVA]

    Returns
    -------
    pandas.DataFrame
        :data:`SCREENING_COLUMNS`, ranked by scenario, direction and firm value (largest
        first). ``hours_over_rating`` counts the scenario's hours in which a point of the
        PS envelope exceeds the PS rating (``<NA>`` without the ``over_rating`` column or
        without a rating).
    """
    names = names or {}
    a = hourly_arrays(hourly)
    n_sc, n_ps = len(a.scenarios), len(a.ps_ids)
    thr = _thresholds(threshold_mw, threshold_mvar)[None, None, :, None]
    above = a.values >= thr  # (n_sc, n_ps, 4, n)
    firm = firm_values(a.values, availability)  # (n_sc, n_ps, 4)
    shape = (n_sc, n_ps, 4)
    over = pd.array(np.full(n_sc * n_ps, pd.NA), dtype="Int64")
    if a.over_rating is not None:
        counts = a.over_rating.sum(axis=-1).ravel()  # (n_sc * n_ps,)
        rated = np.array([(rated_mva or {}).get(p, 0.0) for p in a.ps_ids] * n_sc, dtype=float)
        over = pd.array(np.where(np.isnan(rated), pd.NA, counts), dtype="Int64")
    units = [u for _, u in DIRECTIONS.values()]
    table = pd.DataFrame(
        {
            "scenario": np.repeat(a.scenarios, n_ps * 4),
            "ps_id": np.tile(np.repeat(a.ps_ids, 4), n_sc),
            "name": np.tile(np.repeat([names.get(p, "") for p in a.ps_ids], 4), n_sc),
            "direction": np.tile(list(DIRECTIONS), n_sc * n_ps),
            "threshold": np.broadcast_to(thr[..., 0], shape).ravel(),
            "unit": np.tile(units, n_sc * n_ps),
            "availability": availability,
            "firm": firm.ravel(),
            "mean": a.values.mean(axis=-1).ravel(),
            "share_at_or_above": above.mean(axis=-1).ravel(),
            "meets": (firm >= thr[..., 0]).ravel(),
            "longest_run_h": longest_runs(above).ravel(),
            "hours_over_rating": np.repeat(over, 4),
        }
    )
    return rank_screening(table, a.scenarios, a.ps_ids)


def rank_screening(table: pd.DataFrame, scenarios: list[str], ps_ids: list[str]) -> pd.DataFrame:
    """Rank screening rows by scenario, direction and firm value (largest first), ties in
    PS order: the same ranking for a whole run and for its chunks' rows put together."""
    order = {d: i for i, d in enumerate(DIRECTIONS)}
    sc_order = {s: i for i, s in enumerate(scenarios)}
    ps_order = {p: i for i, p in enumerate(ps_ids)}
    table = table.assign(
        _s=table["scenario"].map(sc_order),
        _d=table["direction"].map(order),
        _p=table["ps_id"].map(ps_order),
    )
    table = table.sort_values(
        ["_s", "_d", "firm", "_p"], ascending=[True, True, False, True], kind="stable"
    )
    return table.drop(columns=["_s", "_d", "_p"]).reset_index(drop=True)[SCREENING_COLUMNS]


def daily_maxima(
    values: np.ndarray, daylight: np.ndarray | bool, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each local day's maximum over its daylight hours and over its night hours.

    Parameters
    ----------
    values : numpy.ndarray
        (..., n_hours) in time order. [MW or Mvar]
    daylight : numpy.ndarray or bool
        (n_hours,) or broadcastable to ``values``: True with the sun above the horizon
        (a plain True: every hour).
    day : numpy.ndarray
        (n_hours,) int, the local day of each hour, non-decreasing.

    Returns
    -------
    day_max, night_max : numpy.ndarray
        (..., n_days), NaN for a day without daylight (or night) hours.
    """
    starts = np.flatnonzero(np.r_[True, np.diff(day) != 0])
    out = []
    for keep in (daylight, ~np.asarray(daylight, dtype=bool)):
        masked = np.where(keep, values, -np.inf)
        m = np.maximum.reduceat(masked, starts, axis=-1)
        out.append(np.where(np.isneginf(m), np.nan, m))
    return out[0], out[1]


def local_calendar(time: pd.DatetimeIndex, timezone: str) -> dict[str, np.ndarray]:
    """Local month, hour of the day, day index and day's month of each UTC stamp.

    Returns
    -------
    dict of numpy.ndarray
        ``month`` (1-12), ``hour`` (0-23), ``day`` (0.. in order) per hour, and
        ``day_month`` (1-12) per day.
    """
    local = time.tz_convert(timezone)
    dates = local.normalize()
    day = np.r_[0, np.cumsum(dates[1:] != dates[:-1])]
    starts = np.flatnonzero(np.r_[True, np.diff(day) != 0])
    month = local.month.to_numpy()
    return {"month": month, "hour": local.hour.to_numpy(), "day": day, "day_month": month[starts]}


def monthly_boxes(values: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box statistics of each local month: min, Q1, median, Q3, max (interpolated).

    Parameters
    ----------
    values : numpy.ndarray
        (..., n_hours). [MW or Mvar]
    month : numpy.ndarray
        (n_hours,) local month 1-12.

    Returns
    -------
    months : numpy.ndarray
        The months present, (n_months,).
    boxes : numpy.ndarray
        (..., n_months, 5).
    """
    months = np.unique(month)
    boxes = np.stack(
        [np.percentile(values[..., month == m], [0, 25, 50, 75, 100], axis=-1) for m in months],
        axis=-1,
    )  # (5, ..., n_months)
    return months, np.moveaxis(boxes, 0, -1)


def month_hour_means(
    values: np.ndarray, month: np.ndarray, hour: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of each local month x hour-of-day cell (a share, for boolean values).

    Parameters
    ----------
    values : numpy.ndarray
        (..., n_hours), numbers or booleans.
    month, hour : numpy.ndarray
        (n_hours,) local month 1-12 and hour 0-23.

    Returns
    -------
    cell_month, cell_hour : numpy.ndarray
        (n_cells,) the cells present, in month then hour order.
    means : numpy.ndarray
        (..., n_cells).
    """
    cell = (np.asarray(month) - 1) * 24 + np.asarray(hour)
    order = np.argsort(cell, kind="stable")
    cells, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
    total = np.add.reduceat(np.asarray(values, dtype=float)[..., order], starts, axis=-1)
    return cells // 24 + 1, cells % 24, total / counts


def _long(
    arr: np.ndarray,
    statistic: str,
    scenarios: list[str],
    ps_ids: list[str],
    month=None,
    hour=None,
) -> pd.DataFrame:
    """Long-form rows of a (n_sc, n_ps, 4[, k]) array; month/hour (k,) arrays or None."""
    n_sc, n_ps = arr.shape[:2]
    k = arr.shape[3] if arr.ndim == 4 else 1
    n = n_sc * n_ps * 4 * k

    def per_k(x):
        return pd.array(np.full(n, pd.NA) if x is None else np.tile(x, n // k), dtype="Int8")

    return pd.DataFrame(
        {
            "scenario": np.repeat(scenarios, n_ps * 4 * k),
            "ps_id": np.tile(np.repeat(ps_ids, 4 * k), n_sc),
            "figure": np.tile(np.repeat(list(DIRECTIONS), k), n_sc * n_ps),
            "statistic": statistic,
            "month": per_k(month),
            "hour": per_k(hour),
            "value": arr.ravel().astype(float),
        }
    )


def statistics(
    hourly: pd.DataFrame | HourlyArrays,
    timezone: str,
    threshold_mw: float = THRESHOLD_MW,
    threshold_mvar: float = THRESHOLD_MVAR,
) -> pd.DataFrame:
    """Statistics of every PS, scenario and figure, in long form.

    Parameters
    ----------
    hourly : pandas.DataFrame
        The hourly table (with ``daylight`` for the day and night maxima).
    timezone : str
        Local time zone for months, days and hours of the day.
    threshold_mw, threshold_mvar : float
        Thresholds for the shares and runs. [MW], [Mvar]

    Returns
    -------
    pandas.DataFrame
        Columns scenario, ps_id, figure, statistic, month (1-12 or <NA>), hour (0-23 or
        <NA>), value; rows by scenario, then PS (in the table's order), then in the order
        below. Statistics:

        - over the year (month and hour <NA>): ``mean``, ``std`` (the normal fit, ddof=0),
          ``min``, ``p10``, ``p50``, ``p90``, ``max`` (linear-interpolated percentiles);
        - per local month (hour <NA>): the box statistics ``box_min``, ``box_q1``,
          ``box_median``, ``box_q3``, ``box_max`` and ``longest_run_h`` (consecutive hours
          at or above the threshold within the month);
        - per local month and hour: ``mean`` and ``share_at_or_above``;
        - with a ``daylight`` column, the mean over days of each local day's maximum in
          daylight, ``daily_max_day``, and at night, ``daily_max_night``, per month (of the
          local day) and over the year (month <NA>; days without such hours left out).
    """
    a = hourly_arrays(hourly)
    v = a.values  # (n_sc, n_ps, 4, n)
    cal = local_calendar(a.time, timezone)
    month, hour = cal["month"], cal["hour"]
    thr = _thresholds(threshold_mw, threshold_mvar)[None, None, :, None]
    above = v >= thr
    args = (a.scenarios, a.ps_ids)
    parts = [
        _long(v.mean(axis=-1), "mean", *args),
        _long(v.std(axis=-1), "std", *args),
        _long(v.min(axis=-1), "min", *args),
        *(
            _long(np.percentile(v, q, axis=-1), f"p{q}", *args)
            for q in (10, 50, 90)  # linear interpolation, numpy's default
        ),
        _long(v.max(axis=-1), "max", *args),
    ]
    months, boxes = monthly_boxes(v, month)  # (..., n_months, 5)
    for i, name in enumerate(("box_min", "box_q1", "box_median", "box_q3", "box_max")):
        parts.append(_long(boxes[..., i], name, *args, month=months))
    # consecutive hours of the axis within the month (other hours break a run)
    runs = np.stack([longest_runs(above & (month == m)) for m in months], axis=-1)
    parts.append(_long(runs, "longest_run_h", *args, month=months))
    cm, ch, cell_mean = month_hour_means(v, month, hour)
    _, _, cell_share = month_hour_means(above, month, hour)
    parts.append(_long(cell_mean, "mean", *args, month=cm, hour=ch))
    parts.append(_long(cell_share, "share_at_or_above", *args, month=cm, hour=ch))
    if a.daylight is not None:
        day_month = cal["day_month"]
        for name, daily in zip(
            ("daily_max_day", "daily_max_night"),
            daily_maxima(v, a.daylight[None, :, None, :], cal["day"]),
            strict=True,
        ):
            with np.errstate(invalid="ignore"):
                per_month = np.stack(
                    [_nanmean(daily[..., day_month == m]) for m in months], axis=-1
                )
            parts.append(_long(per_month, name, *args, month=months))
            parts.append(_long(_nanmean(daily), name, *args))
    table = pd.concat(parts, ignore_index=True)
    # scenario by scenario, PS by PS (each block in the order above): the same rows whether
    # the PS are analysed together or chunk by chunk. Each part is (scenario, PS, ...)-major.
    n_sc, n_ps = len(a.scenarios), len(a.ps_ids)
    sc_key, ps_key = [], []
    for part in parts:
        per_ps = len(part) // (n_sc * n_ps)
        sc_key.append(np.repeat(np.arange(n_sc), n_ps * per_ps))
        ps_key.append(np.tile(np.repeat(np.arange(n_ps), per_ps), n_sc))
    order = np.lexsort((np.concatenate(ps_key), np.concatenate(sc_key)))
    return table.iloc[order].reset_index(drop=True)


def _nanmean(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where every value is NaN."""
    ok = ~np.isnan(x)
    n = ok.sum(axis=-1)
    total = np.where(ok, x, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def analyse(
    hourly: pd.DataFrame | HourlyArrays,
    settings: dict,
    timezone: str,
    names: dict[str, str],
    rated_mva: dict[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statistics and screening of a run's hourly figures at its ``[screening]`` settings.

    Parameters
    ----------
    settings : dict
        threshold_mw [MW], threshold_mvar [Mvar], availability [-].
    timezone : str
    names, rated_mva : dict
        By ps_id. [-], [MVA]

    Returns
    -------
    statistics, screening : pandas.DataFrame
        :func:`statistics` and :func:`screening`.
    """
    arrays = hourly_arrays(hourly)
    t_mw, t_mvar = settings["threshold_mw"], settings["threshold_mvar"]
    stats = statistics(arrays, timezone, t_mw, t_mvar)
    table = screening(arrays, names, t_mw, t_mvar, settings["availability"], rated_mva)
    return stats, table


def screening_settings(
    base: dict, overrides: dict[str, float | None] | None
) -> tuple[dict, dict[str, float]]:
    """``[screening]`` with the overrides that are not None, and those as ``run.json`` records
    them (``{"screening.threshold_mw": 5.0}``)."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return base | given, {f"screening.{k}": v for k, v in given.items()}
