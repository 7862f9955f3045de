"""The profile stage: each substation's hourly per-unit profiles and EV charging power.

Called by :func:`atlas.pipeline.load_inputs`; every function works on its own too, from a
notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS
from atlas.errors import AtlasInputError
from atlas.geo.join import GeoStage
from atlas.geo.layers import WGS84
from atlas.inputs.study import (
    EvShapesProfile,
    FileProfile,
    NoProfile,
    PolynomialProfile,
    PvDefaultProfile,
    PvPvgisProfile,
    PvTmyProfile,
    Study,
)
from atlas.inputs.tables import read_bess_schedule, read_ev, read_profile, read_weights
from atlas.inputs.timeaxis import N_HOURS, hourly_axis
from atlas.timeseries.ev import allocate_energy, charging_power, local_day_types, read_ev_shapes
from atlas.timeseries.pv import PvSystem, Tmy, pv_clearsky, pv_pvgis, pv_tmy, read_tmy
from atlas.timeseries.seasonal import biomass_profile, default_coefficients, polynomial_profile


def technology_profiles(
    study: Study, files: dict[str, Path], axis: pd.DatetimeIndex, geo: GeoStage
) -> dict[str, np.ndarray]:
    """Per-unit profiles of pv, chp, hydro and biomass as the study's ``[profiles]`` say.

    Returns
    -------
    dict of numpy.ndarray
        ``{technology: (8760,)}`` shared by every PS, or ``(n_ps, 8760)`` one per PS (PV
        from pvlib, at each service area's centroid, :func:`pv_sites`). [-]
    """
    shared, per_ps = technology_sources(study, files, axis, geo)
    return shared | {tech: src.take(slice(None)) for tech, src in per_ps.items()}


def technology_sources(
    study: Study,
    files: dict[str, Path],
    axis: pd.DatetimeIndex,
    geo: GeoStage,
    tmy: Tmy | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, PerPs]]:
    """The profiles shared by every PS, and those computed per PS on demand.

    ``tmy``, the study's TMY if already read (:func:`study_tmy`), is read here otherwise.

    Returns
    -------
    shared : dict
        ``{technology: (8760,)}``. [-]
    per_ps : dict
        ``{technology: source}`` whose ``take(index)`` gives ``(len(index), 8760)``: PV from
        pvlib at each service area (computed for the PS asked, so a chunk of PS needs only
        its own rows), or PVGIS's series (downloaded whole, kept in memory). [-]
    """
    m = study.model
    shared: dict[str, np.ndarray] = {}
    per_ps: dict[str, PerPs] = {}
    bess = m.profiles.bess
    if bess.source == "file":  # per-unit schedules, shared or one per PS
        ps_ids = [str(p) for p in geo.sites["ps_id"]]
        schedule = read_bess_schedule(files["profiles.bess.file"], ps_ids, study.year)
        if schedule.ndim == 1:
            shared["bess"] = schedule
        else:
            per_ps["bess"] = InMemory(schedule)
    else:  # idle: every battery held at its initial charge for flexibility
        shared["bess"] = np.zeros(len(axis))
    for tech in CAPACITY_TECHNOLOGIES:
        spec = getattr(m.profiles, tech)
        if isinstance(spec, FileProfile):
            shared[tech] = read_profile(files[f"profiles.{tech}.file"])
        elif tech == "wind":  # no built-in wind profile: a study with wind gives a file
            shared[tech] = np.zeros(len(axis))
        elif tech == "pv":
            pv_lat, pv_lon = pv_sites(geo)
            source = PvSource(study, spec, files, pv_lat, pv_lon, tmy)
            per_ps[tech] = InMemory(source.take(slice(None))) if source.online else source
        elif isinstance(spec, PolynomialProfile):
            shared[tech] = polynomial_profile(spec.coefficients)
        elif tech == "biomass":
            shared[tech] = biomass_profile(axis, study.timezone)
        else:
            shared[tech] = polynomial_profile(default_coefficients()[tech])
    return shared, per_ps


def check_profiled(study: Study, capacity: pd.DataFrame, source: Path) -> None:
    """Refuse capacity of a technology whose profile is ``none`` (wind, by default).

    Parameters
    ----------
    study : Study
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw. [MW]
    source : pathlib.Path
        The file the capacity came from (the register, or the capacity table).

    Raises
    ------
    AtlasInputError
        Naming the first PS and scenario with such capacity, and the setting that gives the
        profile.
    """
    for tech in CAPACITY_TECHNOLOGIES:
        if not isinstance(getattr(study.model.profiles, tech), NoProfile):
            continue
        rows = capacity[(capacity["technology"] == tech) & (capacity["capacity_mw"] > 0)]
        if len(rows):
            first = rows.iloc[0]
            raise AtlasInputError(
                source,
                "technology",
                f"{tech} capacity ({float(first['capacity_mw']):g} MW under PS "
                f"{first['ps_id']!r} in scenario {first['scenario']!r}) without a {tech} "
                f'profile, expected [profiles.{tech}] source = "file" in the study file (a '
                "CSV of 8760 per-unit values, column pu: the atlas ships no built-in one)",
            )


def check_batteries(
    study: Study,
    capacity: pd.DataFrame,
    shared: dict[str, np.ndarray],
    per_ps: dict[str, PerPs],
    ps_ids: list[str],
    source: Path,
) -> None:
    """Refuse a battery schedule that empties or overfills a battery, before any chunk runs.

    Parameters
    ----------
    study : Study
    capacity : pandas.DataFrame
        With ``energy_mwh`` on bess rows. [MW], [MWh]
    shared, per_ps : dict
        The profiles of :func:`technology_sources` (``bess``: per-unit schedules).
    ps_ids : list of str
    source : pathlib.Path
        The file the batteries came from (for a message about the schedule, the schedule's
        file is named instead, when there is one).

    Raises
    ------
    AtlasInputError
        Naming the PS, the scenario, the battery group and the first hour (UTC).
    """
    from atlas.engine.capability import EnergyLimitError, battery_groups, bess_energy
    from atlas.inputs.timeaxis import hourly_axis

    rows = capacity[(capacity["technology"] == "bess") & (capacity["capacity_mw"] > 0)]
    if rows.empty:
        return
    spec = study.model.profiles.bess
    files = study.input_files()
    where = files.get("profiles.bess.file", study.path)
    position = {p: k for k, p in enumerate(ps_ids)}
    energy = rows["energy_mwh"] if "energy_mwh" in rows else pd.Series(np.nan, index=rows.index)
    table = rows.assign(energy_mwh=energy)
    for (scenario, ps_id), group in table.groupby(["scenario", "ps_id"], sort=False):
        k = position[ps_id]
        pu = shared["bess"] if "bess" in shared else per_ps["bess"].take([k])[0]
        pairs = list(zip(group["capacity_mw"], group["energy_mwh"], strict=True))
        for sn, e_max in battery_groups([(float(a), float(b)) for a, b in pairs]):
            try:
                bess_energy(pu * sn, e_max, spec.e_init, spec.eta_charge, spec.eta_discharge)
            except EnergyLimitError as exc:
                stamp = hourly_axis(study.year)[exc.hour].strftime("%Y-%m-%dT%H:%M:%SZ")
                raise AtlasInputError(
                    where,
                    f"ps_id {ps_id!r}, scenario {scenario!r}",
                    f"the schedule of its {sn:g} MW / {e_max:g} MWh battery takes the state "
                    f"of energy to {exc.energy_mwh:.6g} MWh by the end of the hour starting "
                    f"{stamp}, "
                    + ("below 0 (empty)" if exc.energy_mwh < 0 else f"above {e_max:g} MWh (full)")
                    + f", expected a schedule the battery can follow from e_init = "
                    f"{spec.e_init:g} ({source.name} gives the battery)",
                ) from None


def study_tmy(study: Study, files: dict[str, Path]) -> Tmy | None:
    """The TMY a study's PV profile is made from (``[profiles.pv]`` source ``tmy`` or
    ``default``), read; None for other sources."""
    if isinstance(study.model.profiles.pv, PvTmyProfile | PvDefaultProfile):
        return read_tmy(files.get("profiles.pv.file"))
    return None


class PerPs(Protocol):
    """Rows per PS, made or sliced on demand: ``take(index)`` -> ``(len(index), ...)``."""

    def take(self, index) -> np.ndarray: ...

    def subset(self, index) -> PerPs: ...


@dataclass
class InMemory:
    """Rows per PS held in memory (first axis: PS in study order)."""

    array: np.ndarray

    def take(self, index) -> np.ndarray:
        return self.array[index]

    def subset(self, index) -> InMemory:
        """The rows of the PS at ``index`` only (a chunk's share, to send to a worker)."""
        return InMemory(self.array[index])


@dataclass
class PvSource:
    """PV per unit of each PS's service area, computed with pvlib for the PS asked.

    The computation is per site (no site depends on another), so a chunk of PS gets the same
    values as the whole study.
    """

    study: Study
    spec: PvDefaultProfile | PvTmyProfile | PvPvgisProfile
    files: dict[str, Path]
    lat: np.ndarray
    lon: np.ndarray
    #: The TMY of a ``tmy`` or ``default`` source, read once for every chunk.
    tmy: Tmy | None = None

    def __post_init__(self) -> None:
        if self.tmy is None and isinstance(self.spec, PvTmyProfile | PvDefaultProfile):
            self.tmy = read_tmy(self.files.get("profiles.pv.file"))

    @property
    def online(self) -> bool:
        """PVGIS's series: downloaded (or read from the cache) once for every PS."""
        return isinstance(self.spec, PvPvgisProfile)

    def subset(self, index) -> PvSource:
        """The source of the PS at ``index`` only (a chunk's share, to send to a worker)."""
        return replace(self, lat=self.lat[index], lon=self.lon[index])

    def take(self, index) -> np.ndarray:
        axis = hourly_axis(self.study.year)
        return pv_profiles(
            self.study, self.spec, self.files, axis, self.lat[index], self.lon[index], self.tmy
        )


def ev_power(
    study: Study, files: dict[str, Path], axis: pd.DatetimeIndex, ps_ids: list[str], geo: GeoStage
) -> dict[str, np.ndarray]:
    """EV charging power per scenario, PS and location, as ``[profiles.ev]`` says.

    Returns ``{scenario: (n_ps, 4, 8760)}`` (zeros without EV charging). [MW]
    """
    return ev_source(study, files, axis, ps_ids, geo).take(slice(None))


def ev_source(
    study: Study, files: dict[str, Path], axis: pd.DatetimeIndex, ps_ids: list[str], geo: GeoStage
) -> EvSource:
    """EV charging power per scenario, made for the PS asked (:class:`EvSource`)."""
    spec = study.model.profiles.ev
    if isinstance(spec, FileProfile):
        arrays = read_ev(files["profiles.ev.file"], study.scenarios, ps_ids, study.year)
        return EvSource(study.scenarios, len(ps_ids), arrays=arrays)
    if isinstance(spec, EvShapesProfile):
        return ev_from_shapes(study, files, axis, ps_ids, geo)
    return EvSource(study.scenarios, len(ps_ids))


@dataclass
class EvSource:
    """EV charging power per scenario: ``take(index)`` -> ``{scenario: (len(index), 4, 8760)}``.

    From daily shapes (``energy``, the yearly energy per scenario, PS and location [MWh],
    spread over the hours by ``shapes``), from a table read whole (``arrays``) [MW], or none
    (zeros).
    """

    scenarios: list[str]
    n_ps: int
    energy: dict[str, np.ndarray] | None = None
    hour: np.ndarray | None = None
    working: np.ndarray | None = None
    shapes: Any = None
    arrays: dict[str, np.ndarray] | None = None
    #: Scenarios whose charging is another's: ``{what-if scenario: its base}``.
    aliases: dict[str, str] = field(default_factory=dict)

    def subset(self, index) -> EvSource:
        """The source of the PS at ``index`` only (a chunk's share, to send to a worker)."""
        return replace(
            self,
            n_ps=len(np.arange(self.n_ps)[index]),
            energy=None if self.energy is None else {s: e[index] for s, e in self.energy.items()},
            arrays=None if self.arrays is None else {s: a[index] for s, a in self.arrays.items()},
        )

    def take(self, index) -> dict[str, np.ndarray]:
        out = {}
        for s in self.scenarios:
            src = self.aliases.get(s, s)
            if self.arrays is not None:
                out[s] = self.arrays[src][index]
            elif self.energy is not None and src in self.energy:
                assert self.hour is not None and self.working is not None
                out[s] = charging_power(
                    self.energy[src][index], self.hour, self.working, self.shapes
                )
            else:
                n = len(np.arange(self.n_ps)[index])
                out[s] = np.zeros((n, len(EV_LOCATIONS), N_HOURS))
        return out


def pv_profiles(
    study: Study,
    spec: PvDefaultProfile | PvTmyProfile | PvPvgisProfile,
    files: dict[str, Path],
    axis: pd.DatetimeIndex,
    pv_lat: np.ndarray,
    pv_lon: np.ndarray,
    tmy: Tmy | None = None,
) -> np.ndarray:
    """PV per unit of AC rating from a pvlib source, summed over its mix of planes.

    ``tmy`` is the weather of a ``tmy`` or ``default`` source, read here if not given.
    Returns (n_ps, 8760), one per service area. [-]
    """
    if tmy is None and isinstance(spec, PvTmyProfile | PvDefaultProfile):
        tmy = read_tmy(files.get("profiles.pv.file"))
    total: float | np.ndarray = 0.0
    for share, tilt, azimuth in spec.planes():
        system = PvSystem(tilt, azimuth, spec.system_losses, spec.dc_ac_ratio)
        if isinstance(spec, PvPvgisProfile):
            cache = study.resolve(spec.cache_dir) if spec.cache_dir is not None else None
            one = pv_pvgis(
                pv_lat, pv_lon, system, spec.start_year, spec.end_year, cache, spec.cache_distance_m
            )
        elif isinstance(spec, PvTmyProfile):
            assert tmy is not None  # read above for a TMY source
            one = pv_tmy(axis, pv_lat, pv_lon, tmy, system)
        else:
            given = spec.turbidity  # a name, or 12 monthly values
            turbidity = np.asarray(given, dtype=float) if isinstance(given, list) else given
            one = pv_clearsky(axis, pv_lat, pv_lon, system, turbidity, tmy)
        total = total + share * one
    assert isinstance(total, np.ndarray)  # planes() gives at least one plane
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
) -> EvSource:
    """EV charging power per scenario from the shipped (or given) daily shapes.

    Each scenario's city-wide energy (``profiles.ev.energy_mwh``) is split by location and
    allocated to the substations by their charging points in the register, or by a
    ``ps_id,weight`` table; returns the yearly energies and shapes, whose
    :meth:`EvSource.take` gives ``{scenario: (n_ps, 4, 8760)}``. [MW]
    """
    spec = study.model.profiles.ev
    assert isinstance(spec, EvShapesProfile)  # ev_power calls this for shapes only
    shapes = read_ev_shapes(files.get("profiles.ev.shapes"))
    hour, working = local_day_types(axis, study.timezone, spec.country, spec.subdiv)
    if spec.allocate == "table":
        w = read_weights(files["profiles.ev.weights"], ps_ids).to_numpy()
    energies = {}
    for scenario in study.scenarios:
        if spec.allocate == "charging_points":
            assert geo.ev_points is not None  # the study checks 'charging_points' has ders
            pts = geo.ev_points[geo.ev_points["scenario"] == scenario]
            table = pts.pivot_table(
                index="ps_id", columns="location", values="points", aggfunc="sum"
            )
            weights = table.reindex(index=ps_ids, columns=list(EV_LOCATIONS)).fillna(0.0).to_numpy()
        else:
            weights = np.repeat(w[:, None], len(EV_LOCATIONS), axis=1)
        total = spec.energy_mwh.get(scenario, 0.0)
        if total == 0:
            continue  # zeros
        if spec.allocate == "charging_points" and not weights.sum() > 0:
            _no_charging_points(files["inputs.ders"], geo, scenario)
        try:
            energies[scenario] = allocate_energy(total, spec.location_shares, weights)
        except ValueError as exc:
            raise AtlasInputError(study.path, "profiles.ev", f"{scenario}: {exc}") from None
    return EvSource(study.scenarios, len(ps_ids), energies, hour, working, shapes)


def _no_charging_points(path: Path, geo: GeoStage, scenario: str) -> NoReturn:
    """The error of EV energy allocated by charging points when a scenario has none in any
    service area: none in the register, or none of them inside an area."""
    register = geo.register
    assert register is not None  # charging_points needs a register (the study checks)
    is_ev = (register["technology"] == "ev") & register["scenario"].isin(["", scenario])
    expected = (
        f"expected charging points (technology ev) to allocate profiles.ev.energy_mwh of "
        f'{scenario!r}, or [profiles.ev] allocate = "table" with a weights file'
    )
    if not is_ev.any():
        techs = sorted(set(register["technology"]))
        raise AtlasInputError(
            path,
            "technology",
            f"no charging point (technology ev) for scenario {scenario!r} among its "
            f"{len(register)} installations (technologies: {', '.join(techs) or 'none'}); "
            + expected,
        )
    raise AtlasInputError(
        path,
        "technology",
        f"none of its {int(is_ev.sum())} charging points of scenario {scenario!r} lies in a "
        "service area (atlas areas lists them in unassigned_ders.csv); " + expected,
    )


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


def ev_table(
    scenarios: list[str],
    ps_ids: list[str],
    energy_mwh: dict[str, np.ndarray],
    ev_points: pd.DataFrame | None,
) -> pd.DataFrame:
    """Charging points and yearly EV charging energy per scenario and PS.

    Parameters
    ----------
    energy_mwh : dict
        ``{scenario: (n_ps,)}`` yearly charging energy of each PS (the chunks' charging power
        summed over the hours of one hour each). [MWh]
    ev_points : pandas.DataFrame or None
        The register's charging points (scenario, ps_id, points), if any.

    Returns
    -------
    pandas.DataFrame
        scenario, ps_id, charging_points, energy_mwh. [MWh]
    """
    points = pd.Series(dtype=float)
    if ev_points is not None and len(ev_points):
        points = ev_points.groupby(["scenario", "ps_id"])["points"].sum()
    rows = []
    for s in scenarios:
        energy = energy_mwh[s]
        for k, ps_id in enumerate(ps_ids):
            rows.append((s, ps_id, int(points.get((s, ps_id), 0)), float(energy[k])))
    return pd.DataFrame(rows, columns=["scenario", "ps_id", "charging_points", "energy_mwh"])
