"""The shipped EV charging shapes come from their documented sources (profiles/derive_ev_shapes.py).

The derivation's pieces are checked against hand computations; the b2c and public rows are
re-derived from the survey tables shipped beside the script; the home and work rows from
SimBench's data where it is installed (or ``ATLAS_SIMBENCH_NETWORKS`` points at its
``simbench/networks`` folder).
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from atlas.timeseries.ev import read_ev_shapes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "profiles" / "derive_ev_shapes.py"


@pytest.fixture(scope="module")
def derive():
    spec = importlib.util.spec_from_file_location("derive_ev_shapes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shipped_rows(locations) -> pd.DataFrame:
    table = pd.read_csv(ROOT / "profiles" / "ev_shapes.csv", comment="#")
    return table[table["location"].isin(locations)].reset_index(drop=True)


# --- sessions from trips --------------------------------------------------------------------
def test_one_half_hour_of_departures_by_hand(derive):
    # one trip leaving in 08:00-08:30, no travel, 1 h session: the number of cars charging
    # rises linearly to 1 over 08:00-08:30 (x 2 per hour of arrivals), holds, then falls:
    # hour 8 averages 0.75, hour 9 0.25
    departures = np.zeros(48)
    departures[16] = 1.0
    power = derive.session_power(departures, travel_h=0.0, session_h=1.0)
    expected = np.zeros(24)
    expected[8], expected[9] = 0.75, 0.25
    assert_allclose(power, expected, atol=1e-12)


def test_a_late_session_wraps_into_the_early_hours(derive):
    departures = np.zeros(48)
    departures[47] = 1.0  # 23:30-24:00
    power = derive.session_power(departures, travel_h=0.0, session_h=1.0)
    expected = np.zeros(24)
    expected[23], expected[0] = 0.25, 0.75
    assert_allclose(power, expected, atol=1e-12)


def test_travel_time_shifts_the_sessions(derive):
    departures = np.zeros(48)
    departures[16] = 1.0
    moved = derive.session_power(departures, travel_h=2.0, session_h=1.0)
    assert_allclose(moved, np.roll(derive.session_power(departures, 0.0, 1.0), 2), atol=1e-12)


@pytest.mark.parametrize("session_h", [0.75, 4.0, 30.0])
def test_sessions_conserve_energy_and_match_a_fine_grid(derive, session_h):
    rng = np.random.default_rng(7)
    departures = rng.random(48)
    power = derive.session_power(departures, travel_h=0.56, session_h=session_h)
    assert power.sum() == pytest.approx(departures.sum() * session_h, rel=1e-12)
    # brute force: 10-second starts uniform in each bin, each charging session_h, cyclic
    step = 1 / 360  # h
    n = round(24 / step)
    starts = np.repeat(departures / 180, 180)  # 180 steps per half hour
    starts = np.roll(starts, round(0.56 / step))
    length = round(session_h / step)
    whole, rest = divmod(length, n)
    cumulative = np.concatenate([[0.0], np.cumsum(np.tile(starts, 2))])
    m = np.arange(n) + n  # charging at step m: starts in (m - rest, m]
    charging = whole * starts.sum() + cumulative[m + 1] - cumulative[m + 1 - rest]
    brute = charging.reshape(24, -1).mean(axis=1)
    assert_allclose(power, brute, rtol=2e-3, atol=2e-3 * departures.mean())


def test_trip_shapes_weigh_groups_alike_and_scale_by_trips(derive):
    half_hours = np.arange(0, 24, 0.5)

    def table(day_rows):
        frames = [
            pd.DataFrame({"days": day, "time": half_hours, "shopping": v, "home": 1 - v})
            for day, v in day_rows.items()
        ]
        return pd.concat(frames, ignore_index=True)

    one = np.zeros(48)
    one[20] = 1.0  # 10:00-10:30
    other = np.zeros(48)
    other[36] = 1.0  # 18:00-18:30
    a = table({"weekdays": one * 0.5, "saturday": one * 0.25, "sunday": one * 0.0})
    b = table({"weekdays": other * 0.5, "saturday": other * 0.25, "sunday": other * 0.0})
    shapes, ratio = derive.trip_shapes(
        [a, b], {"weekday": 2.0, "weekend": 4.0}, ("shopping",), travel_h=0.0, session_h=0.5
    )
    # working day: two sessions of 0.5 h, one at 10:00-10:30 and one at 18:00-18:30 (each
    # spreading over its hour and the next); equal halves
    assert shapes["working"].sum() == pytest.approx(1.0)
    assert shapes["working"][10] + shapes["working"][11] == pytest.approx(0.5)
    assert shapes["working"][18] + shapes["working"][19] == pytest.approx(0.5)
    # energy: trips/day x share to the destination, the holiday is the mean of Sat and Sun
    working = 2.0 * 0.5
    holiday = 4.0 * (0.25 + 0.0) / 2
    assert ratio == pytest.approx(holiday / working)


# --- shapes from a power series --------------------------------------------------------------
def test_clock_hour_shapes_by_hand_with_a_summer_time_day(derive):
    monday = pd.date_range("2016-03-21", periods=96, freq="15min")  # working day
    saturday = pd.date_range("2016-03-26", periods=96, freq="15min")
    # Sunday 27 March 2016: clocks go forward, 02:00-02:59 does not exist (92 values)
    sunday = pd.date_range("2016-03-27", periods=96, freq="15min")
    sunday = sunday[sunday.hour != 2]
    stamps = monday.append(saturday).append(sunday)
    power = np.concatenate([monday.hour + 1.0, np.full(96, 2.0), np.full(92, 2.0)])
    holiday = np.array(stamps.day_of_week >= 5)
    shapes, ratio = derive.clock_hour_shapes(power, stamps, holiday)
    assert_allclose(shapes["working"], (np.arange(24) + 1) / 300)
    assert_allclose(shapes["holiday"], np.full(24, 1 / 24))
    working_energy = 4 * 300.0
    holiday_energy = (96 * 2 + 92 * 2) / 2
    assert ratio == pytest.approx(holiday_energy / working_energy)


def test_german_holidays(derive):
    stamps = pd.DatetimeIndex(["2016-05-04 12:00", "2016-05-05 12:00", "2016-05-07 12:00"])
    # Wednesday; Ascension Day (national holiday); Saturday
    assert derive.german_holidays(stamps).tolist() == [False, True, True]


# --- the shipped file -------------------------------------------------------------------------
def test_b2c_and_public_rows_reproduce_from_the_shipped_survey_tables(derive):
    derived = derive.shapes_table(derive.survey_shapes())
    shipped = shipped_rows(["b2c", "public"])
    # compare as the file writes them (3 decimals)
    text = derived.to_csv(index=False, lineterminator="\n", float_format="%.3f")
    assert_allclose(
        pd.read_csv(io.StringIO(text)).iloc[:, 2:].to_numpy(),
        shipped.iloc[:, 2:].to_numpy(),
        atol=0,
    )
    assert derived[["location", "day_type"]].equals(shipped[["location", "day_type"]])


def simbench_networks() -> Path | None:
    env = os.environ.get("ATLAS_SIMBENCH_NETWORKS")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("simbench")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "networks"


@pytest.mark.network
def test_home_and_work_rows_reproduce_from_simbench(derive):
    networks = simbench_networks()
    if networks is None or not (networks / derive.SIMBENCH_GRID / "LoadProfile.csv").is_file():
        pytest.skip(
            "SimBench's data is not installed (pip install simbench, or set "
            "ATLAS_SIMBENCH_NETWORKS to its simbench/networks folder)"
        )
    assert derive.main(["--simbench", str(networks), "--check"]) == 0


def test_the_atlas_reads_the_shipped_shapes():
    shapes = read_ev_shapes()
    for location in ("home", "work", "b2c", "public"):
        for day_type in ("working", "holiday"):
            assert shapes.hourly[location][day_type].sum() == pytest.approx(1.0)
    # the sources' signatures: home charging peaks in the evening, work in the morning,
    # public on-street charging in the late afternoon and evening
    assert 16 <= int(np.argmax(shapes.hourly["home"]["working"])) <= 20
    assert 6 <= int(np.argmax(shapes.hourly["work"]["working"])) <= 9
    assert 16 <= int(np.argmax(shapes.hourly["public"]["working"])) <= 21
    assert shapes.daily["work"]["holiday"] < 0.5
