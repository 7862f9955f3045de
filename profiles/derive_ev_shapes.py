"""Derive the shipped EV charging shapes (``ev_shapes.csv``) from public data.

Run from the project root::

    python profiles/derive_ev_shapes.py --simbench PATH [--check]

``PATH`` is SimBench's data folder ``simbench/networks`` (inside the installed ``simbench``
package, or the unpacked wheel: ``pip download simbench --no-deps``); without ``--simbench``
the installed package is looked up, never imported. The script writes ``ev_shapes.csv`` beside
itself, or with ``--check`` compares what it derives with the shipped file and exits 1 on any
difference. The atlas itself never runs this script: the shapes ship as data.

Where each shape comes from (docs/profiles.md, "EV charging shapes")
--------------------------------------------------------------------
- **home** and **work**: the charging-station profiles of SimBench (Meinecke et al., Energies
  13(12) 3290, 2020; dataset (c) University of Kassel, TU Dortmund, RWTH Aachen, Fraunhofer IEE,
  Open Database License 1.0): every home (``HLS_*``) and every workplace (``APLS_*``) profile
  of the complete dataset ``1-complete_data-mixed-all-2-sw`` (the 2034 scenario, the one with
  the most EVs), weighted by the rated power of the loads that use it, so the shape is the whole
  dataset's home or workplace charging. The profiles are 15-minute values of 2016 in German
  local clock time (summer time included: the spring day has 92 values, the autumn day 100).
  Day types: Saturdays, Sundays and Germany's national holidays are holidays.
- **b2c** and **public**: trip statistics of the German national travel survey MiD 2017
  ("Mobilitaet in Tabellen"), as packaged by emobpy (Gaete-Morales et al., Scientific Data 8,
  152, 2021; MIT licence), copied unchanged into ``sources/emobpy_mid2017/``: the probability of
  a trip by departure time (half-hour rows) and destination, for commuters and for other
  drivers, on weekdays, Saturdays and Sundays. A charging session starts when the car arrives
  (departure plus the mean trip duration of the survey) and lasts a fixed time at constant
  power: b2c (supermarket and mall car parks) takes shopping trips and 0.75 h, the typical end
  of energy transfer at fast chargers; public (on-street) takes trips home, on errands and to
  leisure and 4 h, the typical end of energy transfer at public AC chargers (Hecht, Figgener,
  Sauer, iScience 25(12) 105634, 2022).

Values are written as percent of the day's energy, rounded to 0.001 (the atlas normalises each
row to a sum of 1), and ``daily_energy`` to 0.001.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources" / "emobpy_mid2017"
OUTPUT = HERE / "ev_shapes.csv"

# SimBench: the complete dataset of scenario 2 (2034), the one with the most EVs
SIMBENCH_GRID = "1-complete_data-mixed-all-2-sw"
SIMBENCH_YEAR = 2016
SIMBENCH_PREFIX = {"home": "HLS_", "work": "APLS_"}  # Heim- / Arbeitsplatz-Ladestation

# Session model of the two locations taken from trip statistics (module docstring)
TRIP_DESTINATIONS = {"b2c": ("shopping",), "public": ("home", "errands", "leisure")}
SESSION_HOURS = {
    "b2c": 0.75,  # Hecht et al. 2022: energy transfer typically ends after 45 min (fast)
    "public": 4.0,  # Hecht et al. 2022: energy transfer typically ends after 4 h (AC)
}
TRIP_TABLES = ("DepartureDestinationTrip_Worker.csv", "DepartureDestinationTrip_Free.csv")
LOCATIONS = ("home", "work", "b2c", "public")
DAY_TYPES = ("working", "holiday")


# ---------------------------------------------------------------------------------------------
# Shapes from a measured or simulated power series (home, work)
# ---------------------------------------------------------------------------------------------
def clock_hour_shapes(
    power: np.ndarray, stamps: pd.DatetimeIndex, holiday: np.ndarray
) -> tuple[dict[str, np.ndarray], float]:
    """Mean daily shape by local clock hour and day type, and the holiday energy ratio.

    Parameters
    ----------
    power : numpy.ndarray
        Power at each stamp, any unit, equally spaced samples. [W or pu]
    stamps : pandas.DatetimeIndex
        Local clock time of each sample (naive), start of its interval.
    holiday : numpy.ndarray of bool
        Holiday flag of each sample's date (Saturday, Sunday or public holiday).

    Returns
    -------
    shapes : dict
        ``{"working": (24,), "holiday": (24,)}``: mean power in each clock hour over the days
        of that type, divided by its sum (each sums to 1).
    ratio : float
        Mean daily energy of a holiday over that of a working day. [-]
    """
    frame = pd.DataFrame(
        {"p": np.asarray(power, dtype=float), "hour": stamps.hour, "holiday": holiday}
    )
    frame["date"] = stamps.normalize()
    means = frame.groupby(["holiday", "hour"])["p"].mean().unstack("hour")
    means = means.reindex(columns=range(24), fill_value=0.0)
    shapes = {}
    for day_type, flag in (("working", False), ("holiday", True)):
        row = means.loc[flag].to_numpy()
        shapes[day_type] = row / row.sum()
    daily = frame.groupby(["date", "holiday"])["p"].sum().groupby("holiday").mean()
    return shapes, float(daily[True] / daily[False])


def simbench_power(networks: Path, location: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """The complete dataset's charging power at one location, and its local stamps.

    The per-unit profiles whose names start with the location's prefix, weighted by the
    rated power of the SimBench loads that use each one. [MW]
    """
    folder = networks / SIMBENCH_GRID
    loads = pd.read_csv(folder / "Load.csv", sep=";", usecols=["profile", "pLoad"])
    prefix = SIMBENCH_PREFIX[location]
    weights = loads[loads["profile"].str.startswith(prefix)].groupby("profile")["pLoad"].sum()
    columns = [f"{p}_pload" for p in weights.index]
    profiles = pd.read_csv(folder / "LoadProfile.csv", sep=";", usecols=["time", *columns])
    stamps = pd.DatetimeIndex(pd.to_datetime(profiles["time"], format="%d.%m.%Y %H:%M"))
    power = profiles[columns].to_numpy() @ weights.to_numpy()
    return power, stamps


def german_holidays(stamps: pd.DatetimeIndex) -> np.ndarray:
    """Saturday, Sunday or a national public holiday of Germany, per stamp."""
    import holidays

    calendar = holidays.country_holidays("DE", years=sorted(set(stamps.year)))
    dates = stamps.normalize()
    public = np.array([d in calendar for d in dates.date])
    return (dates.day_of_week.to_numpy() >= 5) | public


# ---------------------------------------------------------------------------------------------
# Shapes from trip statistics (b2c, public)
# ---------------------------------------------------------------------------------------------
def session_power(
    departures: np.ndarray, travel_h: float, session_h: float, bin_h: float = 0.5
) -> np.ndarray:
    """Hourly mean charging power of sessions that start on arrival, over a cyclic day.

    Departures are uniform within each bin; a session starts ``travel_h`` after departure and
    draws a constant power for ``session_h``; a session past midnight wraps into the early
    hours of the same day type. Exact: the hour's mean is the integral over the arrivals of
    the session's overlap with the hour, in closed form (a ramp's antiderivative).

    Parameters
    ----------
    departures : numpy.ndarray
        (24 / bin_h,) number (or probability) of trips departing in each bin from 00:00. [-]
    travel_h, session_h : float
        Trip duration and charging time, >= 0. [h]
    bin_h : float
        Width of a departure bin. [h]

    Returns
    -------
    numpy.ndarray
        (24,) mean number of sessions charging in each clock hour h00..h23, i.e. the hourly
        mean power in units of one session's power. Sums to ``departures.sum() * session_h``.
    """
    departures = np.asarray(departures, dtype=float)
    if not np.isclose(len(departures) * bin_h, 24.0):
        raise ValueError(f"{len(departures)} bins of {bin_h} h do not make a day")
    if travel_h < 0 or session_h < 0:
        raise ValueError("travel and session times must be >= 0")
    b0 = (np.arange(len(departures)) * bin_h + travel_h)[:, None]  # arrival bins [b0, b1)
    b1 = b0 + bin_h
    density = (departures / bin_h)[:, None]  # arrivals per hour within each bin

    def ramp_integral(c: float, h: np.ndarray) -> np.ndarray:
        # integral over [b0, b1) of max(tau + c - h, 0) d tau
        return (np.maximum(b1 + c - h, 0) ** 2 - np.maximum(b0 + c - h, 0) ** 2) / 2

    # overlap of [tau, tau + D) with [h, h + 1) = r(tau+D-h) - r(tau+D-h-1) - r(tau-h) + r(tau-h-1)
    power = np.zeros(24)
    last_day = int(np.ceil((24 + travel_h + session_h) / 24))
    for day in range(last_day + 1):
        h = np.arange(24)[None, :] + 24.0 * day
        overlap = (
            ramp_integral(session_h, h)
            - ramp_integral(session_h - 1, h)
            - ramp_integral(0.0, h)
            + ramp_integral(-1.0, h)
        )
        power += (density * overlap).sum(axis=0)
    return power


def read_trip_table(path: Path) -> pd.DataFrame:
    """An emobpy departure-destination table: ``days,time,<destination>...``."""
    table = pd.read_csv(path)
    expected = np.arange(0, 24, 0.5)
    for day in ("weekdays", "saturday", "sunday"):
        times = table.loc[table["days"] == day, "time"].to_numpy(dtype=float)
        if not np.array_equal(times, expected):
            raise ValueError(f"{path}: {day} rows are not the 48 half hours from 0")
    return table


def mean_trip_hours(path: Path) -> float:
    """Mean trip duration of the survey's distance x duration table (columns in min). [h]"""
    table = pd.read_csv(path, index_col=0)
    minutes = table.columns.astype(float).to_numpy()
    weight = table.sum(axis=0).to_numpy()
    return float((minutes * weight).sum() / weight.sum() / 60)


def mean_trips_per_day(path: Path) -> dict[str, float]:
    """Mean number of trips per driver and day: ``{"weekday": .., "weekend": ..}``."""
    table = pd.read_csv(path)
    return {
        col: float((table["trip"] * table[col]).sum() / table[col].sum())
        for col in ("weekday", "weekend")
    }


def trip_shapes(
    tables: list[pd.DataFrame],
    trips_per_day: dict[str, float],
    destinations: tuple[str, ...],
    travel_h: float,
    session_h: float,
) -> tuple[dict[str, np.ndarray], float]:
    """Shapes and holiday energy ratio of sessions at trips' destinations.

    Each table's rows of a day are the probability of one trip departing in that half hour
    to each destination; the tables (driver groups) weigh alike. A working day is a weekday; a
    holiday the mean of Saturday and Sunday. Sessions per day are the trips per day times the
    share of trips to the destinations; every session draws the same energy.
    """
    departures = {}
    for day in ("weekdays", "saturday", "sunday"):
        rows = [t.loc[t["days"] == day, list(destinations)].to_numpy().sum(axis=1) for t in tables]
        departures[day] = np.mean(rows, axis=0)
    per_type = {
        "working": departures["weekdays"] * trips_per_day["weekday"],
        "holiday": (departures["saturday"] + departures["sunday"]) / 2 * trips_per_day["weekend"],
    }
    shapes = {}
    energy = {}
    for day_type, dep in per_type.items():
        power = session_power(dep, travel_h, session_h)
        shapes[day_type] = power / power.sum()
        energy[day_type] = power.sum()
    return shapes, float(energy["holiday"] / energy["working"])


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
Shapes = dict[str, tuple[dict[str, np.ndarray], float]]


def simbench_shapes(networks: Path) -> Shapes:
    """home and work: ``{location: ({day_type: (24,)}, holiday energy ratio)}``."""
    results = {}
    for location in SIMBENCH_PREFIX:
        power, stamps = simbench_power(networks, location)
        results[location] = clock_hour_shapes(power, stamps, german_holidays(stamps))
    return results


def survey_shapes(sources: Path = SOURCES) -> Shapes:
    """b2c and public, from the travel-survey tables shipped in ``sources``."""
    tables = [read_trip_table(sources / name) for name in TRIP_TABLES]
    travel_h = mean_trip_hours(sources / "DistanceDurationTrip.csv")
    trips = mean_trips_per_day(sources / "TripsPerDay.csv")
    return {
        location: trip_shapes(tables, trips, destinations, travel_h, SESSION_HOURS[location])
        for location, destinations in TRIP_DESTINATIONS.items()
    }


def shapes_table(results: Shapes) -> pd.DataFrame:
    """The file's rows: shapes in percent of the day, rounded to 0.001, for the locations given."""
    rows = []
    for location in (loc for loc in LOCATIONS if loc in results):
        shapes, ratio = results[location]
        for day_type in DAY_TYPES:
            daily = 1.0 if day_type == "working" else round(ratio, 3)
            rows.append([location, day_type, daily, *np.round(100 * shapes[day_type], 3).tolist()])
    columns = ["location", "day_type", "daily_energy", *(f"h{h:02d}" for h in range(24))]
    return pd.DataFrame(rows, columns=columns)


def derive(networks: Path) -> pd.DataFrame:
    """Every location's two shapes (percent of the day) and daily energy ratio."""
    return shapes_table({**simbench_shapes(networks), **survey_shapes()})


HEADER = """\
# EV charging shapes by location: percent of the day's charging energy in each LOCAL clock hour
# (h00 = 00:00-01:00), for working days (Monday-Friday, not a holiday) and holidays (Saturday,
# Sunday, national and local holidays); each row is normalised to a sum of 1 in the code.
# daily_energy: a holiday's energy relative to a working day's at that location.
# DERIVED by profiles/derive_ev_shapes.py (docs/profiles.md, "EV charging shapes"):
# home, work: SimBench charging-station profiles HLS_* and APLS_* (dataset
#   1-complete_data-mixed-all-2-sw, 2016, German clock time), weighted by the rated power of
#   the loads using them. SimBench (c) University of Kassel, TU Dortmund, RWTH Aachen,
#   Fraunhofer IEE; these two locations' rows are a derivative database of SimBench, made
#   available under the Open Database License 1.0 (opendatacommons.org/licenses/odbl/1.0/).
# b2c, public: sessions starting on arrival of trips (shopping; home, errands, leisure) of the
#   German travel survey MiD 2017 as packaged by emobpy (MIT licence, profiles/sources/),
#   lasting 0.75 h (b2c) and 4 h (public) after Hecht, Figgener and Sauer, iScience 2022.
"""


def write(table: pd.DataFrame, path: Path) -> None:
    """Write the shapes with their header, byte for byte reproducibly."""
    body = table.to_csv(index=False, lineterminator="\n", float_format="%.3f")
    path.write_text(HEADER + body, encoding="utf-8")


def plot(table: pd.DataFrame, path: Path) -> None:
    """Draw the eight shapes, one panel per location (docs/profiles.md)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [f"h{h:02d}" for h in range(24)]
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex=True, layout="constrained")
    sources = {
        "home": "SimBench HLS (home stations)",
        "work": "SimBench APLS (workplace stations)",
        "b2c": "MiD 2017 shopping arrivals, 0.75 h",
        "public": "MiD 2017 home/errand/leisure arrivals, 4 h",
    }
    for ax, location in zip(axes.flat, LOCATIONS, strict=True):
        for day_type, style in (("working", "-"), ("holiday", "--")):
            row = table[(table["location"] == location) & (table["day_type"] == day_type)]
            values = row[hours].to_numpy(dtype=float)[0]
            daily = float(row["daily_energy"].iloc[0])
            label = f"{day_type} (day's energy x {daily:.2f})"
            ax.step(range(25), [*values, values[-1]], where="post", ls=style, label=label)
        ax.set_title(f"{location}: {sources[location]}", fontsize=9)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 3))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes[1]:
        ax.set_xlabel("local clock hour")
    for ax in axes[:, 0]:
        ax.set_ylabel("% of the day's energy")
    fig.suptitle("EV charging shapes shipped in profiles/ev_shapes.csv", fontsize=10)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def find_simbench() -> Path:
    """SimBench's ``networks`` folder in the installed package (not imported)."""
    spec = importlib.util.find_spec("simbench")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "SimBench's data is needed: pass --simbench PATH to its 'networks' folder "
            "(pip download simbench --no-deps, unpack the wheel) or pip install simbench"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "networks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simbench", type=Path, help="SimBench's simbench/networks folder")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    parser.add_argument("--plot", type=Path, help="also draw the shapes into this PNG")
    args = parser.parse_args(argv)
    networks = args.simbench or find_simbench()
    if not (networks / SIMBENCH_GRID / "LoadProfile.csv").is_file():
        raise SystemExit(f"{networks}: no {SIMBENCH_GRID}/LoadProfile.csv (SimBench's data)")
    table = derive(networks)
    if args.plot:
        plot(table, args.plot)
        print(f"drew {args.plot}")
    if args.check:
        shipped = OUTPUT.read_text(encoding="utf-8")
        expected = HEADER + table.to_csv(index=False, lineterminator="\n", float_format="%.3f")
        if shipped != expected:
            print(f"{OUTPUT} differs from what the sources give", file=sys.stderr)
            return 1
        print(f"{OUTPUT}: reproduced from the sources")
        return 0
    write(table, OUTPUT)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
