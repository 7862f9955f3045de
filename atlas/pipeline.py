"""One study, end to end: the Python API behind ``atlas run``.

>>> from atlas.pipeline import load_inputs, run  # doctest: +SKIP
>>> inputs = load_inputs("study.toml")
>>> result = run(inputs)
>>> result.hourly.head()  # one row per scenario, PS, hour
>>> verts = ps_deviation_polygons(inputs, "2030", "SUD")  # (8760, n_vertices, 2)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from atlas.conventions import (
    CAPACITY_TECHNOLOGIES,
    EV_LOCATIONS,
    FIGURES,
    TECHNOLOGIES,
    TECHNOLOGY_NAMES,
)
from atlas.engine.capability import (
    CapabilityParams,
    DerSpec,
    default_parameters,
    override_parameters,
)
from atlas.engine.envelope import (
    DerGroup,
    aggregate_figures,
    cloud_hulls,
    hours_over_rating,
    ps_envelope_vertices,
    ps_flexibility,
    yearly_envelope_pruned,
)
from atlas.errors import AtlasInputError
from atlas.geo.join import GeoStage, build_geodata
from atlas.geo.layers import WGS84
from atlas.inputs.study import (
    EvShapesProfile,
    FileProfile,
    PolynomialProfile,
    PvDefaultProfile,
    PvPlane,
    PvPvgisProfile,
    PvTmyProfile,
    Study,
    load_study,
)
from atlas.inputs.tables import read_capacity, read_ev, read_load, read_profile
from atlas.inputs.timeaxis import N_HOURS, hourly_axis
from atlas.timeseries.ev import allocate_energy, charging_power, local_day_types, read_ev_shapes
from atlas.timeseries.pv import (
    DEFAULT_TMY,
    PVGIS_ATTRIBUTION,
    PvSystem,
    pv_clearsky,
    pv_pvgis,
    pv_tmy,
    read_tmy,
    sun_above_horizon,
)
from atlas.timeseries.seasonal import biomass_profile, default_coefficients, polynomial_profile


@dataclass
class StudyInputs:
    """Everything a study reads, validated and on the study's hourly axis.

    Attributes
    ----------
    study : Study
    axis : pandas.DatetimeIndex
        8760 UTC stamps.
    substations : pandas.DataFrame
        ps_id, name, lat, lon, rated_mva.
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw.
    load : numpy.ndarray
        (n_ps, 8760, 2) measured PS point (P, Q), load convention. [MW, Mvar]
    profiles : dict of numpy.ndarray
        Per-unit profile of pv, chp, hydro, biomass: (8760,) shared by every PS, or
        (n_ps, 8760) one per PS site (PV from a TMY). [-]
    ev_mw : dict of numpy.ndarray
        ``{scenario: (n_ps, 4, 8760)}`` EV charging power by location. [MW]
    parameters : dict
        ``{(technology, level): CapabilityParams}`` after study-file overrides.
    v2g_locations : frozenset of str
    v2g_share : dict of numpy.ndarray
        ``{scenario: (n_ps, 4)}`` share of each PS and location's charging that is V2G:
        1 or 0 by location, unless the register's charging points say otherwise. [-]
    geo : GeoStage
        Service areas and the DER join (see :mod:`atlas.geo.join`).
    timings_s : dict
        Seconds spent reading. [s]
    """

    study: Study
    axis: pd.DatetimeIndex
    substations: pd.DataFrame
    capacity: pd.DataFrame
    load: np.ndarray
    profiles: dict[str, np.ndarray]
    ev_mw: dict[str, np.ndarray]
    parameters: dict[tuple[str, str], CapabilityParams]
    v2g_locations: frozenset[str]
    v2g_share: dict[str, np.ndarray]
    geo: GeoStage
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ps_ids(self) -> list[str]:
        return list(self.substations["ps_id"])

    def ps_index(self, ps_id: str) -> int:
        try:
            return self.ps_ids.index(ps_id)
        except ValueError:
            raise KeyError(f"unknown ps_id {ps_id!r}") from None


def load_inputs(study: Study | str | Path) -> StudyInputs:
    """Read and check every input of a study.

    Parameters
    ----------
    study : Study or path
        A validated study or the path of its TOML file.

    Returns
    -------
    StudyInputs

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    t0 = time.perf_counter()
    m = study.model
    files = study.input_files()
    axis = hourly_axis(study.year)
    geo = build_geodata(study, files)
    sites = geo.sites.to_crs(WGS84)
    substations = pd.DataFrame(
        {
            "ps_id": sites["ps_id"].to_numpy(),
            "name": sites["name"].to_numpy(),
            "lat": sites.geometry.y.to_numpy(),
            "lon": sites.geometry.x.to_numpy(),
            "rated_mva": sites["rated_mva"].to_numpy(),
        }
    )
    ps_ids = list(substations["ps_id"])
    pv_lat, pv_lon = pv_sites(geo)
    if geo.capacity is not None:
        capacity = geo.capacity
    else:
        capacity = read_capacity(files["inputs.capacity"], study.scenarios, ps_ids)
    load = read_load(files["inputs.load"], study.year, ps_ids, m.inputs.load_year)
    profiles = {}
    for tech in CAPACITY_TECHNOLOGIES:
        spec = getattr(m.profiles, tech)
        if isinstance(spec, FileProfile):
            profiles[tech] = read_profile(files[f"profiles.{tech}.file"])
        elif tech == "pv":
            profiles[tech] = pv_profiles(study, spec, files, axis, pv_lat, pv_lon)
        elif isinstance(spec, PolynomialProfile):
            profiles[tech] = polynomial_profile(spec.coefficients)
        elif tech == "biomass":
            profiles[tech] = biomass_profile(axis, study.timezone)
        else:
            profiles[tech] = polynomial_profile(default_coefficients()[tech])
    if isinstance(m.profiles.ev, FileProfile):
        ev_mw = read_ev(files["profiles.ev.file"], study.scenarios, ps_ids, study.year)
    elif isinstance(m.profiles.ev, EvShapesProfile):
        ev_mw = ev_from_shapes(study, files, axis, ps_ids, geo)
    else:
        ev_mw = {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in study.scenarios}
    parameters = override_parameters(default_parameters(), study.capability_overrides(), study.path)
    v2g_locations = frozenset(m.ev.v2g_locations)
    v2g_share = v2g_shares(study.scenarios, ps_ids, v2g_locations, geo.ev_points)
    return StudyInputs(
        study=study,
        axis=axis,
        substations=substations,
        capacity=capacity,
        load=load,
        profiles=profiles,
        ev_mw=ev_mw,
        parameters=parameters,
        v2g_locations=v2g_locations,
        v2g_share=v2g_share,
        geo=geo,
        timings_s={"read": time.perf_counter() - t0},
    )


def pv_profiles(
    study: Study,
    spec: PvPlane,
    files: dict[str, Path],
    axis: pd.DatetimeIndex,
    pv_lat: np.ndarray,
    pv_lon: np.ndarray,
) -> np.ndarray:
    """PV per unit of AC rating from a pvlib source, summed over its mix of planes.

    Returns (n_ps, 8760), one per service area. [-]
    """
    tmy = None
    if isinstance(spec, PvTmyProfile | PvDefaultProfile):
        tmy = read_tmy(files.get("profiles.pv.file"))
    total = 0.0
    for share, tilt, azimuth in spec.planes():
        system = PvSystem(tilt, azimuth, spec.system_losses, spec.dc_ac_ratio)
        if isinstance(spec, PvPvgisProfile):
            cache = study.resolve(spec.cache_dir) if spec.cache_dir is not None else None
            one = pv_pvgis(
                pv_lat, pv_lon, system, spec.start_year, spec.end_year, cache, spec.cache_distance_m
            )
        elif isinstance(spec, PvTmyProfile):
            one = pv_tmy(axis, pv_lat, pv_lon, tmy, system)
        else:
            turbidity = spec.turbidity
            if isinstance(turbidity, list):
                turbidity = np.asarray(turbidity, dtype=float)
            one = pv_clearsky(axis, pv_lat, pv_lon, system, turbidity, tmy)
        total = total + share * one
    return total


def pv_sites(geo: GeoStage) -> tuple[np.ndarray, np.ndarray]:
    """Where each PS's PV is computed: its service area's centroid, else its site. [deg]

    The centroid is taken in the metric CRS (an empty area falls back to the PS site).
    """
    sites = geo.sites.geometry.to_numpy()
    if geo.areas is not None:
        import shapely

        areas = geo.areas.set_index("ps_id").loc[list(geo.sites["ps_id"])].geometry.to_numpy()
        centroids = shapely.centroid(areas)
        sites = np.where(shapely.is_empty(areas), sites, centroids)
    ll = gpd.GeoSeries(sites, crs=geo.crs).to_crs(WGS84)
    return ll.y.to_numpy(), ll.x.to_numpy()


def ev_from_shapes(
    study: Study, files: dict, axis: pd.DatetimeIndex, ps_ids: list[str], geo: GeoStage
) -> dict[str, np.ndarray]:
    """EV charging power per scenario from the shipped (or given) daily shapes.

    Each scenario's city-wide energy (``profiles.ev.energy_mwh``) is split by location and
    allocated to the substations by their charging points in the register, or by a
    ``ps_id,weight`` table; returns ``{scenario: (n_ps, 4, 8760)}``. [MW]
    """
    spec = study.model.profiles.ev
    shapes = read_ev_shapes(files.get("profiles.ev.shapes"))
    hour, working = local_day_types(axis, study.timezone, spec.country, spec.subdiv)
    if spec.allocate == "table":
        path = files["profiles.ev.weights"]
        table = pd.read_csv(path, dtype={"ps_id": str})
        if not {"ps_id", "weight"} <= set(table.columns):
            raise AtlasInputError(path, "header", "expected columns ps_id and weight", line=1)
        w = (
            table.set_index("ps_id")["weight"]
            .astype(float)
            .reindex(ps_ids, fill_value=0.0)
            .to_numpy()
        )
    out = {}
    for scenario in study.scenarios:
        if spec.allocate == "charging_points":
            pts = geo.ev_points[geo.ev_points["scenario"] == scenario]
            table = pts.pivot_table(
                index="ps_id", columns="location", values="points", aggfunc="sum"
            )
            weights = table.reindex(index=ps_ids, columns=list(EV_LOCATIONS)).fillna(0.0).to_numpy()
        else:
            weights = np.repeat(w[:, None], len(EV_LOCATIONS), axis=1)
        total = spec.energy_mwh.get(scenario, 0.0)
        if total == 0:
            out[scenario] = np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS))
            continue
        try:
            energy = allocate_energy(total, spec.location_shares, weights)
        except ValueError as exc:
            raise AtlasInputError(study.path, "profiles.ev", f"{scenario}: {exc}") from None
        out[scenario] = charging_power(energy, hour, working, shapes)
    return out


def v2g_shares(
    scenarios: list[str],
    ps_ids: list[str],
    v2g_locations: frozenset[str],
    ev_points: pd.DataFrame | None,
) -> dict[str, np.ndarray]:
    """Share of each PS and location's EV charging that is V2G-capable, per scenario.

    By default 1 for the V2G locations and 0 for the others; where the register has
    charging points at a PS and location, the capacity share of those flagged V2G (a flag
    overriding the location's default). Returns ``{scenario: (n_ps, 4)}``. [-]
    """
    default = np.array([loc in v2g_locations for loc in EV_LOCATIONS], dtype=float)
    out = {s: np.tile(default, (len(ps_ids), 1)) for s in scenarios}
    if ev_points is not None and len(ev_points):
        ps_index = {p: k for k, p in enumerate(ps_ids)}
        loc_index = {loc: j for j, loc in enumerate(EV_LOCATIONS)}
        for row in ev_points.itertuples(index=False):
            out[row.scenario][ps_index[row.ps_id], loc_index[row.location]] = row.v2g_share
    return out


def der_specs(inputs: StudyInputs, scenario: str, ps_id: str) -> list[DerSpec]:
    """The DER groups under one PS in one scenario, as inputs to build their sets from.

    Rows of one technology whose parameter sets are scale copies (e.g. MV and LV with the
    same grid-code limits) form one group whose Sn is the sum of theirs; EV chargers form at
    most two groups, V2G (a disc) and charge-only (a segment), each with the summed charging
    power of its locations. Sums of such sets are exact (METHOD.md, aggregation). Groups with
    no capacity or no charging are left out.
    """
    k = inputs.ps_index(ps_id)
    cap = inputs.capacity
    rows = cap[(cap["scenario"] == scenario) & (cap["ps_id"] == ps_id) & (cap["capacity_mw"] > 0)]
    specs: list[DerSpec] = []
    for tech in CAPACITY_TECHNOLOGIES:
        tech_rows = rows[rows["technology"] == tech]
        merged: dict[tuple, tuple[CapabilityParams, float]] = {}
        for level, sn in zip(tech_rows["level"], tech_rows["capacity_mw"], strict=True):
            params = inputs.parameters[(tech, level)]
            first, total = merged.get(params.shape_key(), (params, 0.0))
            merged[params.shape_key()] = (first, total + float(sn))
        for params, sn in merged.values():
            profile = inputs.profiles[tech]
            series = profile[k] if profile.ndim == 2 else profile  # one per PS, or shared
            specs.append(DerSpec(tech, f"{tech}/{params.level}", "box_disc", series, sn, params))
    ev = inputs.ev_mw[scenario][k]  # (n_locations, n_hours)
    share = inputs.v2g_share[scenario][k]  # (n_locations,)
    for weight, kind in ((share, "ev_v2g"), (1.0 - share, "ev_charge")):
        d = weight @ ev
        if np.any(d > 0):
            specs.append(DerSpec("ev", kind.replace("_", "/"), kind, d))
    return specs


def der_groups(
    inputs: StudyInputs, scenario: str, ps_id: str, with_vertices: bool = True
) -> list[DerGroup]:
    """The DER groups of :func:`der_specs` with their sets over all hours."""
    return [
        DerGroup(s.technology, s.label, s.sets(with_vertices=with_vertices))
        for s in der_specs(inputs, scenario, ps_id)
    ]


def ps_deviation_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly aggregated deviation polygons E(t) of one PS, generator convention.

    Returns
    -------
    numpy.ndarray
        (8760, n_vertices, 2), counter-clockwise (dp, dq) vertices. [MW, Mvar]
        See :func:`atlas.engine.envelope.hourly_polygons` for shapely geometries.
    """
    groups = der_groups(inputs, scenario, ps_id)
    return ps_flexibility(groups, N_HOURS).vertices


def ps_envelope_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly PS envelopes ``x(t) - E(t)`` in load convention, (8760, n_vertices, 2)."""
    return ps_envelope_vertices(
        inputs.load[inputs.ps_index(ps_id)], ps_deviation_polygons(inputs, scenario, ps_id)
    )


@dataclass
class RunResult:
    """What a run produces.

    Attributes
    ----------
    hourly : pandas.DataFrame
        One row per scenario, ps_id and hour: scenario, ps_id (str), time (UTC), p_mw,
        q_mvar (PS point, load convention), the four figures, ``{figure}_{tech}`` and
        ``over_rating`` (bool: a point of the hour's PS envelope beyond ``rated_mva``) and
        ``daylight`` (bool: the sun above the horizon at the PS site mid-hour).
    envelopes : pandas.DataFrame
        scenario, ps_id, kind (``year``, ``cloud_convex``, ``cloud_concave``), geometry
        (shapely, P-Q plane, x = P [MW], y = Q [Mvar], load convention).
    timings_s : dict
        Seconds per stage. [s]
    """

    hourly: pd.DataFrame
    envelopes: pd.DataFrame
    timings_s: dict[str, float]


#: Output columns of the hourly figures, in table order.
FIGURE_COLUMNS: list[str] = list(FIGURES) + [
    f"{fig}_{tech}" for fig in FIGURES for tech in TECHNOLOGIES
]


def compute_ps(
    inputs: StudyInputs, k: int
) -> tuple[np.ndarray, list[tuple[str, str, str, BaseGeometry]], np.ndarray]:
    """Figures, envelopes and transformer headroom of the k-th PS in every scenario.

    Returns
    -------
    values : numpy.ndarray
        (n_scenarios, len(FIGURE_COLUMNS), 8760), generator convention. [MW, Mvar]
    envelopes : list of (scenario, ps_id, kind, geometry)
        The yearly envelope per scenario and the as-is cloud hulls (first scenario).
    over_rating : numpy.ndarray
        (n_scenarios, 8760) bool: a point of the hour's PS envelope beyond the PS's
        ``rated_mva`` (:func:`atlas.engine.envelope.hours_over_rating`; False where no rating).
    """
    ps_id = inputs.ps_ids[k]
    point = inputs.load[k]
    rated = float(inputs.substations["rated_mva"].iloc[k])
    scenarios = inputs.study.scenarios
    values = np.empty((len(scenarios), len(FIGURE_COLUMNS), N_HOURS))
    over = np.zeros((len(scenarios), N_HOURS), dtype=bool)
    envelopes = []
    for s, scenario in enumerate(scenarios):
        specs = der_specs(inputs, scenario, ps_id)
        sets = [spec.sets(with_vertices=False) for spec in specs]
        groups = [
            DerGroup(spec.technology, spec.label, st) for spec, st in zip(specs, sets, strict=True)
        ]
        figures, by_tech = aggregate_figures(groups, N_HOURS)
        merged = figures | by_tech
        for c, name in enumerate(FIGURE_COLUMNS):
            values[s, c] = merged[name]
        envelopes.append((scenario, ps_id, "year", yearly_envelope_pruned(point, specs, sets)))
        over[s] = hours_over_rating(point, specs, sets, rated)
    for kind, geom in cloud_hulls(point, inputs.study.model.envelope.concave_ratio).items():
        envelopes.append((scenarios[0], ps_id, kind, geom))
    return values, envelopes, over


#: Fewest substations per worker process when the number of workers is automatic.
MIN_PS_PER_WORKER = 4

_WORKER_INPUTS: StudyInputs | None = None


_WORKER_LIMITS = None


def _init_worker(inputs: StudyInputs) -> None:
    """Give a worker process the inputs and one BLAS thread (the processes share the cores)."""
    from threadpoolctl import threadpool_limits

    global _WORKER_INPUTS, _WORKER_LIMITS
    _WORKER_INPUTS = inputs
    _WORKER_LIMITS = threadpool_limits(limits=1)


def _compute_in_worker(k: int):
    return k, *compute_ps(_WORKER_INPUTS, k)


def run(inputs: StudyInputs, progress: bool = False, workers: int | None = 1) -> RunResult:
    """Compute the hourly flexibility and the envelopes of every PS and scenario.

    Parameters
    ----------
    inputs : StudyInputs
    progress : bool, default False
        Show a progress bar over substations (after the first second).
    workers : int or None, default 1
        Processes to spread the substations over; None for one per CPU (in-process for
        fewer than ``2 * MIN_PS_PER_WORKER`` substations). Results do not depend on it.

    Returns
    -------
    RunResult
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    scenarios = inputs.study.scenarios
    ps_ids = inputs.ps_ids
    n_ps, n_sc = len(ps_ids), len(scenarios)
    values = np.empty((n_sc, len(FIGURE_COLUMNS), n_ps, N_HOURS))
    over = np.zeros((n_sc, n_ps, N_HOURS), dtype=bool)
    per_ps: dict[int, list] = {}
    if workers is None:  # one per CPU, unless the study is too small to repay the start-up
        workers = (
            1
            if n_ps < MIN_PS_PER_WORKER * 2
            else min(os.cpu_count() or 1, n_ps // MIN_PS_PER_WORKER)
        )
    workers = max(1, min(workers, n_ps))
    bar = tqdm(total=n_ps, desc="substations", unit="PS", disable=not progress, delay=1.0)
    if workers == 1:
        results = ((k, *compute_ps(inputs, k)) for k in range(n_ps))
        pool = None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(
            workers,
            multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(inputs,),
        )
        results = pool.map(_compute_in_worker, range(n_ps), chunksize=max(1, n_ps // (4 * workers)))
    try:
        for k, ps_values, ps_envelopes, ps_over in results:
            values[:, :, k, :] = ps_values
            over[:, k, :] = ps_over
            per_ps[k] = ps_envelopes
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    t1 = time.perf_counter()
    envelopes = [row for k in range(n_ps) for row in per_ps[k]]
    daylight = sun_above_horizon(  # (n_ps, 8760), at the PS site
        inputs.axis, inputs.substations["lat"].to_numpy(), inputs.substations["lon"].to_numpy()
    )
    hourly = pd.DataFrame(
        {
            "scenario": pd.array(
                np.repeat(np.array(scenarios, dtype=object), n_ps * N_HOURS), dtype="string"
            ),
            "ps_id": pd.array(
                np.tile(np.repeat(np.array(ps_ids, dtype=object), N_HOURS), n_sc), dtype="string"
            ),
            "time": pd.DatetimeIndex(
                np.tile(inputs.axis.tz_convert(None).to_numpy(), n_sc * n_ps)
            ).tz_localize("UTC"),
            "p_mw": np.tile(inputs.load[..., 0].ravel(), n_sc),
            "q_mvar": np.tile(inputs.load[..., 1].ravel(), n_sc),
            **{c: values[:, j].ravel() for j, c in enumerate(FIGURE_COLUMNS)},
            "over_rating": over.ravel(),
            "daylight": np.tile(daylight.ravel(), n_sc),
        }
    )
    env = pd.DataFrame(envelopes, columns=["scenario", "ps_id", "kind", "geometry"])
    timings = dict(inputs.timings_s, compute=t1 - t0, table=time.perf_counter() - t1)
    return RunResult(hourly=hourly, envelopes=env, timings_s=timings)


def technology_views(inputs: StudyInputs, ps_id: str) -> list:
    """Each technology at one PS for its figure (paper Fig. 3-6): capability sets and the
    PS's yearly envelope with that technology alone, per scenario.

    Returns
    -------
    list of atlas.present.report.TechView
        PV, CHP, biomass and hydro with their capability sets in p.u. of Sn at three
        operating points (p0 = 1, 0.6, 0.2); EV with its V2G disc and charge-only segment at
        the PS's peak charging power, in MW. Technologies absent in every scenario are left
        out.
    """
    from atlas.engine.capability import box_disc_set, ev_set
    from atlas.present.report import TechView

    k = inputs.ps_index(ps_id)
    point = inputs.load[k]
    scenarios = inputs.study.scenarios
    specs = {s: der_specs(inputs, s, ps_id) for s in scenarios}
    views = []
    for tech in TECHNOLOGIES:
        per = {s: [x for x in specs[s] if x.technology == tech] for s in scenarios}
        present = [x for s in scenarios for x in per[s]]
        if not present:
            continue
        envelopes = {s: yearly_envelope_pruned(point, per[s]) for s in scenarios if per[s]}
        curves = []
        if tech == "ev":
            for spec in {x.kind: x for x in present}.values():
                d = float(np.max(spec.series))
                dev = ev_set(np.array([d]), v2g=spec.kind == "ev_v2g").vertices[0]
                what = "V2G disc" if spec.kind == "ev_v2g" else "charge only (adds load)"
                curves.append((f"{what}, at the peak charging {d:.2f} MW", dev, (0.0, 0.0)))
            unit = "MW"
        else:
            params = present[0].params
            for p0 in (1.0, 0.6, 0.2):
                dev = box_disc_set(params, 1.0, np.array([p0])).vertices[0]
                curves.append((f"set at p0 = {p0:g} p.u.", dev + np.array([p0, 0.0]), (p0, 0.0)))

            unit = "p.u. of Sn"
        views.append(TechView(TECHNOLOGY_NAMES[tech], curves, unit, envelopes, tech))
    return views


def write_run(
    study: Study | str | Path,
    out_dir: str | Path,
    formats: tuple[str, ...] = ("parquet",),
    progress: bool = False,
    workers: int | None = 1,
    figures: str = "summary",
    figures_for: list[str] | None = None,
    webmap: str = "online",
) -> list[Path]:
    """Run a study and write all its outputs under ``out_dir``, each file replaced atomically.

    Writes ``flexibility_hourly.parquet`` (and ``.csv`` with ``"csv"`` in ``formats``),
    ``envelopes.csv``, the geodata outputs, ``statistics.parquet``, ``screening.csv`` (with
    the study's ``[screening]`` settings), the figures of ``figures`` level (``none``,
    ``summary``, ``all``; for the PS in ``figures_for``, default all) under ``figures/``,
    ``report.html``, ``run.json`` and ``map.html`` (``webmap``: ``online``, Leaflet from a
    CDN over a basemap; ``offline``, everything inlined and no basemap; ``none``), see
    :func:`atlas.present.webmap.write_map`.

    Returns
    -------
    list of pathlib.Path
        The files written (figures counted in run.json, not listed).
    """
    from atlas.analysis.stats import DIRECTIONS, hourly_arrays, screening, statistics
    from atlas.files import (
        manifest,
        write_atomic,
        write_envelopes,
        write_hourly,
        write_manifest,
        write_text_atomic,
    )
    from atlas.present.report import RunFigureData, data_credits, report_html, start_figures

    inputs = load_inputs(study)
    study = inputs.study
    ps_ids = inputs.ps_ids
    if figures_for is not None:
        unknown = [p for p in figures_for if p not in ps_ids]
        if unknown:
            raise AtlasInputError(
                None, "--figures-for", f"unknown ps_id {unknown[0]!r}, expected one of the study's"
            )
    result = run(inputs, progress=progress, workers=workers)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    cfg = study.model.screening
    names = dict(zip(ps_ids, inputs.substations["name"].astype(str), strict=True))
    rated = dict(zip(ps_ids, inputs.substations["rated_mva"].astype(float), strict=True))
    arrays = hourly_arrays(result.hourly)
    job = None
    if figures != "none":
        data = RunFigureData(
            arrays=arrays,
            load=inputs.load,
            timezone=study.timezone,
            envelopes={
                (r.scenario, r.ps_id, r.kind): r.geometry
                for r in result.envelopes.itertuples(index=False)
            },
            thresholds={
                d: (cfg.threshold_mw if unit == "MW" else cfg.threshold_mvar, unit)
                for d, (_, unit) in DIRECTIONS.items()
            },
            sample_day=cfg.sample_day,
            names=names,
            rated_mva=rated,
        )
        chosen = figures_for if figures_for is not None else ps_ids
        if figures == "all":
            data.tech_views = {p: technology_views(inputs, p) for p in chosen}
        # drawn in worker processes while this one writes the tables
        job = start_figures(data, out_dir, figures, chosen, workers or (os.cpu_count() or 1))
    written = write_hourly(result.hourly, out_dir, tuple({"parquet", *formats}))
    written.append(write_envelopes(result.envelopes, out_dir))
    written += write_geodata(inputs.geo, inputs.capacity, study.scenarios, out_dir)
    t1 = time.perf_counter()
    stats = statistics(arrays, study.timezone, cfg.threshold_mw, cfg.threshold_mvar)
    table = screening(arrays, names, cfg.threshold_mw, cfg.threshold_mvar, cfg.availability, rated)
    written.append(
        write_atomic(out_dir / "statistics.parquet", lambda p: stats.to_parquet(p, index=False))
    )
    written.append(
        write_atomic(
            out_dir / "screening.csv", lambda p: table.to_csv(p, index=False, float_format="%.6g")
        )
    )
    t2 = time.perf_counter()
    pngs = job.wait() if job is not None else {}
    t3 = time.perf_counter()
    data_json = manifest(study, study.input_files(), inputs.parameters, {}, written)
    data_json["summary"] = geodata_summary(study, inputs.geo)
    data_json["settings"]["figures"] = figures
    data_json["settings"]["map"] = webmap
    data_json["figures_written"] = sum(len(v) for v in pngs.values())
    page = report_html(
        study.name,
        study.model.study.description,
        table,
        stats[stats["month"].isna()],
        pngs,
        out_dir,
        study.scenarios[-1],
        data_credits(data_json),
    )
    written.append(write_text_atomic(out_dir / "report.html", page))
    data_json["outputs"] = [p.name for p in written]
    data_json["timings_s"] = {
        k: round(v, 4)
        for k, v in dict(
            result.timings_s,
            write=t1 - t0,
            statistics=t2 - t1,
            figures_wait=t3 - t2,
            report=time.perf_counter() - t3,
        ).items()
    }
    write_manifest(data_json, out_dir)  # the map reads the run's manifest
    if webmap != "none":
        from atlas.present.webmap import write_map

        t4 = time.perf_counter()
        written.append(write_map(out_dir, offline=webmap == "offline"))
        data_json["timings_s"]["map"] = round(time.perf_counter() - t4, 4)
        data_json["outputs"] = [p.name for p in written]
    written.append(write_manifest(data_json, out_dir))
    return written


def write_geodata(
    geo: GeoStage, capacity: pd.DataFrame, scenarios: list[str], out_dir: str | Path
) -> list[Path]:
    """Write the geodata stage's outputs: ``capacity_by_ps.csv``, ``service_areas.geojson``
    (when there are areas), ``boundary.geojson`` (when given) and, with a DER register,
    ``der_register.csv`` and ``unassigned_ders.csv`` (written even when empty)."""
    from atlas.files import (
        service_area_table,
        write_boundary,
        write_capacity_table,
        write_register,
        write_service_areas,
        write_unassigned,
    )

    out_dir = Path(out_dir)
    written = [write_capacity_table(capacity, out_dir)]
    if geo.areas is not None:
        written.append(write_service_areas(service_area_table(geo, capacity, scenarios), out_dir))
    if geo.boundary is not None:
        written.append(write_boundary(geo.boundary, geo.crs, out_dir))
    if geo.register is not None:
        written.append(write_register(geo.register, out_dir))
        written.append(write_unassigned(geo.unassigned(), out_dir))
    return written


def build_areas(study: Study | str | Path) -> tuple[Study, GeoStage, pd.DataFrame]:
    """The geodata stage alone: service areas, the DER join and the capacity table.

    Returns
    -------
    study, geo, capacity
        The capacity table comes from the register (and growth) or the capacity file.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    files = study.input_files()
    geo = build_geodata(study, files)
    if geo.capacity is not None:
        return study, geo, geo.capacity
    capacity = read_capacity(files["inputs.capacity"], study.scenarios, list(geo.sites["ps_id"]))
    return study, geo, capacity


def write_areas(study: Study | str | Path, out_dir: str | Path) -> tuple[list[Path], dict]:
    """Run the geodata stage and write its outputs (the API behind ``atlas areas``).

    Returns
    -------
    written : list of pathlib.Path
    summary : dict
        As :func:`geodata_summary`.
    """
    study, geo, capacity = build_areas(study)
    written = write_geodata(geo, capacity, study.scenarios, out_dir)
    return written, geodata_summary(study, geo)


def geodata_summary(study: Study, geo: GeoStage) -> dict:
    """Counts of the geodata stage for ``run.json`` and the command line."""
    if geo.areas is None:
        kind = "none"
    else:
        kind = "voronoi" if geo.voronoi else "given"
    summary = {
        "substations": len(geo.sites),
        "service_areas": kind,
        "metric_crs": geo.crs.to_string(),
        "slivers_resolved": geo.report.slivers_resolved,
        "sliver_area_m2": round(geo.report.sliver_area_m2, 6),
        "empty_areas": geo.report.empty_areas,
    }
    summary.update(geo.summary)
    return summary


def export_profiles(study: Study | str | Path, out_dir: str | Path) -> list[Path]:
    """Write the hourly profiles each PS uses (the API behind ``atlas profiles export``).

    ``profiles_{ps_id}.csv``: ``#`` metadata lines (units, sources, parameters), then
    ``time`` (UTC), ``ps_id``, ``technology``, ``pu`` for pv, chp, hydro, biomass;
    ``ev_{ps_id}.csv`` (an id that is not a safe file name is made one,
    :func:`atlas.files.safe_names`) (when the study has EV charging): ``scenario, time, ps_id, location,
    p_mw``; and ``profile_{technology}.png``, a year of each technology at the first PS.
    """
    from atlas.files import safe_names, write_atomic
    from atlas.present.figures import plot_profile_year

    inputs = load_inputs(study)
    out_dir = Path(out_dir)
    names = safe_names(inputs.ps_ids)
    m = inputs.study.model
    stamps = inputs.axis.strftime("%Y-%m-%dT%H:%M:%SZ")
    header = [
        f"# atlas profiles of study {inputs.study.name!r} ({inputs.study.path.name}), year {inputs.study.year}",
        "# time: hour start, UTC; pu: output per unit of installed capacity (PV: of the AC rating), generator convention",
    ]
    for tech in CAPACITY_TECHNOLOGIES:
        header.append(f"# {tech}: {getattr(m.profiles, tech).model_dump_json()}")
    pv_spec = m.profiles.pv
    if isinstance(pv_spec, PvTmyProfile | PvDefaultProfile):
        weather = pv_spec.file.name if pv_spec.file is not None else DEFAULT_TMY
        if pv_spec.file is None:
            weather += f" (shipped; {PVGIS_ATTRIBUTION})"
        header.append(f"# pv weather: {weather}")
    elif isinstance(pv_spec, PvPvgisProfile):
        header.append(f"# pv weather: PVGIS hourly PV, online ({PVGIS_ATTRIBUTION})")
    written = []
    for k, ps_id in enumerate(inputs.ps_ids):
        frames = []
        for tech in CAPACITY_TECHNOLOGIES:
            prof = inputs.profiles[tech]
            series = prof[k] if prof.ndim == 2 else prof
            frames.append(
                pd.DataFrame({"time": stamps, "ps_id": ps_id, "technology": tech, "pu": series})
            )
        table = pd.concat(frames, ignore_index=True)
        text = (
            "\n".join(header)
            + "\n"
            + table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
        )
        written.append(
            write_atomic(
                out_dir / f"profiles_{names[ps_id]}.csv",
                lambda p, t=text: p.write_text(t, encoding="utf-8"),
            )
        )
        ev_rows = []
        for scenario in inputs.study.scenarios:
            ev = inputs.ev_mw[scenario][k]
            for j, loc in enumerate(EV_LOCATIONS):
                if ev[j].any():
                    ev_rows.append(
                        pd.DataFrame(
                            {
                                "scenario": scenario,
                                "time": stamps,
                                "ps_id": ps_id,
                                "location": loc,
                                "p_mw": ev[j],
                            }
                        )
                    )
        if ev_rows:
            ev_text = f"# EV charging power of {ps_id} [MW], hour start UTC; {m.profiles.ev.model_dump_json()}\n"
            ev_text += pd.concat(ev_rows).to_csv(
                index=False, float_format="%.6g", lineterminator="\n"
            )
            written.append(
                write_atomic(
                    out_dir / f"ev_{names[ps_id]}.csv",
                    lambda p, t=ev_text: p.write_text(t, encoding="utf-8"),
                )
            )
    first = inputs.ps_ids[0]
    for tech in CAPACITY_TECHNOLOGIES:
        prof = inputs.profiles[tech]
        series = prof[0] if prof.ndim == 2 else prof
        title = f"{tech} at {first} ({getattr(m.profiles, tech).source}), {series.sum():.0f} full-load hours"
        written.append(
            write_atomic(
                out_dir / f"profile_{tech}.png",
                lambda p, s=series, t=title, tech=tech: plot_profile_year(
                    inputs.axis, s, tech, t, p
                ),
            )
        )
    return written
