"""SYNTHETIC national-scale studies: every input of a study of Italy, from a seed.

``atlas synth OUT_DIR --n-ps N`` (:func:`write_synthetic_study`) writes a study folder in the
documented study format (docs/study-file.md) at the scale of a national grid: N primary
substations (PS) spread over a hand-made outline of Italy, a DER register of about 680 points
per PS (1.5 million at 2,200 PS) and N x 8760 hours of PS load. It exists to exercise and
measure the atlas at that scale; **nothing in it describes a real network**.

What is copied and what is invented (docs/scale.md, "Synthetic studies"):

- the outline of Italy (mainland, Sicily, Sardinia) is hand-made from about 160 approximate
  coastal and border points: APPROXIMATE, not a real boundary;
- PS sites are seeded draws inside it, a share of them clustered around the largest
  cities (approximate centres and populations), the rest uniform;
- ratings are two transformers of a common Italian HV/MV size (25, 40 or 63 MVA);
- the DER register resamples the Milan demo's register (``geodata/demo_milan/ders.csv.gz``):
  the same technology, level, location and scenario shares, each point's capacity (and V2G
  flag) drawn from the demo's points of its kind; the 2030 growth is, as in the demo,
  planned installations (``scenario = "2030"``) in the register;
- the load is an invented daily, weekly and seasonal shape with correlated noise, its peak
  sized to the PS rating, Q from a power factor of about 0.95;
- the EV charging energy is the Milan demo's per PS.

The output depends only on the arguments (and the installed packages): the same arguments
give the same bytes. Everything is vectorised with numpy; 2,200 PS and 1.5 million DERs are
written in seconds (docs/scale.md gives the measured time and memory).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from atlas.errors import AtlasInputError
from atlas.files import atomic_path, write_text_atomic

# ---------------------------------------------------------------------------------------------
# The study frame
# ---------------------------------------------------------------------------------------------

#: Default seed of :func:`write_synthetic_study` (any fixed integer).
DEFAULT_SEED = 2030

#: Default DER points per PS: 1.5 million at 2,200 PS, about the number of PV plants in
#: Italy (GSE, solar statistical report 2023: about 1.6 million) at about the number of
#: HV/MV primary substations of the Italian distribution grids.
DERS_PER_PS = 680

#: Scenario names (the first is the reference), as in the Milan demo.
SCENARIOS: tuple[str, ...] = ("as-is", "2030")

#: Local time zone of the study (Italy).
TIMEZONE = "Europe/Rome"

#: Metric CRS of the geometry: UTM zone 33N, the zone of Italy's centre (12.5 E), which the
#: atlas would also choose ("auto"); written into the study so that both agree. Its scale
#: error is below 0.5 % anywhere in Italy (6.6-18.5 E).
METRIC_CRS = "EPSG:32633"

#: The register and load formats ``atlas synth`` can write.
REGISTER_FORMATS: tuple[str, ...] = ("csv", "geoparquet")
LOAD_FORMATS: tuple[str, ...] = ("parquet", "csv")

#: The boundary layer's ``note`` property.
BOUNDARY_NOTE = "synthetic, approximate outline, not a real boundary"

# ---------------------------------------------------------------------------------------------
# The outline of Italy: APPROXIMATE, hand-made (lon, lat) [deg], about 160 coastal and border
# points read off a general map; islands other than Sicily and Sardinia left out. Densified
# to BOUNDARY_MAX_SEGMENT_DEG when written, so that an edge is (nearly) the same line in
# WGS84 degrees and in the metric CRS. Area about 305,000 km2 (Italy: about 302,000 km2).
# ---------------------------------------------------------------------------------------------
# fmt: off
ITALY_OUTLINE: dict[str, list[tuple[float, float]]] = {
    "mainland": [  # from Ventimiglia along the French, Swiss, Austrian, Slovenian borders
        (7.53, 43.78), (7.67, 44.15), (7.00, 44.23), (6.85, 44.50), (6.63, 45.10),
        (6.95, 45.25), (7.10, 45.45), (6.88, 45.68), (6.86, 45.83), (7.04, 45.92),
        (7.66, 45.98), (7.87, 45.92), (8.02, 46.05), (8.15, 46.30), (8.42, 46.46),
        (8.60, 46.15), (8.72, 46.10), (8.88, 45.98), (9.03, 45.82), (9.25, 46.20),
        (9.33, 46.50), (9.50, 46.33), (9.90, 46.38), (10.15, 46.23), (10.10, 46.60),
        (10.45, 46.55), (10.47, 46.85), (11.00, 46.77), (11.50, 47.00), (12.18, 47.09),
        (12.40, 46.73), (12.70, 46.65), (13.20, 46.55), (13.71, 46.52), (13.44, 46.36),
        (13.40, 46.22), (13.63, 45.94), (13.91, 45.63),
        # the Adriatic coast, from Muggia to Santa Maria di Leuca
        (13.77, 45.59), (13.72, 45.68), (13.53, 45.78), (13.38, 45.68), (13.10, 45.64),
        (12.88, 45.58), (12.42, 45.45), (12.28, 45.20), (12.55, 44.95), (12.25, 44.65),
        (12.28, 44.42), (12.57, 44.06), (12.91, 43.92), (13.52, 43.62), (13.62, 43.55),
        (13.88, 42.95), (14.22, 42.47), (14.72, 42.10), (15.00, 42.00), (15.60, 41.92),
        (15.88, 41.93), (16.18, 41.88), (15.92, 41.62), (16.28, 41.32), (16.87, 41.13),
        (17.30, 40.95), (17.95, 40.64), (18.49, 40.15), (18.37, 39.80),
        # the Ionian coast, to Reggio Calabria
        (17.99, 40.06), (17.90, 40.25), (17.23, 40.47), (16.82, 40.37), (16.50, 39.80),
        (16.78, 39.62), (17.13, 39.08), (17.10, 38.90), (16.55, 38.70), (16.06, 37.92),
        (15.64, 38.00),
        # the Tyrrhenian and Ligurian coasts, back to Ventimiglia
        (15.64, 38.11), (15.72, 38.26), (15.83, 38.62), (15.90, 38.68), (16.16, 38.74),
        (16.20, 38.90), (16.07, 39.13), (16.03, 39.36), (15.79, 39.81), (15.63, 40.07),
        (15.28, 40.03), (14.99, 40.35), (14.77, 40.67), (14.33, 40.57), (14.48, 40.70),
        (14.25, 40.84), (14.08, 40.78), (13.93, 41.02), (13.57, 41.21), (13.25, 41.28),
        (13.05, 41.22), (12.62, 41.45), (12.28, 41.73), (11.80, 42.09), (11.10, 42.40),
        (10.98, 42.72), (10.50, 42.93), (10.49, 43.30), (10.30, 43.55), (10.24, 43.87),
        (9.85, 44.07), (9.40, 44.27), (8.93, 44.41), (8.48, 44.30), (8.22, 44.05),
        (8.03, 43.88), (7.77, 43.81),
    ],
    "sicily": [  # from Capo Peloro westwards
        (15.65, 38.27), (15.24, 38.22), (14.75, 38.16), (14.02, 38.04), (13.36, 38.13),
        (12.73, 38.18), (12.50, 38.02), (12.43, 37.80), (12.58, 37.65), (13.08, 37.50),
        (13.58, 37.27), (13.93, 37.10), (14.25, 37.06), (14.85, 36.72), (15.13, 36.69),
        (15.29, 37.07), (15.22, 37.23), (15.09, 37.50), (15.29, 37.85), (15.55, 38.19),
    ],
    "sardinia": [  # from Santa Teresa Gallura eastwards
        (9.19, 41.24), (9.38, 41.18), (9.50, 40.92), (9.83, 40.53), (9.72, 40.38),
        (9.70, 39.93), (9.63, 39.30), (9.52, 39.12), (9.11, 39.20), (8.95, 38.97),
        (8.64, 38.87), (8.40, 39.05), (8.42, 39.45), (8.48, 39.85), (8.38, 40.04),
        (8.48, 40.30), (8.30, 40.56), (8.16, 40.56), (8.13, 40.73), (8.22, 40.95),
        (8.40, 40.84), (8.71, 40.91), (8.87, 41.01),
    ],
}
# fmt: on

#: Longest edge of the written boundary [deg]: the hand-made outline is densified to it, so
#: that a straight edge in degrees and the same edge in the metric CRS part by well under
#: a metre (about 2 km edges).
BOUNDARY_MAX_SEGMENT_DEG = 0.02

#: Decimals of every written coordinate [deg]: 5 for the boundary and PS sites (about 1 m),
#: 7 for DER points (about 1 cm), as the demo.
SITE_DECIMALS = 5
DER_DECIMALS = 7

# ---------------------------------------------------------------------------------------------
# Substations
# ---------------------------------------------------------------------------------------------

#: Cluster centres of the largest Italian comuni: (name, lon [deg], lat [deg], population).
#: APPROXIMATE: centres read off a map (a coastal city's moved a few km inland, inside the
#: outline), populations rounded (ISTAT, about 2023). Used only to cluster PS sites.
CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("Roma", 12.50, 41.89, 2_750_000),
    ("Milano", 9.19, 45.46, 1_370_000),
    ("Napoli", 14.30, 40.88, 915_000),
    ("Torino", 7.68, 45.07, 845_000),
    ("Palermo", 13.33, 38.09, 630_000),
    ("Genova", 8.95, 44.45, 560_000),
    ("Bologna", 11.34, 44.49, 390_000),
    ("Firenze", 11.25, 43.77, 360_000),
    ("Bari", 16.85, 41.09, 317_000),
    ("Catania", 15.05, 37.52, 298_000),
    ("Verona", 10.99, 45.44, 256_000),
    ("Venezia", 12.22, 45.49, 250_000),
    ("Messina", 15.49, 38.17, 220_000),
    ("Padova", 11.88, 45.41, 208_000),
    ("Trieste", 13.80, 45.65, 199_000),
    ("Brescia", 10.22, 45.54, 198_000),
    ("Parma", 10.33, 44.80, 196_000),
    ("Prato", 11.10, 43.88, 195_000),
    ("Taranto", 17.27, 40.50, 188_000),
    ("Modena", 10.93, 44.65, 185_000),
    ("Reggio Calabria", 15.68, 38.11, 171_000),
    ("Perugia", 12.39, 43.11, 162_000),
    ("Cagliari", 9.13, 39.25, 149_000),
    ("Pescara", 14.19, 42.44, 118_000),
    ("Ancona", 13.49, 43.59, 99_000),
)

#: Share of the PS clustered around CITIES [-]. INVENTED: these comuni hold about 11.7
#: million people; at the Milan demo's density (30 PS for 1.37 million, one per about
#: 46,000 people) they would need about 260 PS, 12 % of 2,200.
URBAN_PS_SHARE = 0.12

#: Spread of a city's PS around its centre [km per sqrt(million people)]. INVENTED: a
#: Gaussian with standard deviation 3.5 km x sqrt(population / 1e6) puts most of Milan's PS
#: within 8 km of the centre (the comune: about 180 km2), Rome's within 12 km.
CITY_SPREAD_KM = 3.5

#: Closest distance between two PS sites [m], reduced where the territory is too small for
#: it (0.25 x the mean spacing). INVENTED: dense city PS are 1.5-3 km apart (Milan).
MIN_PS_SPACING_M = 1500.0

#: PS sites are drawn at least this far inside the outline [m].
SITE_CLEARANCE_M = 1000.0

#: Transformer sizes of the PS [MVA] and their shares, rural and urban [-]. 25 and 40 MVA
#: are the usual units of Italian HV/MV stations, 63 MVA the large urban one. Every PS has
#: N_TRANSFORMERS of one size. INVENTED shares.
TRANSFORMER_MVA: tuple[float, ...] = (25.0, 40.0, 63.0)
TRANSFORMER_SHARE_RURAL: tuple[float, ...] = (0.35, 0.45, 0.20)
TRANSFORMER_SHARE_URBAN: tuple[float, ...] = (0.0, 0.30, 0.70)
N_TRANSFORMERS = 2

#: Peak apparent load of a PS as a share of ONE transformer's rating [-], drawn uniformly.
#: INVENTED: a two-transformer station is planned so that either transformer carries the
#: peak (N-1), so the peak stays below half the station's rating.
PEAK_UTILISATION = (0.30, 0.65)

# ---------------------------------------------------------------------------------------------
# Load shape: INVENTED, a plausible Italian PS load. Per unit of the PS's peak, in local time:
#   s(t)  = [r * res(t) + (1 - r) * com(t) * aug(t)] * (1 + a_w * win(t) + a_s * summ(t))
#   p(t)  = P_peak * s(t) (1 + e(t)) / max over the year of s (1 + e)
#   q(t)  = p(t) * tan(arccos(pf(t)))
# res: residential (morning and evening peaks), com: commercial and industrial (a working-day
# plateau 8-19 h, less on Saturdays, little on Sundays and holidays), aug: the August
# shutdown of industry, win: winter (heating, lighting), summ: summer air conditioning,
# e: AR(1) noise, pf: power factor with hourly noise.
# ---------------------------------------------------------------------------------------------
RESIDENTIAL_SHARE = (0.3, 0.7)  # r, drawn per PS [-]
WINTER_AMPLITUDE = (0.04, 0.12)  # a_w, drawn per PS [-]: peak of cos(2 pi (doy - 15) / 365)
SUMMER_AMPLITUDE = (0.05, 0.15)  # a_s, drawn per PS [-], + SUMMER_PER_DEG_SOUTH below 45.5 N
SUMMER_PER_DEG_SOUTH = 0.01  # more air conditioning in the south [-/deg]
SUMMER_PEAK_DOY, SUMMER_WIDTH_DAYS = 200.0, 25.0  # mid-July, Gaussian in the day of year
AUGUST_DIP, AUGUST_DOY, AUGUST_WIDTH_DAYS = 0.4, 227.0, 6.0  # com load -40 % around 15 August
LOAD_NOISE_SD, LOAD_NOISE_AR1 = 0.03, 0.8  # e: stationary sd and lag-1 correlation [-]
POWER_FACTOR = (0.93, 0.97)  # mean pf per PS, lagging (Q > 0 absorbed), drawn uniformly [-]
PF_NOISE_SD, PF_RANGE = 0.005, (0.90, 0.995)  # hourly pf variation and its bounds [-]

#: Decimals of the written load [MW, Mvar]: 0.1 kW / 0.1 kvar, as the demo.
LOAD_DECIMALS = 4

#: PS per Parquet row group (and per batch written): 16 x 8760 = 140,160 rows.
LOAD_BATCH_PS = 16

# ---------------------------------------------------------------------------------------------
# The DER register
# ---------------------------------------------------------------------------------------------

#: DERs are drawn around their PS site with a Gaussian of standard deviation this share of
#: the distance to the nearest other PS site [-], within DER_SPREAD_M. INVENTED: most points
#: then fall in the site's own Voronoi cell (about 90 % at 2,200 PS, see the README written).
DER_SPREAD_SHARE = 0.25
DER_SPREAD_M = (300.0, 8000.0)
#: DER points are drawn at least this far inside the outline [m].
DER_CLEARANCE_M = 10.0

#: The Milan demo's 2030 EV charging energy (340 GWh a year, seed paper) over its 30 PS:
#: each synthetic PS adds this much to the 2030 energy [MWh/yr].
EV_ENERGY_MWH_PER_PS = 340_000.0 / 30

#: Columns of the written register, in order (docs/study-file.md, "ders").
REGISTER_COLUMNS: tuple[str, ...] = (
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
)
#: A register row's kind: the columns whose shares are copied from the demo.
KIND_COLUMNS: tuple[str, ...] = ("technology", "level", "location", "scenario")


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
def italy_boundary():
    """The outline of Italy as written to ``boundary.geojson``: APPROXIMATE, hand-made.

    Returns
    -------
    shapely.MultiPolygon
        Mainland, Sicily and Sardinia in WGS84 (lon, lat) [deg], exteriors counter-clockwise
        (RFC 7946), densified to edges of at most :data:`BOUNDARY_MAX_SEGMENT_DEG` and
        rounded to :data:`SITE_DECIMALS` decimals.
    """
    import shapely

    parts = []
    for coords in ITALY_OUTLINE.values():
        poly = shapely.segmentize(shapely.Polygon(coords), BOUNDARY_MAX_SEGMENT_DEG)
        poly = shapely.set_precision(poly, 10.0**-SITE_DECIMALS)
        parts.append(shapely.geometry.polygon.orient(poly, sign=1.0))
    return shapely.MultiPolygon(parts)


def _transformer(src: str, dst: str):
    import pyproj

    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees to :data:`METRIC_CRS` metres, (n,) each."""
    x, y = _transformer("EPSG:4326", METRIC_CRS).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:data:`METRIC_CRS` metres to WGS84 degrees, (n,) each."""
    lon, lat = _transformer(METRIC_CRS, "EPSG:4326").transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def metric_geometry(geom):
    """A WGS84 shapely geometry in :data:`METRIC_CRS`, vertex by vertex (as the atlas
    reprojects the boundary)."""
    import shapely

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_metric(xy[:, 0], xy[:, 1]))

    return shapely.transform(geom, project)


def _uniform_in(region, n: int, rng: np.random.Generator) -> np.ndarray:
    """n seeded uniform points inside a prepared polygon (rejection sampling), (n, 2)."""
    import shapely

    xmin, ymin, xmax, ymax = region.bounds
    accept = shapely.area(region) / ((xmax - xmin) * (ymax - ymin))
    out = np.empty((0, 2))
    while len(out) < n:
        m = int(1.2 * (n - len(out)) / accept) + 16
        cand = rng.uniform([xmin, ymin], [xmax, ymax], (m, 2))
        out = np.vstack([out, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]])
    return out[:n]


def _thin(cand: np.ndarray, accepted: np.ndarray, d_min: float) -> np.ndarray:
    """Candidates at least ``d_min`` from every accepted point and from each other (of two
    close candidates the later is dropped, and both when a third is close). (m, 2) [m]"""
    from scipy.spatial import cKDTree

    if len(accepted):
        dist, _ = cKDTree(accepted).query(cand)
        cand = cand[dist >= d_min]
    pairs = cKDTree(cand).query_pairs(d_min, output_type="ndarray")
    keep = np.ones(len(cand), dtype=bool)
    keep[pairs.max(axis=1) if len(pairs) else []] = False
    return cand[keep]


# ---------------------------------------------------------------------------------------------
# Substations
# ---------------------------------------------------------------------------------------------
def synthetic_substations(n_ps: int, boundary_m, rng: np.random.Generator) -> pd.DataFrame:
    """N synthetic PS: sites, ratings and the parameters of their load.

    Parameters
    ----------
    n_ps : int
        Number of PS.
    boundary_m : shapely geometry
        The outline in :data:`METRIC_CRS`.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per PS, north to south (``ps_id`` ``PS0001`` is the northernmost): ``ps_id``,
        ``name``, ``lat``, ``lon`` [deg, rounded to 1e-5], ``rated_mva`` [MVA], ``x_m``,
        ``y_m`` (the rounded site in the metric CRS) [m], ``urban`` (clustered around a city),
        ``peak_mw`` (yearly peak of P) [MW], ``power_factor`` (mean, lagging) [-], and the
        load-shape parameters ``residential_share``, ``winter_amplitude``,
        ``summer_amplitude`` [-].

    Notes
    -----
    :data:`URBAN_PS_SHARE` of the sites are Gaussian draws around :data:`CITIES` (a city
    chosen in proportion to its population, spread :data:`CITY_SPREAD_KM`), the rest uniform
    draws inside the outline; draws closer than :data:`MIN_PS_SPACING_M` to a site already
    taken are dropped (dart throwing), so no two PS share a site.
    """
    import shapely

    inner = boundary_m.buffer(-SITE_CLEARANCE_M)
    shapely.prepare(inner)
    d_min = min(MIN_PS_SPACING_M, 0.25 * float(np.sqrt(inner.area / n_ps)))
    n_urban = round(URBAN_PS_SHARE * n_ps)
    pop = np.array([c[3] for c in CITIES], dtype=float)
    cx, cy = to_metric(np.array([c[1] for c in CITIES]), np.array([c[2] for c in CITIES]))
    spread_m = CITY_SPREAD_KM * 1000.0 * np.sqrt(pop / 1e6)

    def urban_candidates(m: int) -> np.ndarray:
        city = rng.choice(len(CITIES), size=m, p=pop / pop.sum())
        xy = (
            np.column_stack([cx[city], cy[city]])
            + rng.standard_normal((m, 2)) * spread_m[city, None]
        )
        return xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]

    sites = np.empty((0, 2))
    for target, draw in ((n_urban, urban_candidates), (n_ps, lambda m: _uniform_in(inner, m, rng))):
        while len(sites) < target:
            cand = _thin(draw(2 * (target - len(sites)) + 8), sites, d_min)
            sites = np.vstack([sites, cand[: target - len(sites)]])
    urban = np.arange(n_ps) < n_urban

    lon, lat = to_lonlat(sites[:, 0], sites[:, 1])
    lon, lat = np.round(lon, SITE_DECIMALS), np.round(lat, SITE_DECIMALS)
    order = np.lexsort((lon, -lat))  # north to south (then west to east)
    lon, lat, urban = lon[order], lat[order], urban[order]
    x, y = to_metric(lon, lat)

    unit = np.where(
        urban,
        rng.choice(TRANSFORMER_MVA, size=n_ps, p=TRANSFORMER_SHARE_URBAN),
        rng.choice(TRANSFORMER_MVA, size=n_ps, p=TRANSFORMER_SHARE_RURAL),
    )
    pf = rng.uniform(*POWER_FACTOR, n_ps)
    peak_mw = rng.uniform(*PEAK_UTILISATION, n_ps) * unit * pf
    south = np.clip(45.5 - lat, 0.0, None)
    width = max(4, len(str(n_ps)))
    ids = [f"PS{k:0{width}d}" for k in range(1, n_ps + 1)]  # one string per PS, not per row
    return pd.DataFrame(
        {
            "ps_id": ids,
            "name": [f"Synthetic PS {k}" for k in range(1, n_ps + 1)],
            "lat": lat,
            "lon": lon,
            "rated_mva": N_TRANSFORMERS * unit,
            "x_m": x,
            "y_m": y,
            "urban": urban,
            "peak_mw": np.round(peak_mw, 3),
            "power_factor": np.round(pf, 4),
            "residential_share": rng.uniform(*RESIDENTIAL_SHARE, n_ps),
            "winter_amplitude": rng.uniform(*WINTER_AMPLITUDE, n_ps),
            "summer_amplitude": rng.uniform(*SUMMER_AMPLITUDE, n_ps) + SUMMER_PER_DEG_SOUTH * south,
        }
    )


# ---------------------------------------------------------------------------------------------
# The DER register
# ---------------------------------------------------------------------------------------------
def demo_register_path() -> Path:
    """The Milan demo's DER register, whose mix the synthetic register copies."""
    from atlas.demo import data_root

    return data_root("geodata") / "demo_milan" / "ders.csv.gz"


def demo_register(path: str | Path | None = None) -> pd.DataFrame:
    """The demo register as text, with ``capacity_kw`` as float [kW], sorted by kind.

    Parameters
    ----------
    path : path, optional
        A register CSV; default :func:`demo_register_path`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`KIND_COLUMNS`, ``capacity_kw`` [kW] and ``v2g`` (text), rows sorted
        by kind (stable: file order within a kind).
    """
    path = demo_register_path() if path is None else Path(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    table = raw[[*KIND_COLUMNS, "v2g"]].copy()
    table["capacity_kw"] = raw["capacity_kw"].astype(float)
    return table.sort_values(list(KIND_COLUMNS), kind="stable", ignore_index=True)


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainders; ties
    to the first)."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    rest = exact - counts
    extra = np.argsort(-rest, kind="stable")[: total - counts.sum()]
    counts[extra] += 1
    return counts


def synthetic_register(
    sites: pd.DataFrame,
    n_ders: int,
    boundary_m,
    rng: np.random.Generator,
    demo: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A DER register of ``n_ders`` points around the PS sites, with the demo's mix.

    Parameters
    ----------
    sites : pandas.DataFrame
        :func:`synthetic_substations`'s table (``x_m``, ``y_m``, ``peak_mw``).
    n_ders : int
        Number of register points.
    boundary_m : shapely geometry
        The outline in :data:`METRIC_CRS`.
    rng : numpy.random.Generator
    demo : pandas.DataFrame, optional
        The register to copy (:func:`demo_register`); default the Milan demo's.

    Returns
    -------
    register : pandas.DataFrame
        :data:`REGISTER_COLUMNS`, text columns Arrow-backed: ``der_id`` (``D0000001``...),
        ``name`` (empty), ``technology``, ``capacity_kw`` [kW, 0.1 kW steps], ``level``,
        ``location``, ``v2g`` (``true``/``false``/empty), ``scenario`` (empty or ``2030``),
        ``lat``, ``lon`` [deg, 1e-7]; rows grouped by the PS they were placed around, in PS
        order.
    ps_index : numpy.ndarray
        (n_ders,) position in ``sites`` of the PS each point was placed around.
    xy_m : numpy.ndarray
        (n_ders, 2) the points in :data:`METRIC_CRS` (before rounding ``lat``/``lon``). [m]

    Notes
    -----
    Each kind (technology, level, location, scenario) gets the demo's share of the points,
    apportioned exactly; each point's capacity and V2G flag are those of a demo point of
    its kind drawn at random (a bootstrap, so the capacity distributions are the demo's).
    Each point is placed around a PS drawn in proportion to its peak load: a Gaussian
    offset of standard deviation :data:`DER_SPREAD_SHARE` x the distance to the nearest
    other site (within :data:`DER_SPREAD_M`), redrawn until inside the outline
    (:data:`DER_CLEARANCE_M` inside); after 50 rounds a point still outside is put on its
    PS's site (always inside).
    """
    import shapely
    from scipy.spatial import cKDTree

    demo = demo_register() if demo is None else demo
    per_kind = demo.groupby(list(KIND_COLUMNS), sort=True).size().to_numpy()  # sorted as demo
    first = np.concatenate([[0], np.cumsum(per_kind)[:-1]])
    counts = apportion(n_ders, per_kind)
    # a demo row per point: a random row among its kind's (rows are sorted by kind)
    pick = np.concatenate(
        [
            start + rng.integers(0, size, c)
            for start, size, c in zip(first, per_kind, counts, strict=True)
        ]
    )
    rng.shuffle(pick)
    n_ps = len(sites)
    weight = sites["peak_mw"].to_numpy(dtype=float)
    ps_index = np.sort(rng.choice(n_ps, size=n_ders, p=weight / weight.sum()))

    xy_site = sites[["x_m", "y_m"]].to_numpy(dtype=float)
    if n_ps > 1:
        nearest, _ = cKDTree(xy_site).query(xy_site, k=2)
        nearest = nearest[:, 1]
    else:
        nearest = np.full(1, DER_SPREAD_M[1] / DER_SPREAD_SHARE)
    sigma = np.clip(DER_SPREAD_SHARE * nearest, *DER_SPREAD_M)
    region = boundary_m.buffer(-DER_CLEARANCE_M)
    shapely.prepare(region)
    xy = xy_site[ps_index].copy()
    todo = np.arange(n_ders)
    for _ in range(50):
        cand = (
            xy_site[ps_index[todo]]
            + rng.standard_normal((len(todo), 2)) * sigma[ps_index[todo], None]
        )
        inside = shapely.contains_xy(region, cand[:, 0], cand[:, 1])
        xy[todo[inside]] = cand[inside]
        todo = todo[~inside]
        if not len(todo):
            break
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
    width = max(7, len(str(n_ders)))
    register = pd.DataFrame(
        {
            "der_id": _text(_numbered("D", n_ders, width)),
            "name": _text(pa.nulls(n_ders, pa.string()).fill_null("")),
            "technology": _picked(demo["technology"], pick),
            "capacity_kw": demo["capacity_kw"].to_numpy(dtype=float)[pick],
            "level": _picked(demo["level"], pick),
            "location": _picked(demo["location"], pick),
            "v2g": _picked(demo["v2g"], pick),
            "scenario": _picked(demo["scenario"], pick),
            "lat": np.round(lat, DER_DECIMALS),
            "lon": np.round(lon, DER_DECIMALS),
        }
    )
    return register, ps_index, xy


def _text(array) -> pd.Series:
    """A pyarrow string array as a pandas Series sharing its memory (no Python strings)."""
    return pd.Series(array, dtype=pd.ArrowDtype(pa.string()))


def _picked(column: pd.Series, pick: np.ndarray) -> pd.Series:
    """``column[pick]`` for a text column with few distinct values, built as codes into
    its distinct values (no Python string per row)."""
    codes, uniques = pd.factorize(column, sort=True)
    values = pa.array([str(u) for u in uniques], type=pa.string())
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes[pick].astype(np.int32)), values)
    return _text(dictionary.cast(pa.string()))


def _numbered(prefix: str, n: int, width: int):
    """``prefix`` + 1..n zero-padded to ``width`` digits, as a pyarrow string array."""
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def nearest_site_share(xy_m: np.ndarray, sites: pd.DataFrame, ps_index: np.ndarray) -> float:
    """Share of the DER points whose nearest PS site is the one they were placed around,
    i.e. that lie in its Voronoi cell (the atlas's service area) [-].

    Parameters
    ----------
    xy_m : numpy.ndarray
        (n, 2) the points in :data:`METRIC_CRS`. [m]
    sites : pandas.DataFrame
        :func:`synthetic_substations`'s table (``x_m``, ``y_m``).
    ps_index : numpy.ndarray
        (n,) position in ``sites`` of each point's PS.
    """
    from scipy.spatial import cKDTree

    if not len(xy_m):
        return 1.0
    _, nearest = cKDTree(sites[["x_m", "y_m"]].to_numpy()).query(xy_m)
    return float(np.mean(nearest == ps_index))


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadShapes:
    """The year's archetype shapes on the study axis, (8760,) each [-] (see the constants).

    ``residential``, ``commercial``: daily shapes by local hour and day type;
    ``august``: the commercial factor of the August shutdown; ``winter``, ``summer``: the
    seasonal terms multiplied by each PS's amplitudes.
    """

    residential: np.ndarray
    commercial: np.ndarray
    august: np.ndarray
    winter: np.ndarray
    summer: np.ndarray


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Gaussian bump in the hour of the day, wrapped over midnight [-]."""
    d = (hour - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def load_shapes(year: int) -> LoadShapes:
    """The archetype shapes of :func:`synthetic_load` on the axis of ``year``.

    Notes
    -----
    In local clock time (``Europe/Rome``, summer time included), with day types from the
    Italian national holidays (the ``holidays`` package): working day, Saturday, Sunday or
    holiday. INVENTED shapes, per unit:

    - residential: 0.45 + 0.20 bump(8 h, or 10 h on Saturdays, Sundays and holidays; 1.5 h)
      + 0.15 bump(13 h, 2 h) + 0.50 bump(20 h, 2.5 h);
    - commercial and industrial: 0.35 + k x plateau (logistic edges at 7:30 and 19:00),
      k = 0.65 working days, 0.35 Saturdays, 0.10 Sundays and holidays;
    - august: 1 - AUGUST_DIP x exp(-((doy - 227) / 6)^2 / 2) (15 August);
    - winter: cos(2 pi (doy - 15) / 365); summer: exp(-((doy - 200) / 25)^2 / 2).
    """
    import holidays

    from atlas.inputs.timeaxis import hourly_axis

    local = hourly_axis(year).tz_convert(TIMEZONE)
    hour = np.asarray(local.hour, dtype=float) + 0.5  # the middle of the hour
    doy = np.asarray(local.day_of_year, dtype=float)
    dates = local.tz_localize(None).normalize()
    calendar = holidays.country_holidays("IT", years=sorted(set(dates.year)))
    days = np.array(list(calendar.keys()), dtype="datetime64[D]")
    holiday = np.isin(dates.to_numpy().astype("datetime64[D]"), days) | (
        np.asarray(dates.day_of_week) == 6
    )
    saturday = (np.asarray(dates.day_of_week) == 5) & ~holiday
    working = ~holiday & ~saturday
    morning = np.where(working, _bump(hour, 8.0, 1.5), _bump(hour, 10.0, 1.5))
    residential = (
        0.45 + 0.20 * morning + 0.15 * _bump(hour, 13.0, 2.0) + 0.50 * _bump(hour, 20.0, 2.5)
    )
    plateau = 1.0 / (1.0 + np.exp(-(hour - 7.5) / 0.7)) / (1.0 + np.exp((hour - 19.0) / 1.0))
    level = np.select([working, saturday], [0.65, 0.35], 0.10)
    commercial = 0.35 + level * plateau
    august = 1.0 - AUGUST_DIP * np.exp(-0.5 * ((doy - AUGUST_DOY) / AUGUST_WIDTH_DAYS) ** 2)
    winter = np.cos(2.0 * np.pi * (doy - 15.0) / 365.0)
    summer = np.exp(-0.5 * ((doy - SUMMER_PEAK_DOY) / SUMMER_WIDTH_DAYS) ** 2)
    return LoadShapes(residential, commercial, august, winter, summer)


def synthetic_load(
    sites: pd.DataFrame, shapes: LoadShapes, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly load of some PS, PCC load convention.

    Parameters
    ----------
    sites : pandas.DataFrame
        Rows of :func:`synthetic_substations`'s table (``peak_mw``, ``power_factor``,
        ``residential_share``, ``winter_amplitude``, ``summer_amplitude``).
    shapes : LoadShapes
        :func:`load_shapes` of the study year.
    rng : numpy.random.Generator
        The noise (AR(1) on P, white on the power factor).

    Returns
    -------
    p_mw, q_mvar : numpy.ndarray
        (n_ps, 8760) active power [MW] (> 0: drawn from transmission), each PS's yearly
        maximum exactly its ``peak_mw``, and reactive power [Mvar] (> 0: absorbed by
        distribution), both rounded to :data:`LOAD_DECIMALS`.
    """
    r = sites["residential_share"].to_numpy()[:, None]
    a_w = sites["winter_amplitude"].to_numpy()[:, None]
    a_s = sites["summer_amplitude"].to_numpy()[:, None]
    daily = r * shapes.residential + (1.0 - r) * shapes.commercial * shapes.august
    shape = daily * (1.0 + a_w * shapes.winter + a_s * shapes.summer)  # (n_ps, 8760)
    n, n_hours = shape.shape
    phi, sd = LOAD_NOISE_AR1, LOAD_NOISE_SD
    eps = rng.standard_normal((n, n_hours)) * (sd * np.sqrt(1.0 - phi**2))
    eps[:, 0] *= 1.0 / np.sqrt(1.0 - phi**2)  # e(0) ~ N(0, sd): stationary from the start
    raw = shape * (1.0 + ar1(eps, phi))
    p = sites["peak_mw"].to_numpy()[:, None] * raw / raw.max(axis=1, keepdims=True)
    pf = sites["power_factor"].to_numpy()[:, None] + PF_NOISE_SD * rng.standard_normal((n, n_hours))
    pf = np.clip(pf, *PF_RANGE)
    q = p * np.sqrt(1.0 / pf**2 - 1.0)  # tan(arccos(pf)), lagging: Q > 0 absorbed
    return np.round(p, LOAD_DECIMALS), np.round(q, LOAD_DECIMALS)


def ar1(innovations: np.ndarray, phi: float) -> np.ndarray:
    """The AR(1) series x(t) = phi x(t - 1) + e(t), x(-1) = 0, along the last axis.

    Parameters
    ----------
    innovations : numpy.ndarray
        (..., n) the innovations e(t).
    phi : float
        Lag-1 coefficient, |phi| < 1.

    Returns
    -------
    numpy.ndarray
        (..., n) x(t) = sum over k <= t of phi^k e(t - k).

    Notes
    -----
    Computed as a prefix scan (Hillis and Steele): after the steps of offset 1, 2, 4, ...,
    each x(t) holds the sum of phi^k e(t - k) over the 2s terms before it, so ceil(log2 n)
    vectorised steps replace a loop over the n hours.
    """
    x = np.array(innovations, dtype=float)
    step = 1
    while step < x.shape[-1]:
        x[..., step:] += phi**step * x[..., :-step]  # the right side is a new array: no aliasing
        step *= 2
    return x


def load_schema():
    """The Arrow schema of ``load.parquet``: ``time`` timestamp[us, UTC], ``ps_id`` string,
    ``p_mw`` and ``q_mvar`` float64."""
    return pa.schema(
        [
            ("time", pa.timestamp("us", tz="UTC")),
            ("ps_id", pa.string()),
            ("p_mw", pa.float64()),
            ("q_mvar", pa.float64()),
        ]
    )


def load_batches(
    sites: pd.DataFrame, year: int, rng: np.random.Generator, batch_ps: int = LOAD_BATCH_PS
) -> Iterator:
    """The load table, :data:`LOAD_BATCH_PS` PS at a time (rows by PS, then time).

    Yields
    ------
    pyarrow.Table
        Columns of :func:`load_schema`, ``batch_ps`` x 8760 rows (fewer in the last).
    """
    from atlas.inputs.timeaxis import hourly_axis

    shapes = load_shapes(year)
    stamps = hourly_axis(year).as_unit("us").asi8  # (8760,) microseconds since 1970, UTC
    schema = load_schema()
    for start in range(0, len(sites), batch_ps):
        part = sites.iloc[start : start + batch_ps]
        p, q = synthetic_load(part, shapes, rng)
        n = len(part)
        ps_codes = pa.array(np.repeat(np.arange(n, dtype=np.int32), len(stamps)))
        ps_ids = pa.DictionaryArray.from_arrays(ps_codes, pa.array(part["ps_id"].tolist()))
        yield pa.Table.from_arrays(
            [
                pa.array(np.tile(stamps, n), type=schema.field("time").type),
                ps_ids.cast(pa.string()),
                pa.array(p.ravel()),
                pa.array(q.ravel()),
            ],
            schema=schema,
        )


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------
def _write_csv_table(table, path: Path, header: bool = True, append: bool = False) -> None:
    """A pyarrow table as CSV: unquoted (no value here holds a comma or a quote), floats in
    their shortest exact form, ``\\n`` line ends."""
    import pyarrow.csv as pacsv

    with open(path, "ab" if append else "wb") as fh:
        if header:
            fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        pacsv.write_csv(table, fh, write_options=options)


def write_load(sites: pd.DataFrame, year: int, rng: np.random.Generator, path: Path) -> float:
    """Write the load table, streaming (one batch of PS at a time).

    ``.parquet``: :func:`load_schema`, one row group per batch; ``.csv``: the documented CSV,
    ``time`` as ISO 8601 with ``Z``.

    Returns
    -------
    float
        The yearly energy drawn by all PS, sum of ``p_mw`` x 1 h. [MWh]
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from atlas.inputs.timeaxis import hourly_axis

    energy_mwh = 0.0
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            # ids and stamps repeat: dictionary-encoded; floats plain (a dictionary of noisy
            # values only costs time). A thread writes (and compresses) batch k while the
            # next is computed: numpy and Arrow release the GIL, the order is kept.
            options = {"compression": "zstd", "use_dictionary": ["time", "ps_id"]}
            with (
                pq.ParquetWriter(tmp, load_schema(), **options) as writer,
                ThreadPoolExecutor(max_workers=1) as pool,
            ):
                pending = None
                for batch in load_batches(sites, year, rng):
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write_table, batch, batch.num_rows)
                    energy_mwh += pc.sum(batch.column("p_mw")).as_py()
                if pending is not None:
                    pending.result()
        else:
            text = pa.array(hourly_axis(year).strftime("%Y-%m-%dT%H:%M:%SZ").tolist())
            hours = np.arange(len(text), dtype=np.int32)
            for k, batch in enumerate(load_batches(sites, year, rng)):
                codes = pa.array(np.tile(hours, batch.num_rows // len(hours)))
                times = pa.DictionaryArray.from_arrays(codes, text).cast(pa.string())
                _write_csv_table(batch.set_column(0, "time", times), tmp, k == 0, k > 0)
                energy_mwh += pc.sum(batch.column("p_mw")).as_py()
    return energy_mwh


def write_register(register: pd.DataFrame, path: Path, register_format: str) -> None:
    """Write the register: CSV (``lat``/``lon`` columns) or GeoParquet (points, EPSG:4326)."""
    with atomic_path(path) as tmp:
        if register_format == "csv":
            _write_csv_table(pa.Table.from_pandas(register, preserve_index=False), tmp)
        else:
            import geopandas as gpd

            frame = register.drop(columns=["lat", "lon"])
            gdf = gpd.GeoDataFrame(
                frame,
                geometry=gpd.points_from_xy(register["lon"], register["lat"]),
                crs="EPSG:4326",
            )
            gdf.to_parquet(tmp, index=False, compression="zstd")


def boundary_geojson(boundary) -> str:
    """The outline as a GeoJSON FeatureCollection labelled synthetic (text)."""
    import shapely

    feature = {
        "type": "Feature",
        "properties": {
            "name": "Italy (SYNTHETIC, approximate outline)",
            "note": BOUNDARY_NOTE,
            "source": "hand-made for atlas synth from about 160 approximate points "
            "(mainland, Sicily, Sardinia; smaller islands left out)",
        },
        "geometry": shapely.geometry.mapping(boundary),
    }
    doc = {"type": "FeatureCollection", "name": "boundary", "features": [feature]}
    return json.dumps(doc) + "\n"


STUDY_TOML = """\
# SYNTHETIC national-scale study written by `atlas synth` (atlas.synth): every input in this
# folder is invented (see README.md and docs/scale.md). It describes no real network.
# Written by: {command}

[study]
name = "{name}"
year = {year}
timezone = "{timezone}"
description = "SYNTHETIC national-scale study of Italy written by atlas synth (seed {seed}): {n_ps} invented primary substations in a hand-made approximate outline of Italy, {n_ders} invented DER points resampled from the Milan demo register, invented load. Not real data."

[inputs]
# SYNTHETIC sites (north to south) and ratings
substations = "substations.csv"
# SYNTHETIC approximate outline of Italy: the service areas are its Voronoi cells
boundary = "boundary.geojson"
# SYNTHETIC register resampled from the Milan demo's; rows of scenario "2030" are the growth
ders = "{ders}"
# SYNTHETIC load, load convention (P > 0 from transmission, Q > 0 absorbed) [MW, Mvar]
load = "{load}"

[profiles.pv]
# the shipped PVGIS TMY (weather of 45 N 8 E) with each service area's own sun path
source = "tmy"

[profiles.chp]
source = "default"

[profiles.hydro]
source = "default"

[profiles.biomass]
source = "default"

[profiles.ev]
source = "shapes"
# the Milan demo's 2030 EV energy per PS ({ev_per_ps:.1f} MWh/yr) x {n_ps} PS [MWh/yr]
energy_mwh = {{ "2030" = {ev_energy} }}

[scenarios]
names = [{scenarios}]

[areas]
# UTM 33N, the zone of Italy's centre (what "auto" would choose)
crs = "{crs}"
"""

README = """\
# SYNTHETIC national-scale study

**Everything in this folder is SYNTHETIC** (invented by `atlas synth`): it describes no
real network, substation, installation or load. It exists to run the flexibility atlas at
national scale. docs/scale.md ("Synthetic studies") explains every number.

Written by (OUT_DIR is this folder; the same arguments give the same bytes):

```bash
{command}
```

or in Python: `atlas.synth.write_synthetic_study("OUT_DIR", {n_ps}, ders_per_ps={ders_per_ps}, seed={seed}, year={year}, register_format="{register_format}", load_format="{load_format}")`
(atlas {version}). Seed: {seed}.

| file | what |
|---|---|
| `study.toml` | the study: year {year}, scenarios {scenario_list}, PV from the shipped TMY, EV from the shipped shapes |
| `substations.csv` | {n_ps} PS `PS...` named `Synthetic PS n`, north to south; {n_urban} clustered around large cities, the rest uniform; ratings 2 x 25, 40 or 63 MVA ({mva_total:,.0f} MVA in all) |
| `boundary.geojson` | a hand-made, approximate outline of Italy (mainland, Sicily, Sardinia): {boundary_note}; the service areas are its Voronoi cells |
| `{ders}` | {n_ders:,} DER points ({ders_per_ps} per PS on average), the Milan demo register's mix; {n_planned:,} of them planned for 2030 (the growth); {n_ev:,} EV charging points; {in_cell:.1%} lie in the Voronoi cell of the PS they were placed around |
| `{load}` | {n_rows:,} rows: 8760 UTC hours x {n_ps} PS, `time, ps_id, p_mw, q_mvar`, load convention (P > 0 from transmission, Q > 0 absorbed); sum of PS peaks {peak_total:,.0f} MW, energy {energy_twh:,.1f} TWh/yr |

Installed capacity in the register [MW]:

{capacity_table}

EV charging energy in 2030: {ev_energy:,.0f} MWh/yr (the Milan demo's per PS).
"""


def _capacity_table(register: pd.DataFrame) -> str:
    """Markdown table of the register's capacity by technology and level, per scenario [MW]."""
    kw = register["capacity_kw"].to_numpy(dtype=float)
    planned = (register["scenario"] != "").to_numpy(dtype=bool)
    rows = ["| technology | level | as-is | added in 2030 |", "|---|---|---|---|"]
    table = (
        pd.DataFrame(
            {
                "technology": register["technology"],
                "level": register["level"],
                "as_is": np.where(planned, 0.0, kw) / 1000.0,
                "added": np.where(planned, kw, 0.0) / 1000.0,
            }
        )
        .groupby(["technology", "level"], sort=True)[["as_is", "added"]]
        .sum()
    )
    for (tech, level), row in table.iterrows():
        rows.append(f"| {tech} | {level} | {row['as_is']:,.1f} | {row['added']:,.1f} |")
    return "\n".join(rows)


def synth_command(
    n_ps: int,
    ders_per_ps: int,
    seed: int,
    year: int,
    register_format: str,
    load_format: str,
    out_dir: str = "OUT_DIR",
) -> str:
    """The ``atlas synth`` command line that writes a study with these arguments."""
    return " ".join(
        [
            "atlas synth",
            shlex.quote(str(out_dir)),
            f"--n-ps {n_ps} --ders-per-ps {ders_per_ps} --seed {seed} --year {year}",
            f"--register-format {register_format} --load-format {load_format}",
        ]
    )


def synthetic_file_names(register_format: str = "csv", load_format: str = "parquet") -> list[str]:
    """Names of the files :func:`write_synthetic_study` writes, in the order it writes them."""
    ders = "ders.csv" if register_format == "csv" else "ders.parquet"
    load = "load.parquet" if load_format == "parquet" else "load.csv"
    return ["boundary.geojson", "substations.csv", ders, load, "study.toml", "README.md"]


def write_synthetic_study(
    out_dir: str | Path,
    n_ps: int,
    ders_per_ps: int = DERS_PER_PS,
    seed: int = DEFAULT_SEED,
    year: int = 2030,
    register_format: str = "csv",
    load_format: str = "parquet",
    force: bool = False,
) -> Path:
    """Write a SYNTHETIC national-scale study of Italy into a folder.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The study folder; created (with its parents) if missing.
    n_ps : int
        Number of primary substations (>= 1).
    ders_per_ps : int, default 680
        DER points per PS, on average: the register has ``n_ps * ders_per_ps`` points.
    seed : int, default :data:`DEFAULT_SEED`
        Seed of every random draw (>= 0): the same arguments give the same bytes.
    year : int, default 2030
        Year of the study's hourly axis.
    register_format : {"csv", "geoparquet"}
        ``ders.csv`` (``lat``/``lon`` columns, WGS84) or ``ders.parquet`` (GeoParquet
        points, EPSG:4326).
    load_format : {"parquet", "csv"}
        ``load.parquet`` (:func:`load_schema`, one row group per :data:`LOAD_BATCH_PS` PS)
        or ``load.csv`` (the documented CSV, ``time`` ISO 8601 with ``Z``).
    force : bool, default False
        Overwrite the files of :func:`synthetic_file_names` if ``out_dir`` has them; other
        files are never touched.

    Returns
    -------
    pathlib.Path
        The study file, ``out_dir / "study.toml"``: ``atlas validate`` accepts it and
        ``atlas run --config`` runs it offline.

    Raises
    ------
    AtlasInputError
        A bad argument, ``out_dir`` a file, or (without ``force``) a file of the study
        already in ``out_dir`` (nothing is written then).

    Notes
    -----
    Three independent random streams (:class:`numpy.random.SeedSequence` of ``seed``):
    substations, register, load. So the sites, ratings and load do not change with
    ``ders_per_ps`` or the formats. Written files: :func:`synthetic_file_names`; each is
    written to a temporary file and moved into place. See docs/scale.md.

    Examples
    --------
    >>> from atlas.synth import write_synthetic_study
    >>> study = write_synthetic_study("synth", 12, ders_per_ps=50)  # doctest: +SKIP
    >>> import atlas
    >>> run = atlas.run_study(study)  # doctest: +SKIP
    """
    import shapely

    from atlas import __version__

    if n_ps < 1:
        raise AtlasInputError(None, "n_ps", f"{n_ps}, expected at least 1 substation")
    if ders_per_ps < 1:
        raise AtlasInputError(
            None,
            "ders_per_ps",
            f"{ders_per_ps}, expected at least 1 (the EV energy goes to charging points)",
        )
    if seed < 0:
        raise AtlasInputError(None, "seed", f"{seed}, expected an integer >= 0")
    if register_format not in REGISTER_FORMATS:
        raise AtlasInputError(
            None, "register_format", f"{register_format!r}, expected one of {REGISTER_FORMATS}"
        )
    if load_format not in LOAD_FORMATS:
        raise AtlasInputError(
            None, "load_format", f"{load_format!r}, expected one of {LOAD_FORMATS}"
        )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AtlasInputError(out, "", "is a file, expected a folder (new or existing)")
    names = synthetic_file_names(register_format, load_format)
    if not force:
        for name in names:
            if (out / name).exists():
                raise AtlasInputError(
                    out / name,
                    "",
                    "already exists, expected a folder without the synthetic study's files; "
                    "choose another folder or overwrite them with --force (force=True)",
                )
    out.mkdir(parents=True, exist_ok=True)
    boundary_file, sites_file, ders_file, load_file, study_file, readme_file = names

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    boundary = italy_boundary()
    boundary_m = metric_geometry(boundary)
    shapely.prepare(boundary_m)
    sites = synthetic_substations(n_ps, boundary_m, streams[0])
    n_ders = n_ps * ders_per_ps
    register, ps_index, ders_xy = synthetic_register(sites, n_ders, boundary_m, streams[1])

    write_text_atomic(out / boundary_file, boundary_geojson(boundary))
    site_table = pd.DataFrame(
        {
            "ps_id": sites["ps_id"],
            "name": sites["name"],
            "lat": [f"{v:.{SITE_DECIMALS}f}" for v in sites["lat"]],  # per PS, not per DER
            "lon": [f"{v:.{SITE_DECIMALS}f}" for v in sites["lon"]],
            "rated_mva": [f"{v:.1f}" for v in sites["rated_mva"]],
        }
    )
    write_text_atomic(out / sites_file, site_table.to_csv(index=False, lineterminator="\n"))
    write_register(register, out / ders_file, register_format)
    energy_mwh = write_load(sites, year, streams[2], out / load_file)

    command = synth_command(n_ps, ders_per_ps, seed, year, register_format, load_format)
    ev_energy = round(EV_ENERGY_MWH_PER_PS * n_ps, 1)
    toml = STUDY_TOML.format(
        command=command,
        name=f"synthetic-italy-{n_ps}ps-seed{seed}",
        year=year,
        timezone=TIMEZONE,
        seed=seed,
        n_ps=n_ps,
        n_ders=n_ders,
        ders=ders_file,
        load=load_file,
        ev_per_ps=EV_ENERGY_MWH_PER_PS,
        ev_energy=ev_energy,
        scenarios=", ".join(f'"{s}"' for s in SCENARIOS),
        crs=METRIC_CRS,
    )
    write_text_atomic(out / study_file, toml)
    readme = README.format(
        command=command,
        n_ps=n_ps,
        ders_per_ps=ders_per_ps,
        seed=seed,
        year=year,
        register_format=register_format,
        load_format=load_format,
        version=__version__,
        scenario_list=", ".join(SCENARIOS),
        n_urban=int(sites["urban"].sum()),
        mva_total=float(sites["rated_mva"].sum()),
        boundary_note=BOUNDARY_NOTE,
        ders=ders_file,
        n_ders=n_ders,
        n_planned=int((register["scenario"] != "").sum()),
        n_ev=int((register["technology"] == "ev").sum()),
        in_cell=nearest_site_share(ders_xy, sites, ps_index),
        load=load_file,
        n_rows=n_ps * 8760,
        peak_total=float(sites["peak_mw"].sum()),
        energy_twh=energy_mwh / 1e6,
        capacity_table=_capacity_table(register),
        ev_energy=ev_energy,
    )
    write_text_atomic(out / readme_file, readme)
    return out / study_file
