"""Generate the embedded Milan demo study: SYNTHETIC inputs around PS Sud.

Run from the project root::

    python geodata/demo_milan/make_demo.py

It writes, into this script's own folder: substations.csv, capacity.csv, load.csv.gz,
ev.csv.gz and study.toml. The output is deterministic (numpy default_rng with a fixed seed,
gzip with mtime=0): two runs give byte-identical files.

What is real and what is invented
---------------------------------
- PS Sud's rating (376 MVA, 220/23 kV) and its DER capacities in both scenarios are the seed
  paper's (Bosisio et al.), as quoted in seed paper, "Reference case: PS Sud". So is the
  Milan-wide 2030 EV energy (about 340 GWh a year).
- The shape of the PS load (hour of day x day type, and month) is derived from real data:
  Terna S.p.A. transparency data, total load NORD bidding zone 2024, hourly means derived. Only
  the small table of factors below is embedded; the Terna file is never read at run time.
- Everything else (the five other PS, their sites, ratings, peaks and DERs, PS Sud's location
  and peak, power factors, noise, the EV allocation, location split and charging shapes) is
  INVENTED for the demo and labelled so at each constant.

``--derive-from PATH`` re-derives the embedded Terna table from the derived Terna CSV and prints
it as Python literals (a maintainer's check; the demo itself never needs the file).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Study frame
# ---------------------------------------------------------------------------------------------
SEED = 20300101  # invented: any fixed integer; changing it changes only the load noise
YEAR = 2030  # study year (seed paper: the paper's 2030 scenario)
TIMEZONE = "Europe/Rome"  # seed paper: local time for hour-of-day and day type
SCENARIOS = ["as-is", "2030"]  # seed paper: the paper's scenarios; the first is the reference
DECIMALS = 4  # rounding of every MW / Mvar value written (0.1 kW / 0.1 kvar resolution)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # UTC ISO 8601, as the atlas's readers expect

# ---------------------------------------------------------------------------------------------
# Substations: (ps_id, name, lat [deg N], lon [deg E], rated_mva [MVA])
# ---------------------------------------------------------------------------------------------
SUBSTATIONS = [
    # seed paper: PS Sud, 220/23 kV, four transformers, 376 MVA.
    # Location APPROXIMATE (invented point in southern Milan, ~45.43 N 9.19 E).
    ("SUD", "PS Sud (220/23 kV)", 45.4300, 9.1900, 376.0),
    # SYNTHETIC: invented ids, names, sites (inside the Comune di Milano) and ratings
    # (multiples of common 63 MVA HV/MV transformers).
    ("NORD", "PS Nord (synthetic)", 45.5150, 9.1950, 189.0),
    ("EST", "PS Est (synthetic)", 45.4850, 9.2400, 126.0),
    ("OVEST", "PS Ovest (synthetic)", 45.4650, 9.1050, 189.0),
    ("CENTRO", "PS Centro (synthetic)", 45.4700, 9.1800, 252.0),
    ("BOVISA", "PS Bovisa (synthetic)", 45.5030, 9.1600, 126.0),
]
PS_IDS = [s[0] for s in SUBSTATIONS]

# Yearly peak of the PS active load [MW], PCC load convention. All INVENTED (PS Sud's peak is
# not in seed paper; 180 MW stays well inside the 376 MVA station's N-1 capacity).
PEAK_LOAD_MW = {
    "SUD": 180.0,
    "NORD": 120.0,
    "EST": 95.0,
    "OVEST": 140.0,
    "CENTRO": 200.0,
    "BOVISA": 70.0,
}

# Mean power factor of each PS load, lagging (Q > 0 absorbed by distribution). INVENTED,
# spread around 0.95, a common planning value.
POWER_FACTOR = {
    "SUD": 0.95,
    "NORD": 0.955,
    "EST": 0.945,
    "OVEST": 0.95,
    "CENTRO": 0.96,
    "BOVISA": 0.94,
}
PF_NOISE_SD = 0.008  # INVENTED: standard deviation of the hourly power-factor variation [-]
PF_RANGE = (0.90, 0.99)  # INVENTED: power factor kept within this range [-]

# Multiplicative hourly noise on P: AR(1) with this stationary standard deviation and lag-1
# correlation. INVENTED (~2 % as asked, correlated so consecutive hours look like a meter's).
LOAD_NOISE_SD = 0.02
LOAD_NOISE_AR1 = 0.7

# ---------------------------------------------------------------------------------------------
# Installed DER capacity: (scenario, ps_id, technology, capacity_mw [MW], level)
# ---------------------------------------------------------------------------------------------
CAPACITY = [
    # seed paper, "Reference case: PS Sud" (seed paper), taken as MV-connected as there.
    ("as-is", "SUD", "pv", 5.0, "MV"),
    ("as-is", "SUD", "chp", 27.0, "MV"),
    ("as-is", "SUD", "biomass", 0.0, "MV"),
    ("as-is", "SUD", "hydro", 0.420, "MV"),
    ("2030", "SUD", "pv", 16.0, "MV"),
    ("2030", "SUD", "chp", 29.0, "MV"),
    ("2030", "SUD", "biomass", 0.0, "MV"),
    ("2030", "SUD", "hydro", 0.420, "MV"),
    # SYNTHETIC from here on: invented, in proportion to PS Sud's (PV growing ~3x to 2030,
    # CHP roughly stable), so that every technology appears in both scenarios.
    ("as-is", "NORD", "pv", 3.5, "MV"),
    ("as-is", "NORD", "pv", 1.2, "LV"),  # the one LV row: small rooftop PV under CEI 0-21
    ("as-is", "NORD", "chp", 12.0, "MV"),
    ("2030", "NORD", "pv", 11.0, "MV"),
    ("2030", "NORD", "pv", 4.0, "LV"),
    ("2030", "NORD", "chp", 12.0, "MV"),
    ("as-is", "EST", "pv", 4.0, "MV"),
    ("as-is", "EST", "chp", 8.0, "MV"),
    ("2030", "EST", "pv", 12.5, "MV"),
    ("2030", "EST", "chp", 10.0, "MV"),
    ("as-is", "OVEST", "pv", 2.5, "MV"),
    ("as-is", "OVEST", "chp", 6.0, "MV"),
    ("as-is", "OVEST", "biomass", 1.0, "MV"),  # a small biogas plant (invented)
    ("as-is", "OVEST", "hydro", 0.15, "MV"),  # a small canal hydro plant (invented)
    ("2030", "OVEST", "pv", 9.0, "MV"),
    ("2030", "OVEST", "chp", 6.0, "MV"),
    ("2030", "OVEST", "biomass", 1.0, "MV"),
    ("2030", "OVEST", "hydro", 0.15, "MV"),
    ("as-is", "CENTRO", "pv", 1.5, "MV"),
    ("as-is", "CENTRO", "chp", 20.0, "MV"),
    ("2030", "CENTRO", "pv", 5.0, "MV"),
    ("2030", "CENTRO", "chp", 22.0, "MV"),
    ("as-is", "BOVISA", "pv", 2.0, "MV"),
    ("as-is", "BOVISA", "chp", 5.0, "MV"),
    ("as-is", "BOVISA", "biomass", 0.5, "MV"),  # invented
    ("2030", "BOVISA", "pv", 7.0, "MV"),
    ("2030", "BOVISA", "chp", 6.0, "MV"),
    ("2030", "BOVISA", "biomass", 0.8, "MV"),  # invented
]

# ---------------------------------------------------------------------------------------------
# Calendars: national holidays hand-coded (no holiday package needed)
# ---------------------------------------------------------------------------------------------
# Italian national holidays of 2024 (the Terna year): New Year, Epiphany, Easter Sunday
# (31 March) and Monday, Liberation Day, Labour Day, Republic Day, Assumption, All Saints,
# Immaculate Conception, Christmas, St Stephen. Sant'Ambrogio (Milan only) is not a NORD-wide
# holiday and is left out of the NORD table.
HOLIDAYS_2024 = [
    "2024-01-01", "2024-01-06", "2024-03-31", "2024-04-01", "2024-04-25", "2024-05-01",
    "2024-06-02", "2024-08-15", "2024-11-01", "2024-12-08", "2024-12-25", "2024-12-26",
]  # fmt: skip
# The same holidays in 2030 (Easter 21 April), plus Milan's Sant'Ambrogio (7 December,
# seed paper) and 1 January 2031: the axis's last UTC hour is 2031-01-01 00:00 local time.
HOLIDAYS_2030 = [
    "2030-01-01", "2030-01-06", "2030-04-21", "2030-04-22", "2030-04-25", "2030-05-01",
    "2030-06-02", "2030-08-15", "2030-11-01", "2030-12-07", "2030-12-08", "2030-12-25",
    "2030-12-26", "2031-01-01",
]  # fmt: skip

DAY_TYPES = ("working", "saturday", "sunday_holiday")

# ---------------------------------------------------------------------------------------------
# Load shape: Terna S.p.A. transparency data, total load NORD bidding zone 2024, hourly means
# derived (see --derive-from). Real data in shape only; the levels are the invented peaks.
# LOAD_HOUR_FACTOR[day type][h]: mean load in local clock hour h (h:00-h:59) on that day type,
# divided by the mean load of all working-day hours. LOAD_MONTH_FACTOR[m - 1]: mean load of the
# working days of month m divided by the mean load of all working-day hours. The model load is
# LOAD_HOUR_FACTOR[day type][h] * LOAD_MONTH_FACTOR[m - 1].
# ---------------------------------------------------------------------------------------------
# fmt: off
LOAD_HOUR_FACTOR = {
    "working": [  # local hours 0-7, 8-15, 16-23
        0.7459, 0.7077, 0.6865, 0.6796, 0.6890, 0.7407, 0.8921, 1.0553,
        1.1702, 1.2044, 1.2033, 1.2037, 1.1477, 1.1442, 1.1692, 1.1655,
        1.1584, 1.1402, 1.1306, 1.1264, 1.0757, 1.0092, 0.9154, 0.8392,
    ],
    "saturday": [  # local hours 0-7, 8-15, 16-23
        0.7550, 0.7133, 0.6853, 0.6701, 0.6681, 0.6813, 0.7266, 0.7954,
        0.8536, 0.8889, 0.8860, 0.8733, 0.8486, 0.8169, 0.8007, 0.7908,
        0.8025, 0.8378, 0.8777, 0.8993, 0.8625, 0.8178, 0.7654, 0.7109,
    ],
    "sunday_holiday": [  # local hours 0-7, 8-15, 16-23
        0.6448, 0.6080, 0.5849, 0.5712, 0.5681, 0.5778, 0.5966, 0.6249,
        0.6625, 0.7000, 0.7206, 0.7380, 0.7454, 0.7127, 0.6963, 0.6918,
        0.7019, 0.7415, 0.7873, 0.8228, 0.8080, 0.7751, 0.7259, 0.6661,
    ],
}
LOAD_MONTH_FACTOR = [  # January-June, July-December
    1.0200, 1.0396, 0.9889, 0.9196, 0.9461, 1.0106,
    1.1411, 0.9364, 1.0036, 0.9760, 1.0362, 0.9693,
]
# fmt: on

# ---------------------------------------------------------------------------------------------
# EV charging (scenario "2030" only; seed paper: EVs count only in 2030)
# ---------------------------------------------------------------------------------------------
EV_SCENARIO = "2030"
EV_CITY_ENERGY_MWH = 340_000.0  # seed paper: Milan 2030, 204,000 EVs, ~340 GWh/yr
# INVENTED allocation: Milan is taken as ~30 PS with a mean peak of 110 MW, so the city's sum of
# PS peaks is 3300 MW and each demo PS gets the share PEAK_LOAD_MW[ps] / 3300.
EV_CITY_N_PS = 30  # INVENTED (order of magnitude of Milan's HV/MV stations)
EV_CITY_MEAN_PS_PEAK_MW = 110.0  # INVENTED
EV_CITY_SUM_PS_PEAK_MW = EV_CITY_N_PS * EV_CITY_MEAN_PS_PEAK_MW
# INVENTED split of the EV energy by charging location (sums to 1).
EV_LOCATION_SHARE = {"home": 0.55, "work": 0.20, "b2c": 0.10, "public": 0.15}
# INVENTED: daily energy on a non-working day (Saturday, Sunday, holiday) relative to a
# working day, per location (work chargers idle at weekends, shops busier).
EV_NONWORKING_DAY_WEIGHT = {"home": 1.15, "work": 0.25, "b2c": 1.2, "public": 0.9}
# INVENTED 24-h charging shapes in local clock hours 0..23, relative weights (normalised to a
# daily sum of 1 in the code). "working": Monday-Friday except holidays; "nonworking": the rest.
# Each list: local hours 0-11 on the first row, 12-23 on the second.
# fmt: off
EV_SHAPE = {
    "home": {  # evening arrival peak, charging on into the night
        "working": [
            6, 4, 3, 2, 1.5, 1, 1, 1, 1, 1, 1, 1,
            1, 1, 1.5, 2, 4, 7, 10, 11, 11, 10, 9, 8,
        ],
        "nonworking": [
            7, 5, 4, 3, 2, 1.5, 1, 1, 1.5, 2, 3, 3.5,
            3.5, 3.5, 3.5, 4, 5, 6, 8, 9, 9, 9, 8, 8,
        ],
    },
    "work": {  # office hours, about 8-17
        "working": [
            0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10, 9,
            7, 7, 8, 7, 5, 3, 1, 0, 0, 0, 0, 0,
        ],
        "nonworking": [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3,
            3, 3, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0,
        ],
    },
    "b2c": {  # shopping hours, supermarket and mall car parks
        "working": [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 6, 7,
            7, 6, 6, 7, 8, 9, 9, 7, 3, 1, 0, 0,
        ],
        "nonworking": [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 5, 8, 9,
            9, 8, 7, 8, 9, 9, 8, 6, 3, 1, 0, 0,
        ],
    },
    "public": {  # on-street and fast chargers: flatter, used all day and evening
        "working": [
            2, 1.5, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5,
            5, 5, 5, 5, 5, 5.5, 5.5, 5, 4, 3, 3, 2.5,
        ],
        "nonworking": [
            2.5, 2, 1.5, 1, 1, 1, 1, 1.5, 2.5, 4, 5, 5.5,
            5.5, 5, 5, 5, 5, 5, 5, 4.5, 4, 3.5, 3, 3,
        ],
    },
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def hourly_axis(year: int) -> pd.DatetimeIndex:
    """The study's 8760 UTC stamps (seed paper; 29 February dropped in leap years)."""
    stamps = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h", tz="UTC")
    stamps = stamps[~((stamps.month == 2) & (stamps.day == 29))]
    assert len(stamps) == 8760
    return stamps


def day_type(dates: pd.Series | pd.DatetimeIndex, holidays: list[str]) -> np.ndarray:
    """0 working day, 1 Saturday, 2 Sunday or holiday, from (local) calendar dates."""
    days = pd.DatetimeIndex(dates).normalize().tz_localize(None)
    hol = days.isin(pd.DatetimeIndex(holidays))
    out = np.zeros(len(days), dtype=int)
    out[days.day_of_week == 5] = 1
    out[(days.day_of_week == 6) | hol] = 2
    return out


def derive_load_table(path: Path) -> tuple[dict[str, list[float]], list[float]]:
    """Derive LOAD_HOUR_FACTOR and LOAD_MONTH_FACTOR from the Terna NORD 2024 hourly file.

    The file is in local clock time (CET/CEST): the spring-forward hour (2024-03-31 02:00) is
    missing and the autumn hour 02:00 of 2024-10-27 is the mean of both 02:00 hours (8 quarter
    hours). Factors are indexed by local clock hour, so the naive clock stamps are grouped as
    they are, without localising: the missing hour only removes one sample from Sunday hour 2,
    and the merged hour counts once, as a sample of hour 2 (its value is a mean of two hours).
    """
    df = pd.read_csv(path)
    clock = pd.DatetimeIndex(pd.to_datetime(df.iloc[:, 0], format="%Y-%m-%d %H:%M"))
    load = df.iloc[:, 1].to_numpy(dtype=float)
    if clock.duplicated().any() or not np.isfinite(load).all():
        raise ValueError(f"{path}: duplicate clock hours or non-finite load")
    dtype = day_type(clock, HOLIDAYS_2024)
    ref = load[dtype == 0].mean()
    hour = np.asarray(clock.hour)
    month = np.asarray(clock.month)
    table = {
        name: [round(float(load[(dtype == k) & (hour == h)].mean() / ref), 4) for h in range(24)]
        for k, name in enumerate(DAY_TYPES)
    }
    months = [round(float(load[(dtype == 0) & (month == m)].mean() / ref), 4) for m in range(1, 13)]
    return table, months


def format_load_table(table: dict[str, list[float]], months: list[float]) -> str:
    """The embedded literal of LOAD_HOUR_FACTOR and LOAD_MONTH_FACTOR, as it stands above."""

    def rows(values: list[float], per_row: int, indent: str) -> str:
        return "".join(
            indent + ", ".join(f"{v:.4f}" for v in values[i : i + per_row]) + ",\n"
            for i in range(0, len(values), per_row)
        )

    text = "# fmt: off\nLOAD_HOUR_FACTOR = {\n"
    for name, values in table.items():
        text += f'    "{name}": [  # local hours 0-7, 8-15, 16-23\n'
        text += rows(values, 8, " " * 8) + "    ],\n"
    text += "}\nLOAD_MONTH_FACTOR = [  # January-June, July-December\n"
    text += rows(months, 6, " " * 4) + "]\n# fmt: on\n"
    return text


def local_calendar(axis: pd.DatetimeIndex, holidays: list[str]) -> tuple[np.ndarray, ...]:
    """Local clock hour, month and day type of each UTC stamp."""
    local = axis.tz_convert(TIMEZONE)
    return np.asarray(local.hour), np.asarray(local.month), day_type(local, holidays)


def ar1_noise(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    """Stationary AR(1) series of length n, standard deviation sd, lag-1 correlation phi."""
    eps = rng.standard_normal(n) * sd * np.sqrt(1.0 - phi**2)
    x = np.empty(n)
    x[0] = rng.standard_normal() * sd
    for i in range(1, n):
        x[i] = phi * x[i - 1] + eps[i]
    return x


def build_load(axis: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """PS load (P, Q) for every PS on the axis, PCC load convention."""
    hour, month, dtype = local_calendar(axis, HOLIDAYS_2030)
    hour_table = np.array([LOAD_HOUR_FACTOR[name] for name in DAY_TYPES])
    shape = hour_table[dtype, hour] * np.asarray(LOAD_MONTH_FACTOR)[month - 1]
    times = np.asarray(axis.strftime(TIME_FORMAT))
    frames = []
    for ps in PS_IDS:
        raw = shape * (1.0 + ar1_noise(rng, len(axis), LOAD_NOISE_SD, LOAD_NOISE_AR1))
        p = PEAK_LOAD_MW[ps] * raw / raw.max()  # the year's peak is exactly the invented one
        pf = POWER_FACTOR[ps] + PF_NOISE_SD * rng.standard_normal(len(axis))
        pf = np.clip(pf, *PF_RANGE)
        q = p * np.tan(np.arccos(pf))  # lagging: Q > 0 absorbed by distribution
        frames.append(pd.DataFrame({"time": times, "ps_id": ps, "p_mw": p, "q_mvar": q}))
    return pd.concat(frames, ignore_index=True)


def ev_energy_targets() -> dict[tuple[str, str], float]:
    """Annual EV energy [MWh] per (PS, location) of the EV scenario."""
    out = {}
    for ps in PS_IDS:
        e_ps = EV_CITY_ENERGY_MWH * PEAK_LOAD_MW[ps] / EV_CITY_SUM_PS_PEAK_MW
        for loc, share in EV_LOCATION_SHARE.items():
            out[ps, loc] = e_ps * share
    return out


def build_ev(axis: pd.DatetimeIndex) -> tuple[pd.DataFrame, dict[tuple[str, str], float]]:
    """EV charging power [MW] per PS and location, unrounded, and the energy targets [MWh]."""
    hour, _, dtype = local_calendar(axis, HOLIDAYS_2030)
    working = dtype == 0
    times = np.asarray(axis.strftime(TIME_FORMAT))
    targets = ev_energy_targets()
    frames = []
    for ps in PS_IDS:
        for loc in EV_LOCATION_SHARE:
            shapes = {k: np.asarray(v, dtype=float) / np.sum(v) for k, v in EV_SHAPE[loc].items()}
            w = np.where(
                working,
                shapes["working"][hour],
                EV_NONWORKING_DAY_WEIGHT[loc] * shapes["nonworking"][hour],
            )
            p = targets[ps, loc] * w / w.sum()  # 1-h steps: MW x 1 h = MWh, sum = target
            frames.append(
                pd.DataFrame(
                    {
                        "scenario": EV_SCENARIO,
                        "time": times,
                        "ps_id": ps,
                        "location": loc,
                        "p_mw": p,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True), targets


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV with '\\n' line ends and fixed decimals; gzip without a timestamp if *.gz."""
    text = df.to_csv(index=False, lineterminator="\n", float_format=f"%.{DECIMALS}f")
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        with (
            open(path, "wb") as fh,
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=9, mtime=0) as gz,
        ):
            gz.write(data)
    else:
        path.write_bytes(data)


STUDY_TOML = """\
[study]
name = "milan-demo"
year = {year}
timezone = "{tz}"
description = "SYNTHETIC demo around PS Sud (Milan): inputs invented except the seed paper's PS Sud \
capacities and rating (Bosisio et al.) and the Milan 2030 EV energy; load shape \
from Terna S.p.A. transparency data, total load NORD bidding zone 2024, hourly means derived. \
Regenerate with: python geodata/demo_milan/make_demo.py"

[inputs]
substations = "substations.csv"
capacity = "capacity.csv"
load = "load.csv.gz"

[profiles.pv]
source = "clearsky"

[profiles.chp]
source = "default"

[profiles.hydro]
source = "default"

[profiles.biomass]
source = "default"

[profiles.ev]
source = "file"
file = "ev.csv.gz"

[scenarios]
names = [{scenarios}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--derive-from",
        type=Path,
        metavar="TERNA_CSV",
        help="print the load-shape table derived from the Terna NORD 2024 hourly CSV and exit",
    )
    args = parser.parse_args()
    if args.derive_from is not None:
        print(format_load_table(*derive_load_table(args.derive_from)), end="")
        return

    rng = np.random.default_rng(SEED)
    axis = hourly_axis(YEAR)

    subs = pd.DataFrame(SUBSTATIONS, columns=["ps_id", "name", "lat", "lon", "rated_mva"])
    write_csv(subs, HERE / "substations.csv")

    cap = pd.DataFrame(
        CAPACITY, columns=["scenario", "ps_id", "technology", "capacity_mw", "level"]
    )
    write_csv(cap, HERE / "capacity.csv")

    load = build_load(axis, rng)
    write_csv(load.round(DECIMALS), HERE / "load.csv.gz")

    ev, targets = build_ev(axis)
    for (ps, loc), target in targets.items():
        got = ev.loc[(ev["ps_id"] == ps) & (ev["location"] == loc), "p_mw"].sum()
        if abs(got - target) > 1e-9 * target:
            raise RuntimeError(f"EV energy of {ps}/{loc}: {got} MWh, expected {target} MWh")
    ev = ev.assign(p_mw=ev["p_mw"].round(DECIMALS))
    ev = ev[ev["p_mw"] > 0].reset_index(drop=True)  # a missing row means 0 MW
    write_csv(ev, HERE / "ev.csv.gz")

    scen = ", ".join(f'"{s}"' for s in SCENARIOS)
    toml = STUDY_TOML.format(year=YEAR, tz=TIMEZONE, scenarios=scen)
    (HERE / "study.toml").write_text(toml, encoding="utf-8", newline="\n")

    print(f"wrote {HERE}")
    for ps in PS_IDS:
        e = sum(targets[ps, loc] for loc in EV_LOCATION_SHARE)
        print(f"  {ps:7s} peak {PEAK_LOAD_MW[ps]:6.1f} MW   EV {e / 1000:8.3f} GWh/yr")
    print(f"  EV total of the demo PS: {sum(targets.values()) / 1000:.3f} GWh/yr")


if __name__ == "__main__":
    main()
