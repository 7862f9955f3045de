"""Generate the embedded Milan demo study: SYNTHETIC inputs around PS Sud.

Run from the project root::

    python geodata/demo_milan/make_demo.py

It writes, into this script's own folder: boundary.geojson, substations.csv, ders.csv.gz (the
DER register), load.csv.gz and study.toml. The service areas and installed
capacities of the demo come from joining the register to Voronoi cells of the PS sites clipped
to the boundary, as for a real city. The output is deterministic (numpy default_rng with a fixed seed,
gzip with mtime=0): two runs give byte-identical files.

What is real and what is invented
---------------------------------
- PS Sud's rating (376 MVA, 220/23 kV) and its DER capacities in both scenarios are the seed
  paper's (Bosisio et al.), as quoted in seed paper, "Reference case: PS Sud". So is the
  Milan-wide 2030 EV energy (about 340 GWh a year).
- The shape of the PS load (hour of day x day type, and month) is derived from real data:
  Terna S.p.A. transparency data, total load NORD bidding zone 2024, hourly means derived. Only
  the small table of factors below is embedded; the Terna file is never read at run time.
- The city-wide DER fleet is calibrated to the seed paper's figure for Milan in 2019: MV DERs
  produced 213 GWh and LV DERs 7 GWh (with the full-load hours stated below).
- The boundary is the Comune di Milano's, simplified (ISTAT limits 2023 via
  openpolis/geojson-italy, CC BY 4.0), embedded as coordinates below: APPROXIMATE.
- The names of the 24 extra PS are those of the neighbourhoods their invented sites lie in:
  the Comune di Milano's 88 NIL (open data ds964, PGT 2030, CC BY 4.0), embedded as
  EXTRA_PS_NAMES below; the named PS are compass points (Nord, Est, Ovest, Centro, in that part
  of the city), Bovisa (its site is in NIL Bovisa) and the seed paper's PS Sud.
- Everything else (the other PS, their sites, ratings, peaks, every DER point and size, PS
  Sud's location and peak, power factors, noise, the EV allocation and location split) is
  INVENTED for the demo and labelled so at each constant. The EV charging shapes are the
  atlas's shipped ones, derived from SimBench and the German travel survey MiD 2017
  (profiles/derive_ev_shapes.py, docs/profiles.md).

``--derive-from PATH`` re-derives the embedded Terna table from the derived Terna CSV and prints
it as Python literals; ``--derive-boundary PATH`` re-derives the simplified boundary from the
ISTAT/openpolis GeoJSON; ``--derive-names PATH`` prints the NIL each PS site lies in, from the
Comune di Milano's NIL GeoJSON (maintainer's checks; the demo itself never needs these files).
"""

from __future__ import annotations

import argparse
import gzip
import json
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
# SYNTHETIC: 24 more PS, invented names, placed by a seeded draw inside the boundary at least
# MIN_PS_SPACING_M from each other (see synthetic_substations); each rated for its invented
# peak with one transformer out (N-1), see rating_for_peak.
N_EXTRA_PS = 24
MIN_PS_SPACING_M = 1800.0  # INVENTED: HV/MV stations of a dense city are 1.5-3 km apart
TRANSFORMER_MVA = 63.0  # a common HV/MV transformer size (the named PS are multiples of it)


def rating_for_peak(peak_mw: float, power_factor: float) -> float:
    """Rating of a PS of n 63 MVA transformers, n >= 2 the fewest whose N-1 capacity
    ((n - 1) x 63 MVA) carries the peak apparent power peak / power factor. [MVA]"""
    n = max(2, int(np.ceil(peak_mw / power_factor / TRANSFORMER_MVA)) + 1)
    return n * TRANSFORMER_MVA


# The extra PS are named after the neighbourhood their (invented) site lies in: for each,
# the name of a part of the Comune di Milano NIL (Nucleo di Identita Locale) that contains the
# site, and that NIL's full name. Derived with --derive-names from the 88 NIL polygons of the
# Comune di Milano open data (ds964, PGT 2030, CC BY 4.0); the sites are drawn first, the
# names follow them. Names only: these are not real stations.
EXTRA_PS_NAMES = [
    ("Gratosoglio", "GRATOSOGLIO - Q.RE MISSAGLIA - Q.RE TERRAZZE"),
    ("Guastalla", "GUASTALLA"),
    ("Quinto Romano", "QUINTO ROMANO"),
    ("Cavriano", "PARCO FORLANINI - CAVRIANO"),
    ("Gorla", "GORLA - PRECOTTO"),
    ("Musocco", "MAGGIORE - MUSOCCO - CERTOSA"),
    ("Bruzzano", "BRUZZANO"),
    ("Parco delle Abbazie", "PARCO DELLE ABBAZIE"),
    ("Porta Magenta", "PORTA MAGENTA"),
    ("Ippodromi", "STADIO - IPPODROMI"),
    ("Calvairate", "UMBRIA - MOLISE - CALVAIRATE"),
    ("Barona", "BARONA"),
    ("Giambellino", "GIAMBELLINO"),
    ("Taliedo", "TALIEDO - MORSENCHIO - Q.RE FORLANINI"),
    ("Porta Ticinese", "PORTA TICINESE - CONCA DEL NAVIGLIO"),
    ("De Angeli", "DE ANGELI - MONTE ROSA"),
    ("Figino", "FIGINO"),
    ("Gallaratese", "Q.RE GALLARATESE - Q.RE SAN LEONARDO - LAMPUGNANO"),
    ("Cantalupa", "CANTALUPA"),
    ("Cimiano", "CIMIANO - ROTTOLE - Q.RE FELTRE"),
    ("Quintosole", "QUINTOSOLE"),
    ("Isola", "ISOLA"),
    ("Crescenzago", "PADOVA - TURRO - CRESCENZAGO"),
    ("Assiano", "ASSIANO"),
]

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
PEAK_RANGE_MW = (50.0, 160.0)  # INVENTED: peak of the extra PS, drawn uniformly
PF_EXTRA_RANGE = (0.94, 0.96)  # INVENTED: mean power factor of the extra PS, drawn uniformly
PF_NOISE_SD = 0.008  # INVENTED: standard deviation of the hourly power-factor variation [-]
PF_RANGE = (0.90, 0.99)  # INVENTED: power factor kept within this range [-]

# Multiplicative hourly noise on P: AR(1) with this stationary standard deviation and lag-1
# correlation. INVENTED (~2 % as asked, correlated so consecutive hours look like a meter's).
LOAD_NOISE_SD = 0.02
LOAD_NOISE_AR1 = 0.7

# ---------------------------------------------------------------------------------------------
# EV: the city's 2030 charging energy; the atlas spreads it over the charging points of the
# register with its shipped daily shapes (seed paper: EVs count only in 2030).
# ---------------------------------------------------------------------------------------------
EV_CITY_ENERGY_MWH = 340_000.0  # seed paper: Milan 2030, 204,000 EVs, ~340 GWh/yr

# ---------------------------------------------------------------------------------------------
# Boundary: the Comune di Milano, SIMPLIFIED (Douglas-Peucker, 100 m, in UTM 32N) from ISTAT
# limits (2023) via openpolis/geojson-italy, CC BY 4.0. APPROXIMATE: for the demo only.
# ---------------------------------------------------------------------------------------------
BOUNDARY_LONLAT = [
    (9.09294, 45.52877),
    (9.09904, 45.53209),
    (9.09718, 45.52695),
    (9.10262, 45.5232),
    (9.1168, 45.52003),
    (9.12366, 45.52064),
    (9.1239, 45.52279),
    (9.1318, 45.5232),
    (9.14832, 45.51864),
    (9.15144, 45.52029),
    (9.15149, 45.52425),
    (9.15849, 45.53344),
    (9.17565, 45.53597),
    (9.17912, 45.53534),
    (9.18899, 45.52708),
    (9.19771, 45.52728),
    (9.2057, 45.52934),
    (9.21138, 45.52829),
    (9.23094, 45.52315),
    (9.23463, 45.51746),
    (9.25863, 45.51904),
    (9.26834, 45.51679),
    (9.2716, 45.50673),
    (9.27791, 45.50557),
    (9.27759, 45.50362),
    (9.27188, 45.502),
    (9.2716, 45.50582),
    (9.2613, 45.5044),
    (9.25928, 45.48415),
    (9.26098, 45.47143),
    (9.27143, 45.47222),
    (9.27167, 45.46191),
    (9.26713, 45.44978),
    (9.2668, 45.43521),
    (9.24786, 45.42374),
    (9.24255, 45.41869),
    (9.25018, 45.41461),
    (9.23866, 45.40926),
    (9.22557, 45.4076),
    (9.22285, 45.40988),
    (9.21781, 45.40757),
    (9.21482, 45.39705),
    (9.20884, 45.39646),
    (9.2085, 45.39293),
    (9.20627, 45.39217),
    (9.20221, 45.39756),
    (9.20042, 45.39761),
    (9.20138, 45.39171),
    (9.19752, 45.38853),
    (9.19251, 45.3871),
    (9.18779, 45.39136),
    (9.18253, 45.39057),
    (9.17292, 45.39452),
    (9.1736, 45.40077),
    (9.17077, 45.40283),
    (9.15778, 45.40285),
    (9.15917, 45.40809),
    (9.15412, 45.41563),
    (9.14722, 45.4158),
    (9.14431, 45.41812),
    (9.13631, 45.41717),
    (9.13786, 45.41538),
    (9.1334, 45.41418),
    (9.12666, 45.42988),
    (9.11334, 45.44332),
    (9.11146, 45.44787),
    (9.09933, 45.44688),
    (9.09185, 45.45278),
    (9.07799, 45.45297),
    (9.07913, 45.43847),
    (9.07703, 45.43618),
    (9.06942, 45.43353),
    (9.05618, 45.43807),
    (9.05402, 45.43975),
    (9.05384, 45.44514),
    (9.04577, 45.44613),
    (9.04453, 45.4492),
    (9.04978, 45.45126),
    (9.04981, 45.45257),
    (9.04284, 45.46373),
    (9.05363, 45.46138),
    (9.06675, 45.46299),
    (9.06973, 45.45982),
    (9.07447, 45.45937),
    (9.07717, 45.47258),
    (9.07515, 45.47719),
    (9.06567, 45.48307),
    (9.06681, 45.48644),
    (9.05656, 45.49763),
    (9.0545, 45.50501),
    (9.06033, 45.50456),
    (9.0619, 45.50232),
    (9.07251, 45.50599),
    (9.07661, 45.49787),
    (9.07875, 45.4969),
    (9.08934, 45.49838),
    (9.09844, 45.50669),
    (9.09454, 45.51639),
    (9.09294, 45.52877),
]
BOUNDARY_SIMPLIFY_M = 100.0
METRIC_CRS = "EPSG:32632"  # UTM 32N: Milan's zone, where areas and distances are computed

# ---------------------------------------------------------------------------------------------
# The DER register (one point per installation), calibrated city-wide
# ---------------------------------------------------------------------------------------------
# seed paper, "Reference case: PS Sud": PS Sud's capacity [MW], MV-connected. The 2030 values
# are reached by planned installations (scenario "2030" rows) on top of the as-is ones.
SUD_AS_IS_MW = {"pv": 5.0, "chp": 27.0, "biomass": 0.0, "hydro": 0.420}
SUD_2030_MW = {"pv": 16.0, "chp": 29.0, "biomass": 0.0, "hydro": 0.420}

# seed paper: in Milan, 2019, MV DERs produced 213 GWh and LV DERs 7 GWh. The as-is fleet is
# sized so that capacity x full-load hours gives those figures.
ENERGY_2019_GWH = {"MV": 213.0, "LV": 7.0}
FULL_LOAD_HOURS = {  # INVENTED but typical: [h/yr]
    "pv": 1150.0,  # PVGIS gives ~1,200-1,300 kWh/kWp for Milan rooftops, less losses and shading
    "chp": 4500.0,  # heat-led district-heating CHP, off or low in summer
    "hydro": 4000.0,  # small run-of-river on irrigation canals, dry and maintenance periods
    "biomass": 7000.0,  # biogas/biomass baseload
}
# City-wide as-is capacity by technology and level [MW]. PS Sud's share is its own figure.
# INVENTED split, chosen so that sum(capacity x hours) = ENERGY_2019_GWH (checked in main):
# MV: 40 x 4500 + 20 x 1150 + 1.5 x 4000 + 0.6 x 7000 = 213.2 GWh; LV: 6 x 1150 = 6.9 GWh.
CITY_AS_IS_MW = {
    ("pv", "MV"): 20.0,
    ("pv", "LV"): 6.0,
    ("chp", "MV"): 40.0,
    ("hydro", "MV"): 1.5,
    ("biomass", "MV"): 0.6,
}
# 2030 growth outside PS Sud, as planned installations: INVENTED (PV about x3, CHP +5 %).
CITY_2030_ADDED_MW = {("pv", "MV"): 30.0, ("pv", "LV"): 12.0, ("chp", "MV"): 0.65}
SUD_2030_UNIT_MW = {"pv": 0.55, "chp": 2.0}  # INVENTED: size of PS Sud's planned units
# Unit sizes [kW], INVENTED ranges drawn uniformly: small LV roofs, larger MV roofs, CHP
# engines/turbines, canal mini-hydro, biogas plants.
UNIT_KW = {
    ("pv", "LV"): (1.5, 6.0),
    ("pv", "MV"): (100.0, 900.0),
    ("chp", "MV"): (500.0, 6000.0),
    ("hydro", "MV"): (80.0, 250.0),
    ("biomass", "MV"): (200.0, 400.0),
}
# Canals for hydro plants: polylines (lon, lat), APPROXIMATE courses from public maps.
CANALS = {
    "Naviglio Grande": [(9.1770, 45.4520), (9.1500, 45.4450), (9.1200, 45.4370), (9.0950, 45.4300)],
    "Naviglio Pavese": [(9.1780, 45.4510), (9.1720, 45.4350), (9.1660, 45.4180), (9.1620, 45.4020)],
    "Martesana": [(9.2000, 45.4880), (9.2200, 45.5000), (9.2450, 45.5100), (9.2700, 45.5170)],
}
# EV charging points: (count, kW range, share of points with an explicit v2g flag). INVENTED.
EV_POINTS = {
    "home": (900, (3.7, 7.4), 0.02),  # a few home wallboxes already bidirectional
    "work": (300, (11.0, 22.0), 0.05),  # a few company chargers explicitly not V2G
    "b2c": (100, (22.0, 22.0), 0.0),
    "public": (200, (22.0, 150.0), 0.05),
}
BORDER_CLEARANCE_M = 5.0  # DERs are placed at least this far inside their PS's cell

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


def build_load(
    axis: pd.DatetimeIndex, rng: np.random.Generator, ps_table: pd.DataFrame
) -> pd.DataFrame:
    """PS load (P, Q) for every PS on the axis, PCC load convention."""
    hour, month, dtype = local_calendar(axis, HOLIDAYS_2030)
    hour_table = np.array([LOAD_HOUR_FACTOR[name] for name in DAY_TYPES])
    shape = hour_table[dtype, hour] * np.asarray(LOAD_MONTH_FACTOR)[month - 1]
    times = np.asarray(axis.strftime(TIME_FORMAT))
    frames = []
    for ps, peak, pf_mean in ps_table[["ps_id", "peak_mw", "power_factor"]].itertuples(index=False):
        raw = shape * (1.0 + ar1_noise(rng, len(axis), LOAD_NOISE_SD, LOAD_NOISE_AR1))
        p = peak * raw / raw.max()  # the year's peak is exactly the invented one
        pf = pf_mean + PF_NOISE_SD * rng.standard_normal(len(axis))
        pf = np.clip(pf, *PF_RANGE)
        q = p * np.tan(np.arccos(pf))  # lagging: Q > 0 absorbed by distribution
        frames.append(pd.DataFrame({"time": times, "ps_id": ps, "p_mw": p, "q_mvar": q}))
    return pd.concat(frames, ignore_index=True)


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


def boundary_metric():
    """The embedded boundary as a shapely polygon in METRIC_CRS."""
    import geopandas as gpd
    import shapely

    poly = shapely.Polygon(BOUNDARY_LONLAT)
    return gpd.GeoSeries([poly], crs="EPSG:4326").to_crs(METRIC_CRS).iloc[0]


def derive_names(nil_path: Path) -> str:
    """Each PS, its name and the NIL its site lies in, from the Comune di Milano's NIL
    polygons (ds964, CC BY 4.0): the table EXTRA_PS_NAMES is chosen from (a part of the
    NIL's name). Sites are drawn as main() draws them (same seed)."""
    import geopandas as gpd

    table = substation_table(np.random.default_rng(SEED), boundary_metric())
    nil = gpd.read_file(nil_path).to_crs(METRIC_CRS)[["NIL", "geometry"]]
    sites = gpd.GeoDataFrame(
        table[["ps_id", "name"]],
        geometry=gpd.points_from_xy(table["lon"], table["lat"]),
        crs="EPSG:4326",
    ).to_crs(METRIC_CRS)
    joined = gpd.sjoin(sites, nil, how="left", predicate="within")
    return "\n".join(f"{r.ps_id}\t{r.name}\t{r.NIL}" for r in joined.itertuples())


def derive_boundary(path: Path) -> list[tuple[float, float]]:
    """Simplify the ISTAT/openpolis boundary GeoJSON as BOUNDARY_LONLAT was made."""
    import geopandas as gpd

    g = gpd.read_file(path).to_crs(METRIC_CRS).geometry.iloc[0]
    simple = g.simplify(BOUNDARY_SIMPLIFY_M, preserve_topology=True)
    lonlat = gpd.GeoSeries([simple], crs=METRIC_CRS).to_crs("EPSG:4326").iloc[0]
    return [(round(x, 5), round(y, 5)) for x, y in lonlat.exterior.coords]


def substation_table(rng: np.random.Generator, boundary) -> pd.DataFrame:
    """The six named PS and N_EXTRA_PS synthetic ones, with peak and power factor.

    Extra sites: seeded uniform draws inside the boundary, kept only if at least
    MIN_PS_SPACING_M from every site so far (a simple dart throwing).
    """
    import geopandas as gpd
    import shapely

    named = pd.DataFrame(SUBSTATIONS, columns=["ps_id", "name", "lat", "lon", "rated_mva"])
    pts = gpd.GeoSeries(gpd.points_from_xy(named["lon"], named["lat"]), crs="EPSG:4326")
    xy = list(shapely.get_coordinates(pts.to_crs(METRIC_CRS).to_numpy()))
    xmin, ymin, xmax, ymax = boundary.bounds
    inner = boundary.buffer(-500.0)  # not on the city's edge
    extra = []
    while len(extra) < N_EXTRA_PS:
        cand = rng.uniform([xmin, ymin], [xmax, ymax])
        if not inner.contains(shapely.Point(cand)):
            continue
        if min(np.hypot(*(np.asarray(xy) - cand).T)) < MIN_PS_SPACING_M:
            continue
        xy.append(cand)
        extra.append(cand)
    extra_ll = gpd.GeoSeries(shapely.points(np.array(extra)), crs=METRIC_CRS).to_crs("EPSG:4326")
    more = pd.DataFrame(
        {
            "ps_id": [f"PS{k + 7:02d}" for k in range(N_EXTRA_PS)],
            "name": [f"PS {n} (synthetic)" for n, _ in EXTRA_PS_NAMES],
            "lat": extra_ll.y.round(5).to_numpy(),
            "lon": extra_ll.x.round(5).to_numpy(),
        }
    )
    table = pd.concat([named, more], ignore_index=True)
    peaks = dict(PEAK_LOAD_MW)
    pfs = dict(POWER_FACTOR)
    for ps in more["ps_id"]:
        peaks[ps] = round(float(rng.uniform(*PEAK_RANGE_MW)), 1)
        pfs[ps] = round(float(rng.uniform(*PF_EXTRA_RANGE)), 3)
    table["peak_mw"] = table["ps_id"].map(peaks)
    table["power_factor"] = table["ps_id"].map(pfs)
    extra = table["ps_id"].isin(more["ps_id"])
    table.loc[extra, "rated_mva"] = [
        rating_for_peak(p, f) for p, f in table.loc[extra, ["peak_mw", "power_factor"]].to_numpy()
    ]
    return table


def _points_in(cell, n: int, rng: np.random.Generator) -> np.ndarray:
    """n seeded uniform points inside a polygon (rejection sampling), (n, 2)."""
    import shapely

    xmin, ymin, xmax, ymax = cell.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform([xmin, ymin], [xmax, ymax], (max(4 * n, 16), 2))
        out = np.vstack([out, cand[shapely.contains_xy(cell, cand[:, 0], cand[:, 1])]])
    return out[:n]


def _split(total_kw: float, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Unit sizes drawn in [lo, hi] kW whose sum is exactly total_kw (last unit the rest)."""
    if total_kw <= 0:
        return np.zeros(0)
    sizes = []
    left = round(total_kw, 1)
    while left > hi:
        size = round(float(rng.uniform(lo, hi)), 1)  # 0.1 kW steps: exact decimal sums
        sizes.append(size)
        left = round(left - size, 1)
    sizes.append(left)
    return np.array(sizes)


def build_register(rng: np.random.Generator, ps_table: pd.DataFrame, cells: dict) -> pd.DataFrame:
    """The DER register: points inside their PS's cell, in kW, calibrated (module docstring)."""
    import geopandas as gpd
    import shapely

    others = [p for p in ps_table["ps_id"] if p != "SUD"]
    weight = ps_table.set_index("ps_id")["peak_mw"].loc[others]
    weight = weight / weight.sum()  # INVENTED: fleets follow the PS's size
    rows = []  # (ps_id, technology, level, kw, scenario, location, v2g)

    def add(ps, tech, level, total_mw, scenario="", unit_kw=None):
        lo, hi = unit_kw or UNIT_KW[(tech, level)]
        for kw in _split(total_mw * 1000.0, lo, hi, rng):
            rows.append((ps, tech, level, kw, scenario, "", ""))

    for tech, mw in SUD_AS_IS_MW.items():
        if mw > 0:
            add(
                "SUD",
                tech,
                "MV",
                mw,
                unit_kw=(0.4 * mw * 1000 / 3, mw * 1000 / 3) if tech != "pv" else None,
            )
    for tech, mw in SUD_2030_MW.items():
        extra = mw - SUD_AS_IS_MW[tech]
        if extra > 0:
            unit = SUD_2030_UNIT_MW[tech] * 1000.0
            add("SUD", tech, "MV", extra, "2030", unit_kw=(unit, unit))
    for (tech, level), city_mw in CITY_AS_IS_MW.items():
        rest = city_mw - (SUD_AS_IS_MW.get(tech, 0.0) if level == "MV" else 0.0)
        for ps, w in weight.items():
            add(ps, tech, level, rest * w)
    for (tech, level), mw in CITY_2030_ADDED_MW.items():
        for ps, w in weight.items():
            add(ps, tech, level, mw * w, "2030")
    reg = pd.DataFrame(
        rows, columns=["ps_id", "technology", "level", "capacity_kw", "scenario", "location", "v2g"]
    )
    ev_rows = []
    all_ps = ps_table["ps_id"].to_numpy()
    ev_weight = ps_table["peak_mw"].to_numpy() / ps_table["peak_mw"].sum()
    for loc, (count, (lo, hi), flag_share) in EV_POINTS.items():
        ps_of = rng.choice(all_ps, size=count, p=ev_weight)
        kw = rng.uniform(lo, hi, count).round(1)
        flagged = rng.uniform(size=count) < flag_share
        default_v2g = loc in ("work", "public")
        v2g = np.where(flagged, str(not default_v2g).lower(), "")
        for ps, k, f in zip(ps_of, kw, v2g, strict=True):
            ev_rows.append((ps, "ev", "LV", k, "", loc, f))
    reg = pd.concat([reg, pd.DataFrame(ev_rows, columns=reg.columns)], ignore_index=True)
    # sites: hydro on the canals where a canal crosses the cell, everything else anywhere inside
    canal_lines = gpd.GeoSeries(
        [shapely.LineString(c) for c in CANALS.values()], crs="EPSG:4326"
    ).to_crs(METRIC_CRS)
    canals = shapely.union_all(canal_lines.to_numpy())
    xy = np.empty((len(reg), 2))
    for ps, idx in reg.groupby("ps_id").groups.items():
        cell = cells[ps].buffer(-BORDER_CLEARANCE_M)
        xy[idx] = _points_in(cell, len(idx), rng)
        hydro = [i for i in idx if reg.at[i, "technology"] == "hydro"]
        on_canal = shapely.intersection(canals, cell)
        if hydro and not on_canal.is_empty and on_canal.length > 0:
            along = rng.uniform(0, on_canal.length, len(hydro))
            xy[hydro] = shapely.get_coordinates(shapely.line_interpolate_point(on_canal, along))
    ll = gpd.GeoSeries(shapely.points(xy), crs=METRIC_CRS).to_crs("EPSG:4326")
    reg["lat"] = ll.y.round(7).to_numpy()
    reg["lon"] = ll.x.round(7).to_numpy()
    reg.insert(0, "der_id", [f"D{k + 1:06d}" for k in range(len(reg))])
    reg.insert(1, "name", "")
    reg = reg.drop(columns="ps_id")  # the join finds it: the register knows only places
    return reg[
        [
            "der_id",
            "name",
            "technology",
            "capacity_kw",
            "level",
            "location",
            "v2g",
            "scenario",
            "lat",
            "lon",
        ]
    ]


STUDY_TOML = """\
[study]
name = "milan-demo"
year = {year}
timezone = "{tz}"
description = "SYNTHETIC demo of Milan around PS Sud: inputs invented except the seed paper's PS Sud \
capacities and rating, the Milan 2019 MV/LV DER energy and the 2030 EV energy (Bosisio et al.); \
boundary simplified from ISTAT limits 2023 via openpolis (CC BY 4.0); load shape from Terna \
S.p.A. transparency data, total load NORD bidding zone 2024, hourly means derived. \
Regenerate with: python geodata/demo_milan/make_demo.py"

[inputs]
substations = "substations.csv"
boundary = "boundary.geojson"
ders = "ders.csv.gz"
load = "load.csv.gz"

[profiles.pv]
source = "tmy"

[profiles.chp]
source = "default"

[profiles.hydro]
source = "default"

[profiles.biomass]
source = "default"

[profiles.ev]
source = "shapes"
energy_mwh = {{ "2030" = {ev_energy} }}

[scenarios]
names = [{scenarios}]
# SYNTHETIC what-if (README.md): PS Sud's 2030 upward active flexibility is 9.49 MW firm,
# just short of the 10 MW threshold: an idle 10 MW / 20 MWh battery and a 15 Mvar STATCOM
# at its MV busbar, screened beside 2030 as "2030+storage"
what_if = ["SUD:bess=10MW/20MWh", "SUD:statcom=15Mvar"]
what_if_name = "2030+storage"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--derive-from",
        type=Path,
        metavar="TERNA_CSV",
        help="print the load-shape table derived from the Terna NORD 2024 hourly CSV and exit",
    )
    parser.add_argument(
        "--derive-boundary",
        type=Path,
        metavar="GEOJSON",
        help="print the simplified boundary derived from the ISTAT/openpolis GeoJSON and exit",
    )
    parser.add_argument(
        "--derive-names",
        type=Path,
        metavar="NIL_GEOJSON",
        help="print each PS with the NIL (Comune di Milano ds964 GeoJSON) its site lies in and exit",
    )
    args = parser.parse_args()
    if args.derive_names is not None:
        print(derive_names(args.derive_names))
        return
    if args.derive_boundary is not None:
        print(derive_boundary(args.derive_boundary))
        return
    if args.derive_from is not None:
        print(format_load_table(*derive_load_table(args.derive_from)), end="")
        return

    rng = np.random.default_rng(SEED)
    axis = hourly_axis(YEAR)

    import geopandas as gpd
    import shapely

    from atlas.geo.areas import voronoi_areas  # the atlas's own cells, so the join agrees

    boundary = boundary_metric()
    ps_table = substation_table(rng, boundary)
    write_csv(ps_table[["ps_id", "name", "lat", "lon", "rated_mva"]], HERE / "substations.csv")
    props = {
        "name": "Comune di Milano (APPROXIMATE, simplified)",
        "source": "ISTAT limits (2023) via openpolis/geojson-italy, CC BY 4.0; simplified to "
        f"{BOUNDARY_SIMPLIFY_M:g} m for the atlas demo",
    }
    feature = {
        "type": "Feature",
        "properties": props,
        "geometry": shapely.geometry.mapping(shapely.Polygon(BOUNDARY_LONLAT)),
    }
    text = json.dumps({"type": "FeatureCollection", "features": [feature]}, indent=1) + "\n"
    (HERE / "boundary.geojson").write_text(text, encoding="utf-8", newline="\n")

    sites = gpd.GeoDataFrame(
        ps_table[["ps_id"]],
        geometry=gpd.points_from_xy(ps_table["lon"], ps_table["lat"]),
        crs="EPSG:4326",
    ).to_crs(METRIC_CRS)
    cells = voronoi_areas(sites, boundary).set_index("ps_id").geometry.to_dict()
    register = build_register(rng, ps_table, cells)
    text_reg = register.assign(
        capacity_kw=register["capacity_kw"].map(lambda v: f"{v:.1f}"),
        lat=register["lat"].map(lambda v: f"{v:.7f}"),
        lon=register["lon"].map(lambda v: f"{v:.7f}"),
    )
    write_csv(text_reg, HERE / "ders.csv.gz")
    (HERE / "capacity.csv").unlink(missing_ok=True)  # replaced by the register and the join

    load = build_load(axis, rng, ps_table)
    write_csv(load.round(DECIMALS), HERE / "load.csv.gz")

    (HERE / "ev.csv.gz").unlink(missing_ok=True)  # EV power now comes from the shipped shapes

    scen = ", ".join(f'"{s}"' for s in SCENARIOS)
    toml = STUDY_TOML.format(year=YEAR, tz=TIMEZONE, scenarios=scen, ev_energy=EV_CITY_ENERGY_MWH)
    (HERE / "study.toml").write_text(toml, encoding="utf-8", newline="\n")

    print(f"wrote {HERE}: {len(ps_table)} PS, {len(register)} DER points")
    as_is = register[(register["scenario"] == "") & (register["technology"] != "ev")]
    for level in ("MV", "LV"):
        rows = as_is[as_is["level"] == level]
        mw = rows.groupby("technology")["capacity_kw"].sum() / 1000.0
        gwh = sum(mw[t] * FULL_LOAD_HOURS[t] for t in mw.index) / 1000.0
        print(
            f"  as-is {level}: {mw.round(3).to_dict()} MW -> {gwh:.1f} GWh/yr (seed paper 2019: {ENERGY_2019_GWH[level]:g})"
        )
    print(
        f"  EV energy 2030: {EV_CITY_ENERGY_MWH / 1000:g} GWh/yr, allocated by the atlas to charging points"
    )


if __name__ == "__main__":
    main()
