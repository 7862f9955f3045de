"""The interactive map of a run: one self-contained HTML file (Folium / Leaflet).

``write_map(run, folder)`` takes a :class:`~atlas.runfolder.Run` (``atlas map`` rebuilds it from
a saved run) and writes ``map.html``: the service areas coloured by a flexibility figure (one layer per scenario and
direction, firm value or mean), the PS sites as labelled markers (those that meet the relief
threshold stand out), the DERs clustered per technology, and a popup per PS with its installed
capacities, the four figures' statistics and verdicts, its P-Q envelopes and its month x hour
availability. docs/map.md describes what a reader sees.

Layout of the module, data flowing down:

- what the map shows: :func:`map_data` takes the parts of a run the map needs (the run's
  tables were checked when it was made or loaded, :mod:`atlas.runfolder`);
- pure payload builders: :func:`map_payload` turns the tables into the compact JSON the page
  carries once (geometries simplified, per-PS charts as quantised numbers drawn lazily in JS);
- the page: :func:`build_map` assembles the Folium map (Leaflet layers, controls, assets either
  from CDNs or inlined from the XStatic packages), :func:`render_map` renders it and checks
  that an offline page requests nothing, :func:`write_map` writes it atomically.

Every user-supplied text (PS names and ids, DER names, scenario names, the study's
description) reaches the page only as JSON data, with ``<``, ``>`` and ``&`` written as
``\\u003c``-style escapes, and is HTML-escaped where the page inserts it (``esc()`` in the
page's script, :func:`html.escape` in Python).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from atlas import __version__
from atlas.analysis.stats import DIRECTIONS
from atlas.errors import AtlasInputError

if TYPE_CHECKING:
    import folium

    from atlas.runfolder import Run

#: Simplification tolerance of the service areas, in the study's UTM zone: about the square
#: root of the largest triangle area removed (coverage Visvalingam-Whyatt). The tolerance used
#: is the larger of SIMPLIFY_TOLERANCE_M and SIMPLIFY_RELATIVE x the width of the median area
#: (sqrt of its surface): 10 m for the Milan demo (median 6.0 km2), 32 m for a median of
#: 93 km2 (benchmarks/bench_map.py). [m]
SIMPLIFY_TOLERANCE_M = 10.0
SIMPLIFY_RELATIVE = 1 / 300
#: Decimals kept in the map's longitudes and latitudes (1e-5 deg is about 1.1 m); the page
#: carries them as integers of 10^-COORD_DECIMALS deg, each vertex as the step from the last.
COORD_DECIMALS = 5
#: Decimals kept in the figures carried by the page. [MW], [Mvar]
VALUE_DECIMALS = 4
#: Quantisation of the envelope charts: coordinates as integers 0..ENVELOPE_GRID of each PS's
#: bounding box, after simplification by ENVELOPE_SIMPLIFY of the box's larger side. [-]
ENVELOPE_GRID = 1000
ENVELOPE_SIMPLIFY = 0.004
#: Levels of the availability heatmap: a share s is stored as round(s * HEAT_LEVELS). [-]
HEAT_LEVELS = 20
_HEAT_CODES = "0123456789abcdefghijk"  # HEAT_LEVELS + 1 codes; "-" marks a missing cell
#: PS names are written on the map only while at most this many PS sites are in view. [-]
LABEL_MAX = 60
#: Most DER markers on a map: beyond it only the largest DERs get one (the layer says so). [-]
MAX_DER_MARKERS = 50_000
#: Sequential colour ramp of the choropleths, low to high (ColorBrewer YlGnBu, 9 classes).
COLORS = (
    "#ffffd9",
    "#edf8b1",
    "#c7e9b4",
    "#7fcdbb",
    "#41b6c4",
    "#1d91c0",
    "#225ea8",
    "#253494",
    "#081d58",
)
#: Ramp of the availability heatmap, share 0 to 1 (ColorBrewer Greens).
HEAT_COLORS = ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b")
#: Outline and marker colour of a PS that meets the relief threshold.
MEETS_COLOR = "#e6550d"
#: Fill of an area without a value.
NO_DATA_COLOR = "#d9d9d9"
#: The colour scale is log(1 + v / k) with k = vmax / LOG_RANGE: logarithmic over about
#: three decades below the maximum, linear near zero (so 0 has a colour). [-]
LOG_RANGE = 1000.0
#: Marker colours of the DER technologies (others grey).
DER_COLORS = {
    "pv": "#f0a30a",
    "chp": "#c51b7d",
    "biomass": "#4d9221",
    "hydro": "#2166ac",
    "ev": "#762a83",
    "wind": "#35978f",
    "bess": "#8c510a",
    "statcom": "#4d4d4d",
}
DER_LABELS = {
    "pv": "PV",
    "chp": "CHP",
    "biomass": "biomass/biogas",
    "hydro": "hydro",
    "ev": "EV",
    "wind": "wind",
    "bess": "battery",
    "statcom": "STATCOM",
}
#: The directions as the map names and explains them.
DIRECTION_TEXT = {
    "p_up": ("upward P", "P up", "extra active injection available (the PS withdraws less)"),
    "p_down": ("downward P", "P down", "injection that can be removed, or load added"),
    "q_up": ("upward Q", "Q up", "extra reactive injection"),
    "q_down": ("downward Q", "Q down", "extra reactive absorption"),
}
#: Year-level statistics shown in the popup (from statistics.parquet).
YEAR_STATS = ("min", "p10", "p50", "p90", "max")
#: Envelope kinds drawn in the popup chart, in drawing order.
ENVELOPE_KINDS = ("cloud_convex", "cloud_concave", "year")
#: Basemap of the online map: OpenStreetMap's standard tiles, greyed and lightened by CSS
#: (class ``atlas-basemap``) into a light background. (xyzservices lists CartoDB Positron as
#: needing an API key, so it is not the default.)
BASEMAP = "OpenStreetMap"


# ---------------------------------------------------------------------------------------------
# Assets: Leaflet and Leaflet.markercluster, from a CDN online, inlined from XStatic offline
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """A JS or CSS file of the page.

    Attributes
    ----------
    kind : str
        ``"js"`` or ``"css"``.
    url : str
        Where the online page loads it from.
    package : str
        The XStatic module that ships the same file for the offline page.
    file : str
        The file in the package's ``BASE_DIR``.
    credit : str
        Library and licence, written above the inlined copy (with the package's version).
    """

    kind: str
    url: str
    package: str
    file: str
    credit: str


_LEAFLET = "Leaflet (BSD-2-Clause licence), (c) Vladimir Agafonkin, CloudMade"
_CLUSTER = "Leaflet.markercluster (MIT licence), (c) Dave Leaver"
ASSETS: tuple[Asset, ...] = (
    Asset(
        "css",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css",
        "xstatic.pkg.leaflet",
        "leaflet.css",
        _LEAFLET,
    ),
    Asset(
        "css",
        "https://cdn.jsdelivr.net/npm/leaflet.markercluster@1.4.1/dist/MarkerCluster.css",
        "xstatic.pkg.leaflet_markercluster",
        "MarkerCluster.css",
        _CLUSTER,
    ),
    Asset(
        "css",
        "https://cdn.jsdelivr.net/npm/leaflet.markercluster@1.4.1/dist/MarkerCluster.Default.css",
        "xstatic.pkg.leaflet_markercluster",
        "MarkerCluster.Default.css",
        _CLUSTER,
    ),
    Asset(
        "js",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
        "xstatic.pkg.leaflet",
        "leaflet.js",
        _LEAFLET,
    ),
    Asset(
        "js",
        "https://cdn.jsdelivr.net/npm/leaflet.markercluster@1.4.1/dist/leaflet.markercluster.js",
        "xstatic.pkg.leaflet_markercluster",
        "leaflet.markercluster.js",
        _CLUSTER,
    ),
)


def _xstatic(package: str):
    """An installed XStatic package (its ``BASE_DIR`` holds the files, ``VERSION`` theirs)."""
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError as exc:  # a broken installation, not a user error
        dist = package.replace("xstatic.pkg.", "XStatic-").replace("_", "-")
        raise RuntimeError(
            f"the offline map needs the package {dist} (pip install {dist})"
        ) from exc
    return module


def _inline_css_images(css: str, folder: Path) -> str:
    """Replace ``url(images/x.png)`` in a stylesheet by data URIs of the files beside it."""

    def data_uri(match: re.Match) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return "none"
        return "url(data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() + ")"

    return re.sub(r"url\((?:['\"])?(images/[A-Za-z0-9_.-]+\.png)(?:['\"])?\)", data_uri, css)


def asset_tags(offline: bool) -> str:
    """The ``<link>``/``<script>`` tags of the page's libraries, or their inlined copies.

    Parameters
    ----------
    offline : bool
        Inline the files from the installed XStatic packages (source maps dropped, images
        as data URIs, ``</script`` escaped) instead of linking to the CDN.

    Returns
    -------
    str
        HTML for the page's ``<head>``.
    """
    out = []
    for a in ASSETS:
        if not offline:
            if a.kind == "css":
                out.append(f'<link rel="stylesheet" href="{a.url}"/>')
            else:
                out.append(f'<script src="{a.url}"></script>')
            continue
        module = _xstatic(a.package)
        folder = Path(module.BASE_DIR)
        text = (folder / a.file).read_text(encoding="utf-8")
        credit = f"{a.credit}; {a.file} {module.VERSION} from {module.PACKAGE_NAME}"
        text = re.sub(r"^\s*//# sourceMappingURL=.*$", "", text, flags=re.M)
        text = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", text)
        if a.kind == "css":
            text = _inline_css_images(text, folder)
            out.append(f"<style>/* {credit} */\n{text}</style>")
        else:
            text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)
            out.append(f"<script>/* {credit} */\n{text}</script>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# What the map shows, taken from a Run
# ---------------------------------------------------------------------------------------------


@dataclass
class MapData:
    """The parts of a :class:`~atlas.runfolder.Run` that the map shows, in map order.

    Attributes
    ----------
    manifest : dict
        The run's manifest.
    scenarios : list of str
        In the run's order.
    sites : pandas.DataFrame
        One row per PS: ps_id, name, lat, lon [deg], rated_mva [MVA], area_km2 [km2],
        ders (count, NaN if unknown).
    areas : numpy.ndarray or None
        Service-area polygons (shapely, EPSG:4326) aligned with ``sites``.
    boundary : numpy.ndarray or None
        Study boundary polygons (EPSG:4326).
    screening : pandas.DataFrame
        The run's screening, every scenario and direction.
    statistics : pandas.DataFrame
        The year-level statistics and the chosen scenario's month x hour shares: scenario,
        ps_id, figure, statistic; month, hour (float, NaN for year-level); value.
    envelopes : pandas.DataFrame
        scenario, ps_id, kind, geometry.
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw [MW].
    register : pandas.DataFrame or None
        The DER register with the PS each DER joined (lat, lon in WGS84).
    """

    manifest: dict
    scenarios: list[str]
    sites: pd.DataFrame
    areas: np.ndarray | None
    boundary: np.ndarray | None
    screening: pd.DataFrame
    statistics: pd.DataFrame
    envelopes: pd.DataFrame
    capacity: pd.DataFrame
    register: pd.DataFrame | None


def choose_scenario(scenarios: list[str], scenario: str | None, default: str | None = None) -> str:
    """The scenario the map colours by: the one asked for, else ``default`` (the run's
    :attr:`~atlas.runfolder.Run.default_scenario`), else the last of the run.

    Raises
    ------
    AtlasInputError
        ``scenario`` is not one of the run's (named as the ``--scenario`` option).
    """
    if scenario is None:
        return default if default in scenarios else scenarios[-1]
    if scenario not in scenarios:
        raise AtlasInputError(
            None, "--scenario", f"{scenario!r} is not in the run, expected one of {scenarios}"
        )
    return scenario


def map_data(run: Run, scenario: str | None = None) -> tuple[MapData, str]:
    """What the map of ``run`` shows, and the scenario it colours by.

    Parameters
    ----------
    run : atlas.runfolder.Run
    scenario : str, optional
        Default: the last of the run's scenarios.
    """
    import shapely

    chosen = choose_scenario(run.scenarios, scenario, run.default_scenario)
    sites = run.substations.assign(area_km2=np.nan, ders=np.nan)
    areas = None
    if run.areas is not None:
        by_ps = run.areas.set_index("ps_id").geometry
        mapped = sites["ps_id"].isin(by_ps.index).to_numpy()
        geoms = np.array([shapely.Polygon()] * len(sites), dtype=object)
        geoms[mapped] = by_ps.loc[sites["ps_id"][mapped]].to_numpy()
        areas = geoms
        km2 = run.areas.set_index("ps_id")["area_km2"]
        sites["area_km2"] = km2.reindex(sites["ps_id"]).to_numpy(dtype=float)
    if run.register is not None:  # the register's rows (DER points) joined to each PS
        counts = run.register[run.register["ps_id"] != ""].groupby("ps_id").size()
        sites["ders"] = counts.reindex(sites["ps_id"], fill_value=0).to_numpy(dtype=float)

    import pyarrow.dataset as pads

    def keep(stats: pd.DataFrame) -> np.ndarray:
        year = stats["statistic"].isin(list(YEAR_STATS)) & stats["month"].isna()
        heat = (
            (stats["statistic"] == "share_at_or_above")
            & (stats["scenario"] == chosen)
            & stats["hour"].notna()
        )
        return (year | heat).to_numpy(dtype=bool)

    f = pads.field
    stats = run.select_statistics(  # only what the map shows
        keep,
        (f("statistic").isin(list(YEAR_STATS)) & f("month").is_null())
        | (
            (f("statistic") == "share_at_or_above")
            & (f("scenario") == chosen)
            & f("hour").is_valid()
        ),
    )
    # the columns converted in place (millions of rows at national scale: no second copy)
    stats["month"] = pd.to_numeric(stats["month"], errors="coerce").astype(float)
    stats["hour"] = pd.to_numeric(stats["hour"], errors="coerce").astype(float)
    stats["value"] = stats["value"].astype(float)
    statistics = stats[["scenario", "ps_id", "figure", "statistic", "value", "month", "hour"]]
    del stats
    data = MapData(
        manifest=run.manifest,
        scenarios=run.scenarios,
        sites=sites.reset_index(drop=True),
        areas=areas,
        boundary=None if run.boundary is None else run.boundary.geometry.to_numpy(),
        screening=run.screening,
        statistics=statistics.reset_index(drop=True),
        envelopes=run.envelopes,
        capacity=run.capacity,
        register=run.register,
    )
    return data, chosen


# ---------------------------------------------------------------------------------------------
# Pure payload builders
# ---------------------------------------------------------------------------------------------


def _finite_list(values: np.ndarray, decimals: int | None = None) -> list:
    """A list of floats (rounded) with None where the value is not finite."""
    v = np.asarray(values, dtype=float)
    if decimals is not None:
        v = np.round(v, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    obj = v.astype(object)
    obj[~np.isfinite(v)] = None
    return obj.tolist()


def scale_t(values, vmin: float, vmax: float, k: float) -> np.ndarray:
    """Position of values on the colour scale, 0 at vmin and 1 at vmax.

    t = (f(v) - f(vmin)) / (f(vmax) - f(vmin)) with f(v) = log(1 + max(v, 0) / k), clipped
    to [0, 1]; 0 everywhere when f(vmax) <= f(vmin) (vmax <= vmin, or vmax <= 0). The page's
    script computes the same.

    Parameters
    ----------
    values : array_like
        Figures. [MW] or [Mvar]
    vmin, vmax : float
        The scale's ends. [MW] or [Mvar]
    k : float
        Where the scale turns from linear to logarithmic. [MW] or [Mvar]

    Returns
    -------
    numpy.ndarray
        t in [0, 1]. [-]
    """
    v = np.asarray(values, dtype=float)
    if not vmax > vmin:
        return np.zeros_like(v)

    def f(x):
        return np.log1p(np.maximum(x, 0.0) / k)

    span = f(vmax) - f(vmin)
    if not span > 0:  # a scale of values at or below zero: all at the bottom
        return np.zeros_like(v)
    return np.clip((f(v) - f(vmin)) / span, 0.0, 1.0)


def color_scale(values: np.ndarray) -> dict:
    """The colour scale of one layer and metric: its ends, shape and legend ticks.

    Parameters
    ----------
    values : numpy.ndarray
        The layer's values, one per PS (NaN where missing), as the page carries them
        (rounded), so that the largest lands exactly on the top colour. [MW] or [Mvar]

    Returns
    -------
    dict
        ``vmin``, ``vmax`` (the data's min and max, None without data), ``k`` (see
        :func:`scale_t`), ``ticks``: ``[value, t, label]`` with the ends and round values
        (1, 2, 5 x 10^n) at least 0.14 apart on the bar.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"vmin": None, "vmax": None, "k": 1.0, "ticks": []}
    vmin, vmax = float(v.min()), float(v.max())
    k = vmax / LOG_RANGE if vmax > 0 else 1.0
    ticks: list[tuple[float, float, str]] = [(vmin, 0.0, f"{vmin:.2f}")]
    if vmax > vmin:
        ticks.append((vmax, 1.0, f"{vmax:.2f}"))
        lo = max(vmin, k)
        cands = []
        # no round values on a scale of values at or below zero (all take the bottom colour)
        decades = (
            range(math.floor(math.log10(lo)), math.ceil(math.log10(vmax)) + 1) if vmax > 0 else ()
        )
        for e in decades:
            for rank, m in enumerate((1, 5, 2)):
                c = float(f"{m}e{e}")
                if vmin < c < vmax:
                    cands.append((rank, c))
        if vmin < 0 < vmax:
            cands.append((-1, 0.0))
        for _, c in sorted(cands, key=lambda rc: (rc[0], -rc[1])):
            t = float(scale_t(c, vmin, vmax, k))
            if all(abs(t - other[1]) >= 0.14 for other in ticks):
                ticks.append((c, t, f"{c:g}"))
    ticks.sort(key=lambda x: x[1])
    return {"vmin": vmin, "vmax": vmax, "k": k, "ticks": [list(t) for t in ticks]}


def figure_table(files: MapData) -> tuple[list[str], dict, dict]:
    """Per scenario, direction and PS: the screening's and statistics' figures.

    Returns
    -------
    cols : list of str
        firm, mean [MW or Mvar], share [-], meets (1/0), run_h [h], the YEAR_STATS
        [MW or Mvar], and h_over [h] when screening.csv has ``hours_over_rating``.
    data : dict
        ``{scenario: {direction: [row or None per PS]}}``, rows aligned with ``cols``.
    values : dict
        ``{(scenario, direction): {"firm": array, "mean": array}}``, one value per PS (NaN
        where missing), rounded as in ``data``. [MW] or [Mvar]
    """
    ps = pd.Index(files.sites["ps_id"])
    scr = files.screening
    cols = ["firm", "mean", "share", "meets", "run_h", *YEAR_STATS]
    has_h = "hours_over_rating" in scr.columns
    if has_h:
        cols.append("h_over")
    table = pd.DataFrame(
        {
            "scenario": scr["scenario"],
            "direction": scr["direction"],
            "ps_id": scr["ps_id"],
            "firm": scr["firm"],
            "mean": scr["mean"],
            "share": scr["share_at_or_above"],
            "meets": scr["meets"].astype(float),
            "run_h": scr["longest_run_h"],
        }
    )
    if has_h:
        table["h_over"] = scr["hours_over_rating"]
    st = files.statistics
    year = st[st["month"].isna() & st["statistic"].isin(YEAR_STATS)]
    wide = year.pivot_table(
        index=["scenario", "figure", "ps_id"], columns="statistic", values="value", aggfunc="first"
    ).reindex(columns=list(YEAR_STATS))
    wide.index = wide.index.set_names(["scenario", "direction", "ps_id"])
    table = table.set_index(["scenario", "direction", "ps_id"]).join(wide, how="left")
    full = pd.MultiIndex.from_product(
        [files.scenarios, list(DIRECTIONS), ps], names=["scenario", "direction", "ps_id"]
    )
    grid = table.reindex(full)[cols].to_numpy(dtype=float)
    rounded = np.round(grid, VALUE_DECIMALS) + 0.0
    present = np.isfinite(grid[:, 0])  # a screening row exists
    n = len(ps)
    data: dict = {}
    values = {}
    for si, s in enumerate(files.scenarios):
        data[s] = {}
        for di, d in enumerate(DIRECTIONS):
            block = slice((si * len(DIRECTIONS) + di) * n, (si * len(DIRECTIONS) + di + 1) * n)
            rows = rounded[block]
            keep = present[block]
            out = []
            for r, ok in zip(rows.astype(object), keep, strict=True):
                if ok:
                    r[~np.isfinite(r.astype(float))] = None
                    out.append(r.tolist())
                else:
                    out.append(None)
            data[s][d] = out
            values[(s, d)] = {"firm": rows[:, 0], "mean": rows[:, 1]}
    return cols, data, values


def layer_specs(files: MapData, scenario: str, values: dict) -> list[dict]:
    """The choropleth layers: the chosen scenario's four directions first, then the others.

    Returns
    -------
    list of dict
        key (``"scenario|direction"``), scenario, direction, unit, threshold [MW or Mvar],
        availability [-], n_meets, scales ``{"firm": ..., "mean": ...}`` (:func:`color_scale`).
    """
    scr = files.screening
    order = [scenario] + [s for s in files.scenarios if s != scenario]
    layers = []
    for s in order:
        for d, (_, unit) in DIRECTIONS.items():
            rows = scr[(scr["scenario"] == s) & (scr["direction"] == d)]
            if rows.empty:
                continue
            layers.append(_layer(f"{s}|{d}", s, d, unit, rows, values[(s, d)]))
    return layers + gain_layers(files, values)


def _layer(key: str, scenario: str, direction: str, unit: str, rows, values: dict) -> dict:
    """One layer of :func:`layer_specs`: its screening ``rows`` (a scenario and direction)
    give the threshold, availability and count; ``values`` (``{"firm", "mean"}``, one per
    PS) the colour scales."""
    return {
        "key": key,
        "scenario": scenario,
        "direction": direction,
        "unit": unit,
        "threshold": float(rows["threshold"].iloc[0]),
        "availability": float(rows["availability"].iloc[0]),
        "n_meets": int(rows["meets"].sum()),
        "scales": {m: color_scale(values[m]) for m in ("firm", "mean")},
    }


def what_if_pair(files: MapData) -> tuple[str, str] | None:
    """The run's what-if scenario and its base (``run.json``'s ``what_if``), when the run
    has both; else None."""
    what_if = files.manifest.get("what_if")
    if not isinstance(what_if, dict):
        return None
    added, base = what_if.get("scenario"), what_if.get("base")
    if added in files.scenarios and base in files.scenarios and added != base:
        return str(added), str(base)
    return None


def gain_layers(files: MapData, values: dict) -> list[dict]:
    """The layers that colour by what a what-if scenario adds: its figures minus its base's.

    One layer per direction, after every scenario's own layers; none without a what-if. A
    PS's gain is the difference of the two rounded figures the page carries (so the page
    computes the same from its rows); a PS without a screening row in either scenario has
    no value. The outline and the legend's count are the what-if's (which PS meet the
    threshold with the additions).

    Returns
    -------
    list of dict
        As :func:`layer_specs`, with ``key`` ``"scenario|direction|gain"`` and ``base`` (the
        scenario the gain is measured from). [MW] or [Mvar]
    """
    pair = what_if_pair(files)
    if pair is None:
        return []
    added, base = pair
    scr = files.screening
    layers = []
    for d, (_, unit) in DIRECTIONS.items():
        rows = scr[(scr["scenario"] == added) & (scr["direction"] == d)]
        if rows.empty or not (scr["scenario"] == base).any():
            continue
        gain = {m: values[(added, d)][m] - values[(base, d)][m] for m in ("firm", "mean")}
        layers.append(_layer(f"{added}|{d}|gain", added, d, unit, rows, gain) | {"base": base})
    return layers


def capacity_payload(files: MapData) -> dict:
    """Installed capacity per scenario, PS and technology (levels summed). [MW]

    Returns
    -------
    dict
        ``techs`` (known technologies first), their ``labels`` and ``data``: ``{scenario: [[MW per tech]
        per PS]}``.
    """
    cap = files.capacity
    known = list(DER_COLORS)
    techs = [t for t in known if t in set(cap["technology"])]
    techs += sorted(set(cap["technology"]) - set(known))
    total = cap.groupby(["scenario", "ps_id", "technology"])["capacity_mw"].sum()
    ps = files.sites["ps_id"]
    data = {}
    for s in files.scenarios:
        idx = pd.MultiIndex.from_product([[s], ps, techs])
        grid = total.reindex(idx).to_numpy(dtype=float).reshape(len(ps), len(techs))
        grid = np.where(np.isfinite(grid), grid, 0.0)
        data[s] = (np.round(grid, 3) + 0.0).tolist()
    return {"techs": techs, "labels": [DER_LABELS.get(t, t) for t in techs], "data": data}


def envelope_payload(files: MapData) -> tuple[list, list]:
    """The P-Q envelopes of each PS as quantised rings for the popup chart.

    Each PS's polygons (the as-is cloud hulls, each scenario's yearly envelope) are simplified
    by ENVELOPE_SIMPLIFY of their common bounding box and their vertices written as integers
    0..ENVELOPE_GRID of it.

    Returns
    -------
    kinds : list of str
        ENVELOPE_KINDS.
    env : list
        Per PS: None, or ``{"b": [pmin, qmin, pmax, qmax], "r": [[kind, scenario index,
        [x0, y0, x1, y1, ...]], ...]}`` with P in MW, Q in Mvar (load convention).

    """
    import shapely

    env = files.envelopes
    ps = pd.Index(files.sites["ps_id"])
    sc = pd.Index(files.scenarios)
    kinds = list(ENVELOPE_KINDS)
    geoms = env["geometry"].to_numpy(dtype=object)
    # a PS without DERs has a degenerate envelope (a segment or a point): drawn as it is
    drawable = ~shapely.is_missing(geoms) & np.isin(shapely.get_type_id(geoms), [0, 1, 3, 6])
    keep = (
        env["kind"].isin(kinds) & env["ps_id"].isin(ps) & env["scenario"].isin(sc)
    ).to_numpy() & drawable
    env = env[keep]
    geoms = geoms[keep]
    out: list = [None] * len(ps)
    if len(env) == 0:
        return kinds, out
    pi = ps.get_indexer(env["ps_id"])
    bounds = shapely.bounds(geoms)
    box = (
        pd.DataFrame(bounds, columns=["x0", "y0", "x1", "y1"])
        .assign(pi=pi)
        .groupby("pi")
        .agg(x0=("x0", "min"), y0=("y0", "min"), x1=("x1", "max"), y1=("y1", "max"))
    )
    b = box.reindex(pi).to_numpy()
    span = np.maximum(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1e-9)
    simple = shapely.simplify(geoms, span * ENVELOPE_SIMPLIFY, preserve_topology=True)
    parts, part_of = shapely.get_parts(simple, return_index=True)
    rings = parts.copy()  # points and segments stand for themselves
    is_polygon = shapely.get_type_id(parts) == 3
    rings[is_polygon] = shapely.get_exterior_ring(parts[is_polygon])
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    if len(xy) == 0:
        return kinds, out
    g = part_of[ring_of]  # geometry of each vertex
    wx = np.maximum(b[g, 2] - b[g, 0], 1e-9)
    wy = np.maximum(b[g, 3] - b[g, 1], 1e-9)
    q = np.empty_like(xy, dtype=np.int64)
    q[:, 0] = np.rint((xy[:, 0] - b[g, 0]) / wx * ENVELOPE_GRID)
    q[:, 1] = np.rint((xy[:, 1] - b[g, 1]) / wy * ENVELOPE_GRID)
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    kind_code = pd.Index(kinds).get_indexer(env["kind"])
    scen_code = sc.get_indexer(env["scenario"])
    for k, ring in enumerate(np.split(q, starts[1:])):
        gi = part_of[ring_of[starts[k]]]
        p = int(pi[gi])
        if out[p] is None:
            bb = box.loc[p]
            out[p] = {
                "b": _finite_list(np.array([bb.x0, bb.y0, bb.x1, bb.y1]), 3),
                "r": [],
            }
        closed = len(ring) > 1 and (ring[0] == ring[-1]).all()
        flat = (ring[:-1] if closed else ring).ravel().tolist()
        out[p]["r"].append([int(kind_code[gi]), int(scen_code[gi]), flat])
    for item in out:  # draw order: convex cloud, concave cloud, then the envelopes
        if item is not None:
            item["r"].sort(key=lambda r: (r[0], r[1]))
    return kinds, out


def heatmap_payload(files: MapData, scenario: str) -> list:
    """Month x local-hour share of hours at or above the threshold, per PS and direction.

    Returns
    -------
    list
        Per PS: None, or four strings (p_up, p_down, q_up, q_down) of 288 codes (month
        1-12, then hour 0-23), code i = share i / HEAT_LEVELS, ``-`` where missing.
    """
    st = files.statistics
    sel = (
        (st["scenario"] == scenario)
        & (st["statistic"] == "share_at_or_above")
        & st["month"].notna()
        & st["hour"].notna()
    )
    rows = np.flatnonzero(sel.to_numpy())  # no frame of the rows: millions of them
    ps = pd.Index(files.sites["ps_id"])

    def positions(index: pd.Index, column: str) -> np.ndarray:
        # each distinct id looked up once (no Python string per row)
        codes, uniques = pd.factorize(st[column])
        codes = codes[rows]
        found = index.get_indexer(uniques)
        return np.where(codes >= 0, found[np.maximum(codes, 0)], -1) if len(found) else codes

    pi = positions(ps, "ps_id")
    fi = positions(pd.Index(list(DIRECTIONS)), "figure")
    m = st["month"].to_numpy(dtype=float)[rows].astype(int) - 1
    h = st["hour"].to_numpy(dtype=float)[rows].astype(int)
    ok = (pi >= 0) & (fi >= 0) & (m >= 0) & (m < 12) & (h >= 0) & (h < 24)
    codes = np.full((len(ps), len(DIRECTIONS), 12 * 24), len(_HEAT_CODES), dtype=np.int64)
    level = np.rint(np.clip(st["value"].to_numpy(dtype=float)[rows], 0, 1) * HEAT_LEVELS)
    codes[pi[ok], fi[ok], m[ok] * 24 + h[ok]] = level[ok].astype(np.int64)
    lut = np.frombuffer((_HEAT_CODES + "-").encode(), dtype=np.uint8)
    chars = lut[codes]
    empty = (codes == len(_HEAT_CODES)).all(axis=2)
    out: list = []
    for p in range(len(ps)):
        if empty[p].all():
            out.append(None)
            continue
        out.append(
            [None if empty[p, f] else chars[p, f].tobytes().decode() for f in range(chars.shape[1])]
        )
    return out


def der_payload(files: MapData, scenario: str, limit: int = MAX_DER_MARKERS) -> list[dict]:
    """The DERs of the chosen scenario, per technology, for the clustered marker layers.

    A register row with an empty ``scenario`` exists in every scenario. Beyond ``limit``
    DERs, only the ``limit`` largest (by capacity) get a marker; ``n`` and ``mw`` still count
    them all.

    Parameters
    ----------
    files : MapData
    scenario : str
    limit : int
        Most markers in all. [-]

    Returns
    -------
    list of dict
        tech, label, color, n (DERs), mw (their capacity [MW]), shown (markers), details
        (the distinct ``level · location · V2G`` texts), rows ``[lat, lon (in units of
        10^-COORD_DECIMALS deg), kW, name or id, PS index (-1 if none), details index]``.
    """
    reg = files.register
    if reg is None or reg.empty:
        return []
    reg = reg[((reg["scenario"] == "") | (reg["scenario"] == scenario)).to_numpy()]
    v2g_default = set(
        files.manifest.get("settings", {}).get("ev", {}).get("v2g_locations", []) or []
    )
    all_tech = reg["technology"].to_numpy()
    all_kw = np.round(reg["capacity_mw"].to_numpy(dtype=float) * 1000.0, 1) + 0.0
    order = np.argsort(-all_kw, kind="stable")
    shown = np.zeros(len(reg), dtype=bool)
    shown[order[:limit]] = True
    # the markers' texts and places, for the shown DERs only (in register order)
    marked = reg.iloc[np.flatnonzero(shown)]
    tech, kw = all_tech[shown], all_kw[shown]
    flag = marked["v2g"].to_numpy(dtype=float)  # 1 or 0 where the register says, else NaN
    v2g = np.where(np.isnan(flag), marked["location"].isin(v2g_default), flag > 0).astype(bool)
    lev, loc = marked["level"], marked["location"]
    both = ((lev != "") & (loc != "")).to_numpy()
    detail = np.where(both, lev + " · " + loc, lev + loc).astype(object) + np.where(
        (tech == "ev") & v2g, " · V2G", ""
    )
    scale = 10**COORD_DECIMALS
    lat = np.rint(marked["lat"].to_numpy(dtype=float) * scale).astype(np.int64)
    lon = np.rint(marked["lon"].to_numpy(dtype=float) * scale).astype(np.int64)
    label = np.where(marked["name"] != "", marked["name"], marked["der_id"])
    ps_i = pd.Index(files.sites["ps_id"]).get_indexer(marked["ps_id"])
    techs = [t for t in DER_COLORS if t in set(all_tech)]
    techs += sorted(set(all_tech) - set(DER_COLORS))
    out = []
    for t in techs:
        mine = all_tech == t
        idx = np.flatnonzero(tech == t)
        details, code = np.unique(detail[idx].astype(str), return_inverse=True)
        rows = [
            list(r)
            for r in zip(
                lat[idx].tolist(),
                lon[idx].tolist(),
                kw[idx].tolist(),
                label[idx].tolist(),
                ps_i[idx].tolist(),
                code.tolist(),
                strict=True,
            )
        ]
        out.append(
            {
                "tech": t,
                "label": DER_LABELS.get(t, t),
                "color": DER_COLORS.get(t, "#636363"),
                "n": int(mine.sum()),
                "mw": round(float(all_kw[mine].sum()) / 1000.0, 3),
                "shown": len(rows),
                "details": details.tolist(),
                "rows": rows,
            }
        )
    return out


def simplify_polygons(geoms: np.ndarray, tolerance_m: float, coverage: bool) -> np.ndarray:
    """Simplify polygons for display in a metric CRS and round their coordinates.

    Parameters
    ----------
    geoms : numpy.ndarray
        Shapely polygons in EPSG:4326.
    tolerance_m : float
        Simplification tolerance in the local UTM zone. [m]
    coverage : bool
        The polygons form a coverage (service areas): simplify the shared edges once so that
        neighbours keep a common border (``shapely.coverage_simplify``, GEOS >= 3.12; plain
        topology-preserving simplification otherwise).

    Returns
    -------
    numpy.ndarray
        Polygons in EPSG:4326 with COORD_DECIMALS decimals.
    """
    import shapely
    from pyproj import Transformer

    from atlas.geo.layers import utm_crs

    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    crs = utm_crs((x0 + x1) / 2, (y0 + y1) / 2)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def project(t):
        def f(c):
            x, y = t.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        return f

    metric = shapely.transform(geoms, project(fwd))
    simple = None
    if coverage and hasattr(shapely, "coverage_simplify"):
        try:
            simple = shapely.coverage_simplify(metric, tolerance_m)
        except Exception:  # GEOS < 3.12, or not a coverage
            simple = None
    if simple is None:
        simple = shapely.simplify(metric, tolerance_m, preserve_topology=True)
    back = shapely.transform(simple, project(inv))
    return shapely.transform(back, lambda c: np.round(c, COORD_DECIMALS) + 0.0)


def simplify_tolerance(geoms: np.ndarray) -> float:
    """The display tolerance of a set of service areas (see SIMPLIFY_RELATIVE). [m]"""
    import geopandas as gpd
    import shapely

    from atlas.geo.layers import utm_crs

    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    crs = utm_crs((x0 + x1) / 2, (y0 + y1) / 2)
    area = gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(crs).area.to_numpy()
    area = area[area > 0]
    width = float(np.sqrt(np.median(area))) if area.size else 0.0
    return max(SIMPLIFY_TOLERANCE_M, SIMPLIFY_RELATIVE * width)


def encode_polygons(geoms: np.ndarray) -> list[list[list[list[int]]]]:
    """Polygons as rings of integer coordinate steps, the page's compact geometry.

    Parameters
    ----------
    geoms : numpy.ndarray
        Polygons or multipolygons in EPSG:4326, coordinates rounded to COORD_DECIMALS.

    Returns
    -------
    list
        Per geometry, a list of polygons; per polygon its rings (exterior first), each a flat
        list ``[x0, y0, dx1, dy1, ...]``: the first vertex in units of 10^-COORD_DECIMALS deg
        (longitude, latitude), then each vertex's step from the previous one; the closing
        vertex is left out. The page's ``decode`` rebuilds GeoJSON MultiPolygons.
    """
    import shapely

    out: list[list[list[list[int]]]] = [[] for _ in range(len(geoms))]
    polys, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    if len(xy) == 0:
        return out
    q = np.rint(xy * 10**COORD_DECIMALS).astype(np.int64)
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    last = np.r_[ring_of[1:] != ring_of[:-1], True]
    step = np.diff(q, axis=0, prepend=q[:1])
    step[first] = q[first]
    keep = ~last  # drop each ring's closing vertex
    starts = np.flatnonzero(first[keep])
    rings_kept = ring_of[keep]
    current_poly = -1
    chunks = np.split(step[keep], starts[1:]) if len(starts) else []
    for k, chunk in enumerate(chunks):
        r = int(rings_kept[starts[k]])
        p = int(ring_poly[r])
        g = int(owner[p])
        if p != current_poly:
            out[g].append([])
            current_poly = p
        out[g][-1].append(chunk.ravel().tolist())
    return out


def attributions(manifest: dict, offline: bool) -> list[str]:
    """The data credits of the map, plain text (HTML-escaped where the page shows them).

    :func:`atlas.present.credits.data_credits`, and a note when the offline map has no basemap (the
    online basemap brings its own OpenStreetMap credit).
    """
    from atlas.present.credits import data_credits

    credits = data_credits(manifest)
    if offline:
        credits.append("no basemap (offline map)")
    return credits


def map_payload(files: MapData, scenario: str, offline: bool) -> dict:
    """Everything the page draws, as one JSON-ready dict (carried once by the page).

    Parameters
    ----------
    files : MapData
        From :func:`map_data`.
    scenario : str
        The scenario the map colours by.
    offline : bool
        Whether the map has no basemap (adds a credit note).

    Returns
    -------
    dict
        study, scenarios, scenario, default_layer, directions, layers, colors, ps (columns),
        fig, cap, env, heat, der, areas and boundary (None, or ``{"tolerance_m", "features"}``
        with features from :func:`encode_polygons`, one per PS for the areas),
        bounds, attribution (HTML, escaped).
    """
    import shapely

    sites = files.sites
    cols, data, values = figure_table(files)
    layers = layer_specs(files, scenario, values)
    default = next(
        (
            lay["key"]
            for lay in layers
            if lay["scenario"] == scenario and lay["direction"] == "p_up"
        ),
        next(lay["key"] for lay in layers if lay["scenario"] == scenario),
    )
    kinds, env = envelope_payload(files)
    areas = boundary = None
    tolerance = SIMPLIFY_TOLERANCE_M
    if files.areas is not None:
        drawn = ~shapely.is_empty(files.areas)
        tolerance = simplify_tolerance(files.areas[drawn])
        simple = files.areas.copy()
        simple[drawn] = simplify_polygons(files.areas[drawn], tolerance, True)
        shapes = encode_polygons(simple)
        areas = {"tolerance_m": round(tolerance, 1), "features": shapes}
    if files.boundary is not None:
        shapes = encode_polygons(simplify_polygons(files.boundary, tolerance, False))
        boundary = {"tolerance_m": round(tolerance, 1), "features": shapes}
    extent = [g[~shapely.is_empty(g)] for g in (files.areas, files.boundary) if g is not None]
    if extent:
        x0, y0, x1, y1 = shapely.total_bounds(np.concatenate(extent))
    else:
        x0, x1 = np.nanmin(sites["lon"]), np.nanmax(sites["lon"])
        y0, y1 = np.nanmin(sites["lat"]), np.nanmax(sites["lat"])
    study = files.manifest.get("study", {}) or {}
    return {
        "atlas_version": __version__,
        "study": {
            "name": str(study.get("name", "") or ""),
            "year": study.get("year"),
            "description": str(study.get("description", "") or ""),
        },
        "scenarios": files.scenarios,
        "scenario": scenario,
        "default_layer": default,
        "directions": {
            d: {
                "label": DIRECTION_TEXT[d][0],
                "short": DIRECTION_TEXT[d][1],
                "text": DIRECTION_TEXT[d][2],
                "unit": unit,
            }
            for d, (_, unit) in DIRECTIONS.items()
        },
        "layers": layers,
        "colors": list(COLORS),
        "heat_colors": list(HEAT_COLORS),
        "meets_color": MEETS_COLOR,
        "no_data_color": NO_DATA_COLOR,
        "ps": {
            "id": sites["ps_id"].tolist(),
            "name": sites["name"].tolist(),
            "lat": _finite_list(sites["lat"], COORD_DECIMALS),
            "lon": _finite_list(sites["lon"], COORD_DECIMALS),
            "mva": _finite_list(sites["rated_mva"], 1),
            "km2": _finite_list(sites["area_km2"], 2),
            "ders": _finite_list(sites["ders"], 0),
        },
        "fig": {"cols": cols, "data": data},
        "cap": capacity_payload(files),
        "env": {"kinds": kinds, "grid": ENVELOPE_GRID, "data": env},
        "heat": {
            "scenario": scenario,
            "levels": HEAT_LEVELS,
            "codes": _HEAT_CODES,
            "data": heatmap_payload(files, scenario),
        },
        "der": der_payload(files, scenario),
        "areas": areas,
        "boundary": boundary,
        "bounds": [[float(y0), float(x0)], [float(y1), float(x1)]],
        "coord_decimals": COORD_DECIMALS,
        "label_max": LABEL_MAX,
        "attribution": " | ".join(html.escape(c) for c in attributions(files.manifest, offline)),
    } | _basis(files.manifest)


def _basis(manifest: dict) -> dict:
    """``{"basis": text}`` for the legend when the screening of some PS is on their
    network-aware figures (``--figures-basis network``), else nothing."""
    if manifest.get("settings", {}).get("figures_basis") != "network":
        return {}
    ps = list((manifest.get("network") or {}).get("ps", {}))
    if not ps:
        return {}
    shown = ", ".join(ps[:5]) + (" ..." if len(ps) > 5 else "")
    return {"basis": f"network-aware figures for {len(ps)} PS with an MV network ({shown})"}


def script_json(obj) -> str:
    """JSON safe to place inside a ``<script>`` element.

    ``<``, ``>``, ``&`` and the line separators U+2028/U+2029 are written as ``\\u``-escapes
    escapes (valid JSON, the same string once parsed), so no text can close the element
    (``</script>``) or open a comment; NaN is refused.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, rep)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# ---------------------------------------------------------------------------------------------
# The page: Folium elements
# ---------------------------------------------------------------------------------------------


def _elements():
    """The Folium element classes (imported lazily: folium is only needed for the map)."""
    from branca.element import MacroElement
    from folium.map import Layer
    from jinja2 import Template

    class AtlasCore(MacroElement):
        """Parses the page's data and sets up the shared state (``atlasInit``)."""

        _template = Template(
            """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = atlasInit({{ this._parent.get_name() }}, {{ this.data_id|tojson }});
{% endmacro %}"""
        )

        def __init__(self, data_id: str):
            super().__init__()
            self._name = "AtlasCore"
            self.data_id = data_id

    class AtlasLayer(Layer):
        """A Leaflet layer made by the core: ``core.<factory>(arg)``."""

        _template = Template(
            """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = {{ this.core.get_name() }}.{{ this.factory }}({{ this.arg|tojson }});
{% endmacro %}"""
        )

        def __init__(self, core, factory: str, arg, name: str, overlay: bool, show: bool):
            super().__init__(name=name, overlay=overlay, control=True, show=show)
            self._name = "AtlasLayer"
            self.core, self.factory, self.arg = core, factory, arg

    class AtlasControls(MacroElement):
        """The legend, the metric switch and the title box (after the layer control)."""

        _template = Template(
            """{% macro script(this, kwargs) %}
{{ this.core.get_name() }}.addControls();
{% endmacro %}"""
        )

        def __init__(self, core):
            super().__init__()
            self._name = "AtlasControls"
            self.core = core

    return AtlasCore, AtlasLayer, AtlasControls


def _layer_name(layer: dict, directions: dict) -> str:
    """The layer control's label (HTML: the scenario names escaped)."""
    d = directions[layer["direction"]]
    what = html.escape(layer["scenario"])
    if "base" in layer:  # short: the control stays narrow (the legend names the base)
        what = f"{what} gain"
    return f'{what} · {d["label"]} <span class="atlas-unit">[{layer["unit"]}]</span>'


def page_code() -> tuple[str, str]:
    """The page's own stylesheet and script, shipped beside this module (``atlas/present/_web``)."""
    folder = Path(__file__).parent / "_web"
    return (
        (folder / "atlas_map.css").read_text(encoding="utf-8"),
        (folder / "atlas_map.js").read_text(encoding="utf-8"),
    )


def build_map(run: Run, scenario: str | None = None, offline: bool = False) -> folium.Map:
    """The interactive map of a run.

    Parameters
    ----------
    run : atlas.runfolder.Run
        The run (its screening, statistics, envelopes, capacities, geodata and manifest).
    scenario : str, optional
        The scenario to colour by; default the last of ``run.json["scenarios"]``.
    offline : bool
        Inline Leaflet, Leaflet.markercluster and their CSS from the installed XStatic
        packages and draw no basemap, so the single file works without a network; otherwise
        load them from a CDN over a light (greyed OpenStreetMap) basemap, with a note that
        stays in view when Leaflet could not load (no network) and names ``--offline``.

    Returns
    -------
    folium.Map

    Raises
    ------
    AtlasInputError
        A scenario that the run does not have.
    """
    import folium
    from branca.element import Element, Figure

    files, chosen = map_data(run, scenario)
    payload = map_payload(files, chosen, offline)
    AtlasCore, AtlasLayer, AtlasControls = _elements()

    (y0, x0), (y1, x1) = payload["bounds"]
    m = folium.Map(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=12,
        tiles=None,
        font_size="12px",
        maxZoom=19,  # Leaflet option (folium gives max_zoom to a tile layer only)
        zoomSnap=0.25,
        control_scale=True,
    )
    m.default_js = []  # the assets come from asset_tags(), once, CDN or inlined
    m.default_css = []
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium.Map makes its Figure
    name = payload["study"]["name"] or "study"
    root.title = html.escape(f"Flexibility atlas: {name} ({chosen})")
    root.header.add_child(Element(asset_tags(offline)), name="atlas_assets")
    css, js = page_code()
    root.header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"), name="atlas")
    root.html.add_child(
        Element(f'<script type="application/json" id="atlas-data">{script_json(payload)}</script>'),
        name="atlas_data",
    )
    if not offline:
        folium.TileLayer(BASEMAP, control=False, className="atlas-basemap").add_to(m)
        # shown until the page's script finds Leaflet (atlas_map.js): without a network
        # the page would otherwise stay blank
        root.html.add_child(
            Element(
                '<div id="atlas-offline-note" class="atlas-offline-note" role="alert">'
                "<b>This map needs a network connection.</b> Leaflet (the map library) and "
                "the basemap are loaded from the web, and they could not be loaded. "
                "<code>atlas map RUN_DIR --offline</code> builds a map that opens without one."
                "</div>"
            ),
            name="atlas_offline_note",
        )
    core = AtlasCore("atlas-data")
    m.add_child(core)
    for layer in payload["layers"]:
        m.add_child(
            AtlasLayer(
                core,
                "choropleth",
                layer["key"],
                _layer_name(layer, payload["directions"]),
                overlay=False,
                show=layer["key"] == payload["default_layer"],
            )
        )
    if payload["boundary"] is not None:
        m.add_child(AtlasLayer(core, "boundaryLayer", None, "Study boundary", True, True))
    m.add_child(AtlasLayer(core, "siteLayer", None, "Primary substations", True, True))
    for d in payload["der"]:
        count = f"{d['n']:,}" if d["shown"] == d["n"] else f"largest {d['shown']:,} of {d['n']:,}"
        label = (
            f'<span class="atlas-dot" style="background:{d["color"]}"></span>'
            f"DERs: {html.escape(d['label'])} ({count}, {d['mw']:,.1f} MW)"
        )
        m.add_child(AtlasLayer(core, "derLayer", d["tech"], label, True, False))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(AtlasControls(core))
    # the study is fitted into view by addControls (atlas_map.js), without an animation
    m.atlas_offline = offline  # type: ignore[attr-defined]  # our mark, read by render_map's check
    return m


#: What an offline page must not contain: a script, stylesheet or CSS resource on the web.
_EXTERNAL = re.compile(
    r"<script[^>]*\ssrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link[^>]*\shref\s*=\s*[\"']?(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//"
    r"|@import\s+[\"']?(?:url\()?\s*[\"']?(?:https?:)?//",
    re.I,
)


def _stable_ids(root) -> None:
    """Number the page's elements in tree order instead of branca's random ids, so the same
    run gives the same bytes (branca keys its children by a name made from the id, so the
    keys are rebuilt too)."""
    from collections import OrderedDict

    count = 0

    def visit(element) -> None:
        nonlocal count
        element._id = f"{count:032x}"
        count += 1
        children = list(element._children.values())
        for child in children:
            visit(child)
        element._children = OrderedDict((child.get_name(), child) for child in children)

    visit(root)


def render_map(m: folium.Map) -> str:
    """The map's HTML; for an offline map, checked to load nothing from the network.

    Raises
    ------
    RuntimeError
        An offline map whose HTML still links a script, stylesheet or CSS resource on the
        web (a Folium element that brought its own CDN asset).
    """
    _stable_ids(m.get_root())
    text = m.get_root().render()
    if getattr(m, "atlas_offline", False):
        hit = _EXTERNAL.search(text)
        if hit:
            raise RuntimeError(f"the offline map links a web resource: {hit.group(0)!r}")
    return text


def write_map(run: Run, folder: Path, scenario: str | None = None, offline: bool = False) -> Path:
    """Build the map of a run and write it to ``folder / "map.html"`` atomically.

    ``folder`` is where the run is being saved (a staging folder, see
    :class:`atlas.runfolder.Staging`); the other parameters are those of :func:`build_map`.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from atlas.files import write_text_atomic

    text = render_map(build_map(run, scenario, offline))
    return write_text_atomic(Path(folder) / "map.html", text)
