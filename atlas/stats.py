"""Statistics of the hourly figures and the relief screening (METHOD.md).

Pure functions over the hourly table (:attr:`atlas.pipeline.RunResult.hourly`): one row per
scenario, PS and hour with the four figures in generator convention (magnitudes >= 0).

Firm value: the level a figure reaches in at least ``availability`` of the hours, i.e. the
largest v with ``#(figure >= v) >= availability x n``; for n = 8760 and 0.90 it is the 877th
smallest value, not an interpolated percentile. A PS meets a direction when its firm value is
at or above the threshold, which is the same as: the share of hours at or above the threshold
is at least the availability.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Directions, their figure column and unit.
DIRECTIONS: dict[str, tuple[str, str]] = {
    "p_up": ("p_up_mw", "MW"),
    "p_down": ("p_down_mw", "MW"),
    "q_up": ("q_up_mvar", "Mvar"),
    "q_down": ("q_down_mvar", "Mvar"),
}

#: Default relief thresholds: 10 MW changes Milan's line flows appreciably, 10 Mvar moves the
#: PS voltage by about 0.5 kV (seed paper, METHOD.md).
THRESHOLD_MW = 10.0
THRESHOLD_MVAR = 10.0
#: Default availability of the firm value (METHOD.md). [-]
AVAILABILITY = 0.90


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
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if n == 0 or not 0 < availability <= 1:
        raise ValueError("need values and an availability in (0, 1]")
    k = math.ceil(availability * n - 1e-9)  # hours that must reach the value
    return float(v[n - k])


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of consecutive True values. [h]"""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0
    edges = np.diff(np.r_[0, m.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def screening(
    hourly: pd.DataFrame,
    names: dict[str, str] | None = None,
    threshold_mw: float = THRESHOLD_MW,
    threshold_mvar: float = THRESHOLD_MVAR,
    availability: float = AVAILABILITY,
) -> pd.DataFrame:
    """Relief screening of every PS, scenario and direction.

    Parameters
    ----------
    hourly : pandas.DataFrame
        The hourly table (scenario, ps_id, time and the four figures).
    names : dict, optional
        PS names by ps_id.
    threshold_mw, threshold_mvar : float
        Relief thresholds for the active and reactive directions. [MW], [Mvar]
    availability : float
        Share of hours the firm value must be reached in. [-]

    Returns
    -------
    pandas.DataFrame
        scenario, ps_id, name, direction, threshold, unit, availability, firm, mean,
        share_at_or_above, meets, longest_run_h, ranked by scenario, direction and firm
        value (largest first).
    """
    names = names or {}
    rows = []
    for (scenario, ps_id), g in hourly.groupby(["scenario", "ps_id"], sort=False):
        g = g.sort_values("time")
        for direction, (col, unit) in DIRECTIONS.items():
            v = g[col].to_numpy(dtype=float)
            threshold = threshold_mw if unit == "MW" else threshold_mvar
            above = v >= threshold
            firm = firm_value(v, availability)
            rows.append(
                {
                    "scenario": scenario,
                    "ps_id": ps_id,
                    "name": names.get(ps_id, ""),
                    "direction": direction,
                    "threshold": threshold,
                    "unit": unit,
                    "availability": availability,
                    "firm": firm,
                    "mean": float(v.mean()),
                    "share_at_or_above": float(above.mean()),
                    "meets": bool(firm >= threshold),
                    "longest_run_h": longest_run(above),
                }
            )
    table = pd.DataFrame(rows)
    order = {d: i for i, d in enumerate(DIRECTIONS)}
    table["_d"] = table["direction"].map(order)
    table = table.sort_values(
        ["scenario", "_d", "firm"], ascending=[True, True, False], kind="stable"
    )
    return table.drop(columns="_d").reset_index(drop=True)


def statistics(
    hourly: pd.DataFrame,
    timezone: str,
    threshold_mw: float = THRESHOLD_MW,
    threshold_mvar: float = THRESHOLD_MVAR,
) -> pd.DataFrame:
    """Statistics of every PS, scenario and figure, in long form.

    Parameters
    ----------
    hourly : pandas.DataFrame
        The hourly table.
    timezone : str
        Local time zone for months and hours of the day.
    threshold_mw, threshold_mvar : float
        Thresholds for the shares and runs. [MW], [Mvar]

    Returns
    -------
    pandas.DataFrame
        Columns scenario, ps_id, figure, statistic, month (1-12 or <NA>), hour (0-23 or
        <NA>), value. Statistics: over the year ``mean``, ``std`` (the normal fit, ddof=0),
        ``min``, ``p10``, ``p50``, ``p90``, ``max`` (linear-interpolated percentiles); per
        local month the box statistics ``box_min``, ``box_q1``, ``box_median``, ``box_q3``,
        ``box_max`` and ``longest_run_h`` (consecutive hours at or above the threshold);
        per local month and hour ``mean`` and ``share_at_or_above``.
    """
    local = pd.DatetimeIndex(hourly["time"]).tz_convert(timezone)
    frame = hourly.assign(_month=local.month, _hour=local.hour)
    out = []
    for (scenario, ps_id), g in frame.groupby(["scenario", "ps_id"], sort=False):
        g = g.sort_values("time")
        for direction, (col, unit) in DIRECTIONS.items():
            v = g[col].to_numpy(dtype=float)
            threshold = threshold_mw if unit == "MW" else threshold_mvar
            base = {"scenario": scenario, "ps_id": ps_id, "figure": direction}
            year = {
                "mean": v.mean(),
                "std": v.std(),
                "min": v.min(),
                "p10": np.percentile(v, 10),
                "p50": np.percentile(v, 50),
                "p90": np.percentile(v, 90),
                "max": v.max(),
            }
            out += [
                {**base, "statistic": k, "month": pd.NA, "hour": pd.NA, "value": float(x)}
                for k, x in year.items()
            ]
            month = g["_month"].to_numpy()
            for m in range(1, 13):
                vm = v[month == m]
                if vm.size == 0:
                    continue
                q = np.percentile(vm, [0, 25, 50, 75, 100])
                names = ("box_min", "box_q1", "box_median", "box_q3", "box_max")
                out += [
                    {**base, "statistic": n, "month": m, "hour": pd.NA, "value": float(x)}
                    for n, x in zip(names, q, strict=True)
                ]
                out.append(
                    {
                        **base,
                        "statistic": "longest_run_h",
                        "month": m,
                        "hour": pd.NA,
                        # consecutive hours of the axis within the month (other hours break a run)
                        "value": float(longest_run((v >= threshold) & (month == m))),
                    }
                )
            cell = pd.DataFrame(
                {"m": month, "h": g["_hour"].to_numpy(), "v": v, "a": v >= threshold}
            )
            agg = cell.groupby(["m", "h"]).agg(mean=("v", "mean"), share=("a", "mean"))
            for (m, h), r in agg.iterrows():
                out.append(
                    {
                        **base,
                        "statistic": "mean",
                        "month": int(m),
                        "hour": int(h),
                        "value": float(r["mean"]),
                    }
                )
                out.append(
                    {
                        **base,
                        "statistic": "share_at_or_above",
                        "month": int(m),
                        "hour": int(h),
                        "value": float(r["share"]),
                    }
                )
    table = pd.DataFrame(out)
    table["month"] = table["month"].astype("Int8")
    table["hour"] = table["hour"].astype("Int8")
    return table
