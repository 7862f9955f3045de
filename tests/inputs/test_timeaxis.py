"""The study's hourly axis: 8760 UTC stamps, 29 February dropped, local hours across DST."""

import numpy as np
import pandas as pd
import pytest

from atlas.inputs.timeaxis import N_HOURS, hourly_axis, local_hour


def test_axis_of_2030_runs_from_new_year_to_the_last_hour_in_utc():
    axis = hourly_axis(2030)
    assert len(axis) == N_HOURS == 8760
    assert str(axis.tz) == "UTC"
    assert axis[0] == pd.Timestamp("2030-01-01T00:00Z")
    assert axis[-1] == pd.Timestamp("2030-12-31T23:00Z")
    assert (np.diff(axis.asi8) == np.diff(axis.asi8)[0]).all()  # evenly spaced...
    assert axis[1] - axis[0] == pd.Timedelta(hours=1)  # ...by one hour
    assert axis.is_unique and axis.is_monotonic_increasing
    assert axis.name == "time"


@pytest.mark.parametrize("year", [2028, 2024, 2000])
def test_leap_year_drops_29_february_and_keeps_8760_steps(year):
    axis = hourly_axis(year)
    assert len(axis) == 8760
    assert str(axis.tz) == "UTC"
    assert not ((axis.month == 2) & (axis.day == 29)).any()
    march = axis.get_loc(pd.Timestamp(f"{year}-03-01T00:00Z"))
    assert axis[march - 1] == pd.Timestamp(f"{year}-02-28T23:00Z")
    assert march == 59 * 24  # the same position in the year as in a common year
    assert axis[0] == pd.Timestamp(f"{year}-01-01T00:00Z")
    assert axis[-1] == pd.Timestamp(f"{year}-12-31T23:00Z")


def test_step_i_is_the_same_position_in_every_year():
    a, b = hourly_axis(2030), hourly_axis(2028)
    same = (a.month == b.month) & (a.day == b.day) & (a.hour == b.hour)
    assert same.all()


def _local(axis: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    """Local hours of the stamps in [start, end) (UTC)."""
    hours = local_hour(axis, "Europe/Rome")
    return hours[(axis >= pd.Timestamp(start)) & (axis < pd.Timestamp(end))]


def test_local_hour_skips_2_on_the_spring_change():
    # 2030-03-31 in Rome: 00:00 CET = 2030-03-30T23:00Z ... 24:00 CEST = 2030-03-31T22:00Z
    axis = hourly_axis(2030)
    day = _local(axis, "2030-03-30T23:00Z", "2030-03-31T22:00Z")
    assert len(day) == 23
    assert list(day) == [0, 1, *range(3, 24)]


def test_local_hour_repeats_2_on_the_autumn_change():
    # 2030-10-27 in Rome: 00:00 CEST = 2030-10-26T22:00Z ... 24:00 CET = 2030-10-27T23:00Z
    axis = hourly_axis(2030)
    day = _local(axis, "2030-10-26T22:00Z", "2030-10-27T23:00Z")
    assert len(day) == 25
    assert list(day) == [0, 1, 2, 2, *range(3, 24)]


def test_local_hour_is_utc_plus_one_in_winter_and_plus_two_in_summer():
    axis = hourly_axis(2030)
    hours = local_hour(axis, "Europe/Rome")
    assert hours.shape == (8760,)
    assert hours[axis.get_loc(pd.Timestamp("2030-01-15T11:00Z"))] == 12
    assert hours[axis.get_loc(pd.Timestamp("2030-07-15T11:00Z"))] == 13
    assert set(np.unique(hours)) == set(range(24))
    # UTC itself: the hour of the stamp
    np.testing.assert_array_equal(local_hour(axis, "UTC"), np.asarray(axis.hour))
