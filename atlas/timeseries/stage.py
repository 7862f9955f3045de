"""The profile stage: each substation's hourly per-unit profiles and EV charging power.

Called by :func:`atlas.pipeline.load_inputs`; every function works on its own too, from a
notebook.
"""

from __future__ import annotations

from pathlib import Path

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
    PolynomialProfile,
    PvDefaultProfile,
    PvPvgisProfile,
    PvTmyProfile,
    Study,
)
from atlas.inputs.tables import read_ev, read_profile
from atlas.inputs.timeaxis import N_HOURS
from atlas.timeseries.ev import allocate_energy, charging_power, local_day_types, read_ev_shapes
from atlas.timeseries.pv import PvSystem, pv_clearsky, pv_pvgis, pv_tmy, read_tmy
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
    m = study.model
    profiles = {}
    for tech in CAPACITY_TECHNOLOGIES:
        spec = getattr(m.profiles, tech)
        if isinstance(spec, FileProfile):
            profiles[tech] = read_profile(files[f"profiles.{tech}.file"])
        elif tech == "pv":
            pv_lat, pv_lon = pv_sites(geo)
            profiles[tech] = pv_profiles(study, spec, files, axis, pv_lat, pv_lon)
        elif isinstance(spec, PolynomialProfile):
            profiles[tech] = polynomial_profile(spec.coefficients)
        elif tech == "biomass":
            profiles[tech] = biomass_profile(axis, study.timezone)
        else:
            profiles[tech] = polynomial_profile(default_coefficients()[tech])
    return profiles


def ev_power(
    study: Study, files: dict[str, Path], axis: pd.DatetimeIndex, ps_ids: list[str], geo: GeoStage
) -> dict[str, np.ndarray]:
    """EV charging power per scenario, PS and location, as ``[profiles.ev]`` says.

    Returns ``{scenario: (n_ps, 4, 8760)}`` (zeros without EV charging). [MW]
    """
    spec = study.model.profiles.ev
    if isinstance(spec, FileProfile):
        return read_ev(files["profiles.ev.file"], study.scenarios, ps_ids, study.year)
    if isinstance(spec, EvShapesProfile):
        return ev_from_shapes(study, files, axis, ps_ids, geo)
    return {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in study.scenarios}


def pv_profiles(
    study: Study,
    spec: PvDefaultProfile | PvTmyProfile | PvPvgisProfile,
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
) -> dict[str, np.ndarray]:
    """EV charging power per scenario from the shipped (or given) daily shapes.

    Each scenario's city-wide energy (``profiles.ev.energy_mwh``) is split by location and
    allocated to the substations by their charging points in the register, or by a
    ``ps_id,weight`` table; returns ``{scenario: (n_ps, 4, 8760)}``. [MW]
    """
    spec = study.model.profiles.ev
    assert isinstance(spec, EvShapesProfile)  # ev_power calls this for shapes only
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


def ev_summary(
    scenarios: list[str],
    ps_ids: list[str],
    ev_mw: dict[str, np.ndarray],
    ev_points: pd.DataFrame | None,
) -> pd.DataFrame:
    """Charging points and yearly EV charging energy per scenario and PS.

    Parameters
    ----------
    ev_mw : dict
        ``{scenario: (n_ps, 4, 8760)}`` charging power. [MW]
    ev_points : pandas.DataFrame or None
        The register's charging points (scenario, ps_id, points), if any.

    Returns
    -------
    pandas.DataFrame
        scenario, ps_id, charging_points, energy_mwh (the power summed over the hours of
        one hour each). [MWh]
    """
    points = pd.Series(dtype=float)
    if ev_points is not None and len(ev_points):
        points = ev_points.groupby(["scenario", "ps_id"])["points"].sum()
    rows = []
    for s in scenarios:
        energy = ev_mw[s].sum(axis=(1, 2))
        for k, ps_id in enumerate(ps_ids):
            rows.append((s, ps_id, int(points.get((s, ps_id), 0)), float(energy[k])))
    return pd.DataFrame(rows, columns=["scenario", "ps_id", "charging_points", "energy_mwh"])
