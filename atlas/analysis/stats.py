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


def longest_runs_by_group(mask: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longest run of consecutive True values within each group of hours. [h]

    The same as ``longest_runs(mask & (group == g))`` for every group g (hours of other
    groups break a run), in one pass instead of one per group.

    Parameters
    ----------
    mask : numpy.ndarray
        (..., n) bool.
    group : numpy.ndarray
        (n,) the group of each hour (e.g. the local month); a group may come back later.

    Returns
    -------
    groups : numpy.ndarray
        The groups present, sorted, (n_groups,).
    runs : numpy.ndarray
        (..., n_groups) int64.
    """
    m = np.asarray(mask, dtype=bool)
    group = np.asarray(group)
    n = m.shape[-1]
    groups = np.unique(group)
    if n == 0:
        return groups, np.zeros((*m.shape[:-1], 0), dtype=np.int64)
    idx = np.arange(n)
    # stretches of consecutive hours in one group: a run cannot cross a stretch's start, as
    # if the hour before it were False, so the "last False" is at least that hour
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    before_start = np.repeat(starts - 1, np.diff(np.r_[starts, n]))
    last_false = np.where(m, before_start, idx)
    np.maximum.accumulate(last_false, axis=-1, out=last_false)
    per_stretch = np.maximum.reduceat(idx - last_false, starts, axis=-1)
    stretch_group = group[starts]
    runs = np.stack([per_stretch[..., stretch_group == g].max(axis=-1) for g in groups], axis=-1)
    return groups, runs


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


#: The hourly table's columns that :func:`hourly_arrays` reads (the two flags only where the
#: table has them): all that :func:`screening` and :func:`statistics` need of it.
ARRAY_COLUMNS: tuple[str, ...] = (
    "scenario",
    "ps_id",
    "time",
    *(col for col, _ in DIRECTIONS.values()),
    "over_rating",
    "daylight",
)


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
    if hourly["scenario"].isna().any() or hourly["ps_id"].isna().any():
        raise ValueError("the hourly table has rows without a scenario or a ps_id")
    # codes in order of first appearance (the run's order), as pandas.unique lists them
    sc_codes, sc_names = pd.factorize(hourly["scenario"].astype(str))
    ps_codes, ps_names = pd.factorize(hourly["ps_id"].astype(str))
    scenarios, ps_ids = [str(s) for s in sc_names], [str(p) for p in ps_names]
    time = pd.DatetimeIndex(hourly["time"])
    # the run writes the table in grid order: check that in O(n) before sorting
    key = sc_codes.astype(np.int64) * len(ps_ids) + ps_codes
    t8 = time.asi8
    in_order = bool(np.all((np.diff(key) > 0) | ((np.diff(key) == 0) & (np.diff(t8) > 0))))
    order = np.arange(len(hourly)) if in_order else np.lexsort((t8, ps_codes, sc_codes))
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


def percentiles(values: np.ndarray, q, sorted_values: np.ndarray | None = None) -> np.ndarray:
    """``np.percentile(values, q, axis=-1)`` (linear), bit for bit, from one sort.

    :func:`numpy.percentile` partitions a copy of the values for every call; sorting them
    once is cheaper when several percentiles (or calls) share the values. The interpolation
    repeats numpy's own arithmetic (its ``_lerp``), so the results are the same floats.

    Parameters
    ----------
    values : numpy.ndarray
        (..., n), n >= 1.
    q : float or sequence of float
        Percentiles in [0, 100].
    sorted_values : numpy.ndarray, optional
        ``np.sort(values, axis=-1)``, when the caller has it already.

    Returns
    -------
    numpy.ndarray
        (...) for a scalar q, (..., len(q)) for a sequence (q last, unlike numpy).

    Notes
    -----
    Sorted and partitioned values agree element by element except where -0.0 and 0.0 (equal,
    in no defined order; numpy's vectorised sort may even turn one into the other) meet. Only
    ``b - (b - a)(1 - gamma)`` with ``gamma >= 0.5`` and the upper neighbour b a zero depends
    on the signs of zeros (``a + (b - a) gamma`` gives +0.0 from two zeros, whatever their
    signs): such rows with both signs of zero are left to :func:`numpy.percentile` itself. A
    row with a NaN gives NaN.
    """
    values = np.asarray(values, dtype=float)
    s = np.sort(values, axis=-1) if sorted_values is None else np.asarray(sorted_values)
    n = s.shape[-1]
    # numpy's linear method: index (n - 1) q between the floor and the next, both clipped
    # to the last value at the top; gamma from the clipped floor
    virtual = (n - 1) * np.true_divide(q, 100)
    prev = np.floor(virtual)
    nxt = prev + 1
    top = virtual >= n - 1
    prev = np.where(top, -1, prev).astype(np.intp)
    nxt = np.where(top, -1, nxt).astype(np.intp)
    gamma = virtual - prev
    a, b = s[..., prev], s[..., nxt]
    diff = b - a
    out = np.asarray(a + diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    # rows whose result may depend on the order of -0.0 and 0.0 (Notes)
    zero_next = (b == 0) & (gamma >= 0.5)
    if zero_next.ndim > s.ndim - 1:
        zero_next = zero_next.any(axis=-1)
    if zero_next.any():
        rows = values[zero_next]  # not the sorted ones: np.sort may turn -0.0 into 0.0
        zeros = rows == 0
        sign = np.signbit(rows)
        mixed = np.zeros(zero_next.shape, dtype=bool)
        mixed[zero_next] = (zeros & sign).any(axis=-1) & (zeros & ~sign).any(axis=-1)
        if mixed.any():
            exact = np.percentile(values[mixed], q, axis=-1)
            out[mixed] = exact if np.ndim(q) == 0 else np.moveaxis(exact, 0, -1)
    nan = np.isnan(s[..., -1])  # NaN sorts last
    if nan.any():
        out[nan] = (s[..., -1] if np.ndim(q) == 0 else s[..., -1:])[nan]
    return out


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
        (..., n_months, 5), as :func:`numpy.percentile` gives them for each month's hours.
    """
    month = np.asarray(month)
    # each month's hours side by side, in time order (a month may come back at the end of
    # the UTC year), then one sort per month
    order = np.argsort(month, kind="stable")
    grouped = np.asarray(values, dtype=float)[..., order]
    months, starts, counts = np.unique(month[order], return_index=True, return_counts=True)
    boxes = np.empty((*grouped.shape[:-1], len(months), 5))
    for i, (start, count) in enumerate(zip(starts, counts, strict=True)):
        boxes[..., i, :] = percentiles(grouped[..., start : start + count], [0, 25, 50, 75, 100])
    return months, boxes


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
    values = np.asarray(values)
    if values.dtype == bool:
        # count in integers: the same floats as summing ones and zeros, with less to move
        total = np.add.reduceat(values[..., order], starts, axis=-1, dtype=np.int64)
    else:
        total = np.add.reduceat(values.astype(float, copy=False)[..., order], starts, axis=-1)
    return cells // 24 + 1, cells % 24, total / counts


def _frame(parts: list[tuple], scenarios: list[str], ps_ids: list[str]) -> pd.DataFrame:
    """The long-form table of :func:`statistics` from its parts, rows in their final order.

    Parameters
    ----------
    parts : list of tuple
        ``(statistic, arr, month, hour)``: ``arr`` (n_sc, n_ps, 4[, k]), ``month`` and
        ``hour`` (k,) arrays or None (<NA>).
    scenarios, ps_ids : list of str

    Returns
    -------
    pandas.DataFrame
        Scenario by scenario, PS by PS, each PS's block the parts in order (figure-major):
        the same rows whether the PS are analysed together or chunk by chunk.
    """
    n_sc, n_ps = len(scenarios), len(ps_ids)
    names = list(dict.fromkeys(p[0] for p in parts))
    values: list[np.ndarray] = []
    figure: list[np.ndarray] = []
    statistic: list[np.ndarray] = []
    month: list[np.ndarray] = []
    hour: list[np.ndarray] = []
    for name, arr, m, h in parts:
        k = arr.shape[3] if arr.ndim == 4 else 1
        values.append(arr.reshape(n_sc, n_ps, 4 * k).astype(float))
        figure.append(np.repeat(np.arange(4), k))
        statistic.append(np.full(4 * k, names.index(name)))
        for col, x in ((month, m), (hour, h)):
            col.append(np.full(4 * k, -1) if x is None else np.tile(np.asarray(x), 4))
    # one PS's rows (the same pattern for every scenario and PS), then the whole table
    per_ps = sum(len(f) for f in figure)
    n_blocks = n_sc * n_ps

    def text(uniques: list[str], codes: np.ndarray):
        # a column of few distinct strings: let pandas infer the dtype of the distinct
        # values (Arrow-backed "str" or object, as for any array of strings), then take
        return pd.Series(np.asarray(uniques, dtype=str)).array.take(codes)

    def int8(x: list[np.ndarray]):
        whole = np.tile(np.concatenate(x), n_blocks)
        return pd.arrays.IntegerArray(np.maximum(whole, 0).astype(np.int8), whole < 0)

    return pd.DataFrame(
        {
            "scenario": text(scenarios, np.repeat(np.arange(n_sc), n_ps * per_ps)),
            "ps_id": text(ps_ids, np.tile(np.repeat(np.arange(n_ps), per_ps), n_sc)),
            "figure": text(list(DIRECTIONS), np.tile(np.concatenate(figure), n_blocks)),
            "statistic": text(names, np.tile(np.concatenate(statistic), n_blocks)),
            "month": int8(month),
            "hour": int8(hour),
            "value": np.concatenate(values, axis=-1).ravel(),
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
    # one sort serves the three percentiles (linear interpolation, numpy's default)
    ordered = np.sort(v, axis=-1)
    parts: list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None]] = [
        ("mean", v.mean(axis=-1), None, None),
        ("std", v.std(axis=-1), None, None),
        ("min", v.min(axis=-1), None, None),
        *((f"p{q}", percentiles(v, q, ordered), None, None) for q in (10, 50, 90)),
        ("max", v.max(axis=-1), None, None),
    ]
    del ordered
    months, boxes = monthly_boxes(v, month)  # (..., n_months, 5)
    for i, name in enumerate(("box_min", "box_q1", "box_median", "box_q3", "box_max")):
        parts.append((name, boxes[..., i], months, None))
    # consecutive hours of the axis within the month (other hours break a run)
    _, runs = longest_runs_by_group(above, month)
    parts.append(("longest_run_h", runs, months, None))
    cm, ch, cell_mean = month_hour_means(v, month, hour)
    _, _, cell_share = month_hour_means(above, month, hour)
    parts.append(("mean", cell_mean, cm, ch))
    parts.append(("share_at_or_above", cell_share, cm, ch))
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
            parts.append((name, per_month, months, None))
            parts.append((name, _nanmean(daily), None, None))
    return _frame(parts, a.scenarios, a.ps_ids)


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
