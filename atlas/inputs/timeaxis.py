"""The study's hourly axis: 8760 UTC stamps of one calendar year (METHOD.md).

From YYYY-01-01T00:00Z to YYYY-12-31T23:00Z; in a leap year the 24 stamps of 29 February
(UTC date) are dropped, so every year has 8760 steps and step i is "the same position in the
year" across years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_HOURS = 8760


def hourly_axis(year: int) -> pd.DatetimeIndex:
    """The 8760 hourly UTC stamps of ``year`` (29 February dropped in leap years).

    Parameters
    ----------
    year : int
        Calendar year.

    Returns
    -------
    pandas.DatetimeIndex
        tz-aware (UTC), length 8760, named ``time``.
    """
    stamps = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h", tz="UTC", name="time")
    stamps = stamps[~((stamps.month == 2) & (stamps.day == 29))]
    assert len(stamps) == N_HOURS
    return stamps


def local_hour(axis: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Local clock hour (0-23) of each stamp, summer time included."""
    return np.asarray(axis.tz_convert(timezone).hour)
