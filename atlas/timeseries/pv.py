"""PV profiles with pvlib, per unit of AC rating (docs/profiles.md).

One model chain for every weather source: solar position at the site, plane-of-array
irradiance (Hay-Davies sky diffuse, ground albedo), reflection losses on the beam (physical
IAM), cell temperature (Faiman, PVGIS's model), PVWatts DC power with a temperature
coefficient, system losses, DC/AC ratio and clipping at the AC rating, zero when the sun is
below the horizon. Sources:

``clearsky``
    Ineichen-Perez clear sky with the Linke turbidity climatology shipped with pvlib, by
    default calibrated month by month against the clearest hours of a TMY (the climatology
    is hazier than the satellite record in the Po valley), with the TMY's monthly daytime
    air temperature and 1 m/s wind.
``tmy``
    A typical meteorological year: the shipped PVGIS TMY for 45.0 N 8.0 E (2005-2023), or a
    user file in PVGIS (CSV/JSON), EPW or TMY3 format read with pvlib.iotools. Its 8760
    hours are brought to UTC and re-dated onto the study year by position (29 February
    absent); see :func:`read_tmy` for the time conventions.

Values are per unit of the AC rating, generator convention, one per hour of the study axis,
each evaluated at the middle of its hour (:data:`MID_HOUR_H`), the instant that stands for
the hour's mean; so is the daylight flag (:func:`sun_above_horizon`). Irradiance or PV output
sampled at another instant of the hour (PVGIS: about 0.18 h after its start) is moved to the
middle first (:func:`move_to_mid_hour`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.inputs.timeaxis import N_HOURS, hourly_axis

#: The shipped TMY (PVGIS (c) European Union 2001-2025; see profiles/README.md).
DEFAULT_TMY = "pvgis_tmy_45.000_8.000_2005_2023.csv"
#: Attribution PVGIS data must carry (European Commission reuse policy, Decision 2011/833/EU).
PVGIS_ATTRIBUTION = "PVGIS (c) European Union, 2001-2025"
#: Where in each hour every PV source is evaluated: the middle, standing for the hour's mean
#: (docs/method.md, "One time convention"). [h]
MID_HOUR_H = 0.5


@dataclass(frozen=True)
class PvSystem:
    """Plane and losses of a PV fleet; defaults typical of Milan rooftops (docs/profiles.md).

    Attributes
    ----------
    tilt_deg : float
        Module tilt from horizontal. [deg]
    azimuth_deg : float
        Module azimuth clockwise from north (180 = south). [deg]
    system_losses : float
        Fraction of DC energy lost in cables, mismatch, soiling, inverter (PVGIS's 14 %). [-]
    dc_ac_ratio : float
        DC rating over AC rating; output clipped at the AC rating. [-]
    gamma_pdc : float
        Temperature coefficient of DC power (crystalline silicon). [1/degC]
    albedo : float
        Ground reflectance. [-]
    """

    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0
    system_losses: float = 0.14
    dc_ac_ratio: float = 1.0
    gamma_pdc: float = -0.004
    albedo: float = 0.2


@functools.lru_cache(maxsize=8)
def _geocentric_sun(stamps_ns: bytes) -> tuple[np.ndarray, ...]:
    """The Sun's apparent sidereal time, right ascension, declination and distance at the
    stamps (UTC nanoseconds, as bytes to be hashable), computed once per process for each
    axis: a study's chunks ask for the same axis again and again. Read-only arrays."""
    from pvlib import spa

    ns = np.frombuffer(stamps_ns, dtype=np.int64)
    unixtime = ns.astype(float) / 1e9
    times = pd.DatetimeIndex(ns).tz_localize("UTC")
    delta_t = spa.calculate_deltat(times.year.to_numpy(), times.month.to_numpy())
    args = (0.0, 0.0, 0.0, 101325.0 / 100.0, 12.0, delta_t, 0.5667, 1)
    v, alpha, delta = spa.solar_position_numpy(unixtime, *args, sst=True)
    (radius,) = spa.solar_position_numpy(unixtime, *args, esd=True)
    out = (v, alpha, delta, radius)
    for a in out:
        a.flags.writeable = False
    return out


def solar_position_sites(times: pd.DatetimeIndex, latitudes, longitudes) -> dict[str, np.ndarray]:
    """NREL SPA solar position for many sites at once, shape (n_sites, n_times).

    The Sun's geocentric position depends on time only: it is computed once (pvlib's SPA),
    and only the site-dependent steps (hour angle, parallax, refraction, angles) run on the
    (site, time) grid. Same defaults as ``pvlib.solarposition.get_solarposition``: elevation
    0 m, 101325 Pa, 12 degC, refraction 0.5667 deg.

    Returns
    -------
    dict of numpy.ndarray
        ``apparent_zenith``, ``zenith``, ``apparent_elevation``, ``elevation``, ``azimuth``
        (clockwise from north). [deg]
    """
    from pvlib import spa

    v, alpha, delta, radius = _geocentric_sun(
        np.asarray(times.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64).tobytes()
    )
    lat = np.asarray(latitudes, dtype=float)[:, None]  # (n_sites, 1)
    lon = np.asarray(longitudes, dtype=float)[:, None]
    hour_angle = spa.local_hour_angle(v[None, :], lon, alpha[None, :])
    xi = spa.equatorial_horizontal_parallax(radius)[None, :]
    u = spa.uterm(lat)
    x = spa.xterm(u, lat, 0.0)
    y = spa.yterm(u, lat, 0.0)
    d_alpha = spa.parallax_sun_right_ascension(x, xi, hour_angle, delta[None, :])
    d_prime = spa.topocentric_sun_declination(delta[None, :], x, y, xi, d_alpha, hour_angle)
    h_prime = spa.topocentric_local_hour_angle(hour_angle, d_alpha)
    e0 = spa.topocentric_elevation_angle_without_atmosphere(lat, d_prime, h_prime)
    e = spa.topocentric_elevation_angle(
        e0, spa.atmospheric_refraction_correction(1013.25, 12.0, e0, 0.5667)
    )
    azimuth = spa.topocentric_azimuth_angle(
        spa.topocentric_astronomers_azimuth(h_prime, d_prime, lat)
    )
    return {
        "apparent_zenith": spa.topocentric_zenith_angle(e),
        "zenith": spa.topocentric_zenith_angle(e0),
        "apparent_elevation": e,
        "elevation": e0,
        "azimuth": azimuth,
    }


def sun_above_horizon(axis: pd.DatetimeIndex, latitudes, longitudes) -> np.ndarray:
    """Whether the sun is above the horizon in the middle of each hour, at many sites.

    Parameters
    ----------
    axis : pandas.DatetimeIndex
        Hour starts, (n_hours,).
    latitudes, longitudes : array_like
        Sites, (n_sites,). [deg]

    Returns
    -------
    numpy.ndarray
        (n_sites, n_hours) bool: apparent (refracted) sun elevation above 0 deg at the hour's
        middle, as an observer at the site sees it.
    """
    times = axis + pd.Timedelta(minutes=30)
    return solar_position_sites(times, latitudes, longitudes)["apparent_elevation"] > 0.0


def pv_power_pu(
    times: pd.DatetimeIndex,
    solpos: dict[str, np.ndarray],
    ghi: np.ndarray,
    dni: np.ndarray,
    dhi: np.ndarray,
    temp_air: np.ndarray,
    wind_speed: np.ndarray,
    system: PvSystem = PvSystem(),
) -> np.ndarray:
    """AC power per unit of AC rating from irradiance and weather, for one or many sites.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        Instants (tz-aware) at which the irradiance is valid, (n_times,).
    solpos : dict of numpy.ndarray
        Solar position at those instants (:func:`solar_position_sites`), each
        (n_sites, n_times) or (n_times,). [deg]
    ghi, dni, dhi : numpy.ndarray
        Global horizontal, direct normal and diffuse horizontal irradiance, (n_times,) or
        broadcastable to the solar position. [W/m2]
    temp_air : numpy.ndarray
        Air temperature. [degC]
    wind_speed : numpy.ndarray
        Wind speed. [m/s]
    system : PvSystem

    Returns
    -------
    numpy.ndarray
        Shaped like the solar position, in [0, 1], zero when the sun is below the horizon.
    """
    import pvlib

    zenith, azimuth = solpos["apparent_zenith"], solpos["azimuth"]
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=system.tilt_deg,
        surface_azimuth=system.azimuth_deg,
        solar_zenith=zenith,
        solar_azimuth=azimuth,
        dni=np.asarray(dni, dtype=float),
        ghi=np.asarray(ghi, dtype=float),
        dhi=np.asarray(dhi, dtype=float),
        dni_extra=dni_extra,
        albedo=system.albedo,
        model="haydavies",
    )
    aoi = pvlib.irradiance.aoi(system.tilt_deg, system.azimuth_deg, zenith, azimuth)
    iam = np.nan_to_num(np.asarray(pvlib.iam.physical(aoi), dtype=float))
    effective = np.nan_to_num(
        np.asarray(poa["poa_direct"], dtype=float) * iam
        + np.asarray(poa["poa_diffuse"], dtype=float)
    )
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    temp_cell = pvlib.temperature.faiman(
        poa_global, np.asarray(temp_air, dtype=float), np.asarray(wind_speed, dtype=float)
    )
    pdc = pvlib.pvsystem.pvwatts_dc(effective, temp_cell, pdc0=1.0, gamma_pdc=system.gamma_pdc)
    pu = np.asarray(pdc, dtype=float) * (1.0 - system.system_losses) * system.dc_ac_ratio
    pu = np.where(solpos["elevation"] > 0.0, pu, 0.0)
    return np.clip(np.nan_to_num(pu), 0.0, 1.0)


#: Day of year (non-leap) at the middle of each month, where a monthly climatology is pinned
#: before linear interpolation to days (as pvlib interpolates its Linke turbidity).
_MID_MONTH_DOY = np.array(
    [16.0, 45.5, 75.0, 105.5, 136.0, 166.5, 197.0, 228.0, 258.5, 289.0, 319.5, 350.0]
)


def linke_turbidity_climatology(latitudes, longitudes) -> np.ndarray:
    """Monthly Linke turbidity of the climatology shipped with pvlib, at many sites.

    The grid of pvlib's ``LinkeTurbidities.h5`` (Remund et al., 2003; 5 arc-minute cells,
    stored as 20 x TL) is read once for all sites, as
    ``pvlib.clearsky.lookup_linke_turbidity`` does for one.

    Parameters
    ----------
    latitudes, longitudes : array_like
        Sites, (n_sites,). [deg]

    Returns
    -------
    numpy.ndarray
        (n_sites, 12), January to December, at air mass 2. [-]
    """
    import h5py
    import pvlib

    lat = np.atleast_1d(np.asarray(latitudes, dtype=float))
    lon = np.atleast_1d(np.asarray(longitudes, dtype=float))
    path = Path(pvlib.__file__).parent / "data" / "LinkeTurbidities.h5"
    with h5py.File(path, "r") as h5:
        grid = h5["LinkeTurbidity"]  # (2160, 4320, 12): rows 90 N -> 90 S, columns 180 W -> E
        n_rows, n_cols = grid.shape[:2]
        rows = np.clip(np.floor((90.0 - lat) * n_rows / 180.0), 0, n_rows - 1).astype(int)
        cols = np.clip(np.floor((lon + 180.0) * n_cols / 360.0), 0, n_cols - 1).astype(int)
        cells, inverse = np.unique(np.stack([rows, cols], axis=1), axis=0, return_inverse=True)
        values = np.array([grid[r, c, :] for r, c in cells], dtype=float) / 20.0
    return values[np.ravel(inverse)]


def daily_from_monthly(times: pd.DatetimeIndex, monthly: np.ndarray) -> np.ndarray:
    """Interpolate monthly values (pinned mid-month) linearly to each instant's UTC day.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        (n_times,).
    monthly : numpy.ndarray
        (..., 12), January to December.

    Returns
    -------
    numpy.ndarray
        (..., n_times); the year wraps (December's value leads into January's).
    """
    monthly = np.asarray(monthly, dtype=float)
    doy = np.asarray(times.tz_convert("UTC").day_of_year, dtype=float)
    x = np.concatenate([[_MID_MONTH_DOY[-1] - 365.0], _MID_MONTH_DOY, [_MID_MONTH_DOY[0] + 365.0]])
    ext = np.concatenate([monthly[..., -1:], monthly, monthly[..., :1]], axis=-1)
    # linear interpolation on a fixed grid, vectorised over the leading axes
    k = np.clip(np.searchsorted(x, doy, side="right") - 1, 0, len(x) - 2)
    w = (doy - x[k]) / (x[k + 1] - x[k])
    return ext[..., k] * (1.0 - w) + ext[..., k + 1] * w


def _ineichen_constants(altitude_m):
    """fh1, fh2, cg1, cg2 of Ineichen and Perez (2002) for an altitude. [-]"""
    altitude_m = np.asarray(altitude_m, dtype=float)
    return (
        np.exp(-altitude_m / 8000.0),
        np.exp(-altitude_m / 1250.0),
        5.09e-05 * altitude_m + 0.868,
        3.92e-05 * altitude_m + 0.0387,
    )


def _absolute_airmass(apparent_zenith, altitude_m):
    import pvlib

    relative = pvlib.atmosphere.get_relative_airmass(apparent_zenith)
    pressure = pvlib.atmosphere.alt2pres(np.asarray(altitude_m, dtype=float))
    return np.asarray(pvlib.atmosphere.get_absolute_airmass(relative, pressure), dtype=float)


#: Sun elevation above which a TMY hour is used to retrieve the turbidity. [deg]
TURBIDITY_MIN_ELEVATION_DEG = 15.0
#: Share of each month's hours taken as its clearest, whose turbidity is the month's. [-]
TURBIDITY_CLEAR_QUANTILE = 0.05


def linke_turbidity_from_tmy(
    tmy: Tmy,
    quantile: float = TURBIDITY_CLEAR_QUANTILE,
    min_elevation_deg: float = TURBIDITY_MIN_ELEVATION_DEG,
) -> np.ndarray:
    """Monthly Linke turbidity of a TMY's clearest hours, by inverting Ineichen's GHI.

    For each hour with the sun above ``min_elevation_deg`` at the TMY's site, the Linke
    turbidity TL that makes Ineichen's clear-sky GHI (Perez enhancement on) equal the TMY's
    GHI is solved in closed form:
    ``TL = 1 + (-ln(GHI / (cg1 I0 cos(z) exp(0.01 AM^1.8))) / (cg2 AM) - fh1) / fh2``.
    A cloudy hour gives a large TL; the month's value is the ``quantile`` of its hours
    (the clearest 5 % by default).

    Parameters
    ----------
    tmy : Tmy
    quantile : float, default 0.05
        Which low quantile of the hourly values is the month's clear sky. [-]
    min_elevation_deg : float, default 15
        Lower sun elevations are left out (air mass and horizon effects). [deg]

    Returns
    -------
    numpy.ndarray
        (12,), January to December. [-]

    References
    ----------
    Ineichen, P., Perez, R. (2002). A new airmass independent formulation for the Linke
    turbidity coefficient. Solar Energy 73(3), 151-157.
    """
    import pvlib

    from atlas.inputs.timeaxis import hourly_axis

    axis = hourly_axis(2030)  # any non-leap year: the TMY is ordered by position
    times = axis + pd.Timedelta(hours=tmy.time_offset_h)
    solpos = solar_position_sites(times, [tmy.latitude], [tmy.longitude])
    zenith = solpos["apparent_zenith"][0]
    ghi = tmy.data["ghi"].to_numpy(dtype=float)
    use = (solpos["elevation"][0] > min_elevation_deg) & (ghi > 0)
    fh1, fh2, cg1, cg2 = _ineichen_constants(tmy.altitude_m)
    am = _absolute_airmass(zenith, tmy.altitude_m)
    i0 = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ceiling = cg1 * i0 * np.cos(np.radians(zenith)) * np.exp(0.01 * am**1.8)
        tl = 1.0 + (-np.log(ghi / ceiling) / (cg2 * am) - fh1) / fh2
    month = axis.month.to_numpy()
    out = np.empty(12)
    for m in range(1, 13):
        hours = tl[use & (month == m)]
        if len(hours) < 20:
            raise ValueError(f"TMY {tmy.source}: too few sunlit hours in month {m} to retrieve TL")
        out[m - 1] = np.quantile(hours, quantile)
    return out


def tmy_daytime_temperature(tmy: Tmy) -> np.ndarray:
    """Monthly mean air temperature of a TMY over its sunlit hours (GHI > 0). [degC]

    Returns
    -------
    numpy.ndarray
        (12,), January to December.
    """
    from atlas.inputs.timeaxis import hourly_axis

    month = hourly_axis(2030).month.to_numpy()  # the TMY is ordered by position in the year
    sunlit = tmy.data["ghi"].to_numpy() > 0
    temp = tmy.data["temp_air"].to_numpy(dtype=float)
    return np.array([temp[sunlit & (month == m)].mean() for m in range(1, 13)])


def clearsky_ineichen(
    times: pd.DatetimeIndex,
    solpos: dict[str, np.ndarray],
    linke_turbidity: np.ndarray,
    altitude_m,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ineichen-Perez clear-sky GHI, DNI and DHI for many sites at once.

    Parameters
    ----------
    times : pandas.DatetimeIndex
        (n_times,).
    solpos : dict of numpy.ndarray
        (n_sites, n_times) (:func:`solar_position_sites`). [deg]
    linke_turbidity : numpy.ndarray
        (n_sites, n_times). [-]
    altitude_m : array_like
        (n_sites,). [m]

    Returns
    -------
    ghi, dni, dhi : numpy.ndarray
        (n_sites, n_times), zero with the sun below the horizon. [W/m2]
    """
    import pvlib

    altitude = np.asarray(altitude_m, dtype=float).reshape(-1, 1)
    zenith = solpos["apparent_zenith"]
    i0 = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cs = pvlib.clearsky.ineichen(
            zenith,
            _absolute_airmass(zenith, altitude),
            linke_turbidity,
            altitude=altitude,
            dni_extra=i0,
            perez_enhancement=True,
        )
    up = solpos["apparent_elevation"] > 0
    ghi, dni, dhi = (
        np.where(up, np.nan_to_num(np.asarray(cs[k], dtype=float)), 0.0)
        for k in ("ghi", "dni", "dhi")
    )
    return ghi, dni, dhi


def pv_clearsky(
    axis: pd.DatetimeIndex,
    latitudes,
    longitudes,
    system: PvSystem = PvSystem(),
    turbidity: str | np.ndarray = "calibrated",
    tmy: Tmy | None = None,
    altitudes_m=None,
    temp_air=None,
    wind_speed: float = 1.0,
    chunk: int = 128,
) -> np.ndarray:
    """Clear-sky PV output per unit of AC rating on the study axis, at many sites.

    Ineichen-Perez clear sky (pvlib) with the Linke turbidity of:

    - ``"calibrated"`` (default): pvlib's climatology at each site, scaled month by month
      by the ratio of the TMY's clear-hour turbidity (:func:`linke_turbidity_from_tmy`) to
      the climatology at the TMY's site (docs/profiles.md explains why);
    - ``"climatology"``: pvlib's climatology (Remund et al., 2003) as is;
    - an array of 12 monthly values used at every site.

    Parameters
    ----------
    axis : pandas.DatetimeIndex
        The study's hourly UTC axis.
    latitudes, longitudes : array_like
        Sites, (n_sites,). [deg]
    system : PvSystem
    turbidity : {"calibrated", "climatology"} or array_like of 12 floats
    tmy : Tmy, optional
        The year that calibrates the turbidity and gives the air temperature (default the
        shipped PVGIS TMY).
    altitudes_m : array_like, optional
        Site altitudes (default pvlib's ``lookup_altitude``). [m]
    temp_air : float or array_like of (n_times,), optional
        Air temperature for the cell temperature; default the TMY's monthly mean over its
        sunlit hours, interpolated to days (clear winter days are cold, and a constant
        20 degC would cost them about 6 % of output). [degC]
    wind_speed : float, default 1
        [m/s]
    chunk : int, default 128
        Sites computed together.

    Returns
    -------
    numpy.ndarray
        (n_sites, 8760) in [0, 1]. [-]
    """
    import pvlib

    lat = np.atleast_1d(np.asarray(latitudes, dtype=float))
    lon = np.atleast_1d(np.asarray(longitudes, dtype=float))
    if altitudes_m is None:
        altitudes_m = [pvlib.location.lookup_altitude(a, b) for a, b in zip(lat, lon, strict=True)]
    alt = np.atleast_1d(np.asarray(altitudes_m, dtype=float))
    if temp_air is None or (isinstance(turbidity, str) and turbidity == "calibrated"):
        tmy = tmy if tmy is not None else read_tmy()
    times = axis + pd.Timedelta(hours=MID_HOUR_H)  # one convention for every source
    if temp_air is None:
        assert tmy is not None  # read above
        temp_air = daily_from_monthly(times, tmy_daytime_temperature(tmy))
    if isinstance(turbidity, str):
        if turbidity not in ("calibrated", "climatology"):
            raise ValueError(
                f"turbidity {turbidity!r}: expected 'calibrated', 'climatology' or 12 values"
            )
        monthly = linke_turbidity_climatology(lat, lon)  # (n_sites, 12)
        if turbidity == "calibrated":
            assert tmy is not None  # read above
            at_tmy = linke_turbidity_climatology([tmy.latitude], [tmy.longitude])[0]
            monthly = monthly * (linke_turbidity_from_tmy(tmy) / at_tmy)
    else:
        values = np.asarray(turbidity, dtype=float)
        if values.shape != (12,) or not np.all(values >= 1.0):
            raise ValueError("turbidity: expected 12 monthly Linke turbidities >= 1")
        monthly = np.tile(values, (len(lat), 1))
    n = len(times)
    temp = np.broadcast_to(np.asarray(temp_air, dtype=float), (n,))
    wind = np.full(n, float(wind_speed))
    out = np.empty((len(lat), n))
    for start in range(0, len(lat), chunk):
        sl = slice(start, start + chunk)
        solpos = solar_position_sites(times, lat[sl], lon[sl])
        linke = daily_from_monthly(times, monthly[sl])  # (chunk, n_times)
        ghi, dni, dhi = clearsky_ineichen(times, solpos, linke, alt[sl])
        out[sl] = pv_power_pu(times, solpos, ghi, dni, dhi, temp, wind, system)
    return out


@dataclass(frozen=True)
class Tmy:
    """A typical meteorological year on a UTC hourly axis (8760 rows, 29 February absent).

    Attributes
    ----------
    data : pandas.DataFrame
        ghi, dni, dhi [W/m2], temp_air [degC], wind_speed [m/s], in axis order.
    latitude, longitude : float
        Where the TMY was made. [deg]
    time_offset_h : float
        Where in each hour the irradiance is valid (PVGIS: its "irradiance time offset"). [h]
    source : str
    altitude_m : float
        Altitude of the TMY's site. [m]
    """

    data: pd.DataFrame
    latitude: float
    longitude: float
    time_offset_h: float
    source: str
    altitude_m: float = 0.0


def tmy_format(path: Path) -> str:
    """The format of a TMY file, from its first line: ``pvgis``, ``epw`` or ``tmy3``.

    PVGIS CSV starts with ``Latitude (decimal degrees):`` and PVGIS JSON with ``{``; EPW
    with ``LOCATION,``; TMY3 with its station line ``USAF,"name",state,TZ,lat,lon,elev``.
    Anything else is tried as PVGIS (whose reader then says what is wrong).
    """
    import re

    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().lstrip("\ufeff").strip()
    if first.upper().startswith("LOCATION,"):
        return "epw"
    if re.match(r'^\d+,\s*"?[^,]*"?,[^,]*,\s*-?\d+(\.\d*)?,', first):
        return "tmy3"
    return "pvgis"


def read_tmy(path: Path | None = None) -> Tmy:
    """Read a TMY file: PVGIS CSV/JSON, EPW or TMY3 (pvlib.iotools); default the shipped one.

    Every source is brought to one convention: row i is hour i of the year on a UTC axis,
    stamped at the hour's start, with ``time_offset_h`` the instant in the hour at which the
    irradiance is valid. PVGIS stamps hours at their start in UTC and gives its own offset
    (the satellite's instant, 0.18 h for the shipped file). EPW and TMY3 give hourly means
    in local standard time: pvlib stamps EPW hours at their start and TMY3 hours at their
    end; both are moved to their start, and the offset is the middle of the hour (0.5 h).

    Raises
    ------
    AtlasInputError
        Unreadable, or not each hour of a 365-day year once (29 February dropped).
    """
    import pvlib

    from atlas.demo import data_root
    from atlas.errors import AtlasInputError

    path = Path(path) if path is not None else data_root("profiles") / DEFAULT_TMY
    try:
        kind = tmy_format(path)
        if kind == "epw":
            data, meta = pvlib.iotools.read_epw(path)  # stamped at the hour's start
            lat, lon, offset, shift_h = meta["latitude"], meta["longitude"], 0.5, 0
            altitude = meta.get("altitude", 0.0)
        elif kind == "tmy3":
            data, meta = pvlib.iotools.read_tmy3(path, map_variables=True)
            # stamped at the hour's end: moved to its start once re-dated (below)
            lat, lon, offset, shift_h = meta["latitude"], meta["longitude"], 0.5, -1
            altitude = meta.get("altitude", 0.0)
        else:
            data, meta = pvlib.iotools.read_pvgis_tmy(path, map_variables=True)
            inputs = meta["inputs"] if "inputs" in meta else meta
            location = inputs.get("location", inputs)  # JSON nests it, CSV does not
            lat = location["latitude"]
            lon = location["longitude"]
            shift_h = 0
            altitude = location.get("elevation", 0.0)
            offset = float(
                inputs.get("irradiance time offset", meta.get("irradiance time offset", 0.0)) or 0.0
            )
    except AtlasInputError:
        raise
    except Exception as exc:  # pvlib raises various types for malformed files
        raise AtlasInputError(
            path, "", f"cannot be read as a TMY (PVGIS CSV/JSON, EPW, TMY3): {exc}"
        ) from None
    # A TMY stitches months of different years: re-date every row onto one non-leap year in
    # its own time zone first (so that a leap year's February never yields a 29 February),
    # move hour-ending stamps to the hour's start, then convert to UTC and order by
    # position in the year.
    stamps = data.index
    zone = stamps.tz if stamps.tz is not None else "UTC"
    keep = ~((stamps.month == 2) & (stamps.day == 29))
    data, stamps = data[keep], stamps[keep]
    redated = pd.to_datetime(
        pd.DataFrame({"year": 2030, "month": stamps.month, "day": stamps.day, "hour": stamps.hour})
    ) + pd.Timedelta(hours=shift_h)
    utc = pd.DatetimeIndex(redated).tz_localize(zone).tz_convert("UTC")
    key = np.asarray((utc.month * 100 + utc.day) * 100 + utc.hour)
    if len(data) != N_HOURS or len(np.unique(key)) != N_HOURS:
        raise AtlasInputError(
            path,
            "rows",
            f"{len(data)} rows, {len(np.unique(key))} distinct hours of the year, "
            f"expected each of the {N_HOURS} hours once",
        )
    data = data.iloc[np.argsort(key, kind="stable")]
    cols = ["ghi", "dni", "dhi", "temp_air", "wind_speed"]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise AtlasInputError(
            path, "columns", f"missing {missing}, expected irradiance, temperature and wind"
        )
    return Tmy(
        data[cols].reset_index(drop=True).astype(float),
        float(lat),
        float(lon),
        offset,
        str(path.name),
        float(altitude or 0.0),
    )


#: Clear-sky irradiance below which a sample's clear-sky index is not used (the sun at or
#: below the horizon, or just above it). [W/m2]
MIN_CLEAR_SKY_W_M2 = 1.0


def move_to_mid_hour(
    values: np.ndarray,
    axis: pd.DatetimeIndex,
    latitude: float,
    longitude: float,
    offset_h: float,
    component: str = "ghi",
    altitude_m: float | None = None,
    linke: np.ndarray | None = None,
) -> np.ndarray:
    """Irradiance (or PV output) sampled at one instant of each hour, moved to the hour's
    middle, so that every PV source follows one time convention.

    The samples are taken at ``offset_h`` after each hour's start (PVGIS: its irradiance
    time offset, about 0.18 h). Each is divided by a clear-sky irradiance at its instant
    (Ineichen-Perez with the Linke turbidity ``linke``, the same component), giving a
    clear-sky index, which is constant
    under a clear sky of that turbidity and varies slowly otherwise; the index at the middle
    of the hour is interpolated linearly in time between the two samples around it (wrapping
    around the year) and multiplied by the clear-sky irradiance there. Where the clear sky
    is below :data:`MIN_CLEAR_SKY_W_M2` at one of the two samples (the sun down, or just
    rising), the other sample's index is used; where it is below it at both, or at the
    middle, the result is 0.

    Parameters
    ----------
    values : numpy.ndarray
        (8760,) samples, one per hour of ``axis``. [W/m2, or PV output with ``ghi``]
    axis : pandas.DatetimeIndex
        The hours' starts (UTC), (8760,).
    latitude, longitude : float
        Where the samples are valid. [deg]
    offset_h : float
        The samples' instant in the hour, in [0, 1). [h]
    component : {"ghi", "dni", "dhi"}
        What the values are (PV output: ``ghi``).
    altitude_m : float, optional
        The site's altitude (default pvlib's ``lookup_altitude``). [m]
    linke : array_like of 12 floats, optional
        Monthly Linke turbidity (default pvlib's climatology at the site; for a TMY, its
        own, :func:`linke_turbidity_from_tmy`). [-]

    Returns
    -------
    numpy.ndarray
        (8760,) at the middle of each hour; ``values`` itself when ``offset_h`` is already
        the middle. [same unit]
    """
    import pvlib

    if offset_h == MID_HOUR_H:
        return values
    if not 0.0 <= offset_h < 1.0:
        raise ValueError(f"offset_h {offset_h}, expected an instant in [0, 1) h")
    if component not in ("ghi", "dni", "dhi"):
        raise ValueError(f"component {component!r}, expected 'ghi', 'dni' or 'dhi'")
    if altitude_m is None:
        altitude_m = float(pvlib.location.lookup_altitude(latitude, longitude))
    monthly = (
        linke_turbidity_climatology([latitude], [longitude])
        if linke is None
        else np.asarray(linke, dtype=float).reshape(1, 12)
    )

    def clear(times: pd.DatetimeIndex) -> np.ndarray:
        sun = solar_position_sites(times, [latitude], [longitude])
        ghi, dni, dhi = clearsky_ineichen(
            times, sun, daily_from_monthly(times, monthly), [altitude_m]
        )
        return {"ghi": ghi, "dni": dni, "dhi": dhi}[component][0]

    at_sample = clear(axis + pd.Timedelta(hours=offset_h))
    at_mid = clear(axis + pd.Timedelta(hours=MID_HOUR_H))
    up = at_sample >= MIN_CLEAR_SKY_W_M2
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(up, np.asarray(values, dtype=float) / at_sample, 0.0)
    # the middle of hour i lies between the samples of hours j and j + 1, a fraction f on
    if offset_h <= MID_HOUR_H:
        shift, f = 0, MID_HOUR_H - offset_h
    else:
        shift, f = 1, 1.0 + MID_HOUR_H - offset_h
    a, b = np.roll(index, shift), np.roll(index, shift - 1)
    ua, ub = np.roll(up, shift), np.roll(up, shift - 1)
    mid = np.where(ua & ub, (1.0 - f) * a + f * b, np.where(ua, a, np.where(ub, b, 0.0)))
    return np.where(at_mid >= MIN_CLEAR_SKY_W_M2, mid * at_mid, 0.0)


_MOVED_TMY: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def tmy_at_mid_hour(tmy: Tmy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A TMY's GHI, DNI and DHI moved to the middle of each hour (:func:`move_to_mid_hour`,
    indexed by the clear sky of the TMY's own clearest hours, :func:`linke_turbidity_from_tmy`).

    Computed once per process for each TMY (every chunk of a study asks again, with its own
    copy of the same TMY): read-only arrays, (8760,) each. [W/m2]
    """
    import hashlib

    d = tmy.data
    columns = [d[c].to_numpy(dtype=float) for c in ("ghi", "dni", "dhi")]
    digest = hashlib.sha1(b"".join(np.ascontiguousarray(x).tobytes() for x in columns))
    key = (tmy.latitude, tmy.longitude, tmy.time_offset_h, tmy.altitude_m, digest.hexdigest())
    if key not in _MOVED_TMY:
        axis = hourly_axis(2030)  # any non-leap year: the TMY is ordered by position
        site = (axis, tmy.latitude, tmy.longitude, tmy.time_offset_h)
        linke = linke_turbidity_from_tmy(tmy)
        moved = tuple(
            move_to_mid_hour(x, *site, component=c, altitude_m=tmy.altitude_m, linke=linke)
            for x, c in zip(columns, ("ghi", "dni", "dhi"), strict=True)
        )
        for x in moved:
            x.flags.writeable = False
        if len(_MOVED_TMY) >= 8:  # a study has one TMY; keep a few, not every one seen
            _MOVED_TMY.pop(next(iter(_MOVED_TMY)))
        _MOVED_TMY[key] = moved  # type: ignore[assignment]
    return _MOVED_TMY[key]


def pv_tmy(
    axis: pd.DatetimeIndex,
    latitudes,
    longitudes,
    tmy: Tmy,
    system: PvSystem = PvSystem(),
    chunk: int = 128,
) -> np.ndarray:
    """PV output per unit of AC rating from a TMY at many sites, re-dated onto the study axis.

    Step i of the TMY (its i-th hour of the year, UTC) becomes step i of the axis. Like
    every PV source, the output is evaluated at the middle of each hour (:data:`MID_HOUR_H`):
    irradiance sampled at another instant of the hour (PVGIS: 0.18 h after its start) is
    first moved there (:func:`move_to_mid_hour`), and the solar geometry is computed at each
    site for the middle of the hour, with the TMY's weather as is (a TMY made for a site
    within a few tens of km is the usual practice).

    Parameters
    ----------
    axis : pandas.DatetimeIndex
    latitudes, longitudes : array_like
        Sites, (n_sites,). [deg]
    tmy : Tmy
    system : PvSystem
    chunk : int, default 128
        Sites computed together (memory: about 40 MB per 128 sites).

    Returns
    -------
    numpy.ndarray
        (n_sites, 8760) in [0, 1]. [-]
    """
    times = axis + pd.Timedelta(hours=MID_HOUR_H)
    d = tmy.data
    ghi, dni, dhi, temp_air, wind_speed = (
        d[c].to_numpy(dtype=float) for c in ("ghi", "dni", "dhi", "temp_air", "wind_speed")
    )
    if tmy.time_offset_h != MID_HOUR_H:
        ghi, dni, dhi = tmy_at_mid_hour(tmy)
    lat = np.atleast_1d(np.asarray(latitudes, dtype=float))
    lon = np.atleast_1d(np.asarray(longitudes, dtype=float))
    out = np.empty((len(lat), len(times)))
    for start in range(0, len(lat), chunk):
        sl = slice(start, start + chunk)
        solpos = solar_position_sites(times, lat[sl], lon[sl])
        out[sl] = pv_power_pu(times, solpos, ghi, dni, dhi, temp_air, wind_speed, system)
    return out


#: The non-leap year whose sun positions move a PVGIS average year to mid-hour (a year's
#: choice moves the sun by well under 0.1 deg at a given date and hour).
PVGIS_GEOMETRY_YEAR = 2019
#: Largest distance at which a site reuses another site's PVGIS series (docs/profiles.md). [m]
MAX_CACHE_DISTANCE_M = 1000.0


def _distance_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance (spherical Earth, radius 6371 km). [m]"""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return float(2 * 6_371_000.0 * np.arcsin(np.sqrt(a)))


def default_cache_dir() -> Path:
    """``$ATLAS_CACHE_DIR``, else ``~/.cache/flexibility-atlas``."""
    import os

    return Path(os.environ.get("ATLAS_CACHE_DIR", Path.home() / ".cache" / "flexibility-atlas"))


def pvgis_average_year(data: pd.DataFrame, dc_ac_ratio: float = 1.0) -> np.ndarray:
    """The hourly average over the years of a PVGIS hourly PV series, per unit of AC rating.

    Parameters
    ----------
    data : pandas.DataFrame
        PVGIS hourly output with column ``P`` (W per kWp installed, losses included), UTC
        index over whole years.
    dc_ac_ratio : float
        DC over AC rating; output clipped at the AC rating.

    Returns
    -------
    numpy.ndarray
        (8760,): for each position of the year (month, day, UTC hour; 29 February left
        out) the mean over the years, / 1000 x dc_ac_ratio, clipped to [0, 1]. [-]
    """
    idx = data.index
    keep = ~((idx.month == 2) & (idx.day == 29))
    p = data["P"].to_numpy(dtype=float)[keep] / 1000.0
    idx = idx[keep]
    key = pd.Index((idx.month * 100 + idx.day) * 100 + idx.hour)
    mean = pd.Series(p).groupby(key.to_numpy()).mean()
    if len(mean) != N_HOURS:
        raise ValueError(f"PVGIS series covers {len(mean)} hours of the year, expected {N_HOURS}")
    return np.clip(mean.to_numpy() * dc_ac_ratio, 0.0, 1.0)


def pv_pvgis(
    latitudes,
    longitudes,
    system: PvSystem = PvSystem(),
    start_year: int = 2005,
    end_year: int = 2020,
    cache_dir: Path | None = None,
    cache_distance_m: float = MAX_CACHE_DISTANCE_M,
    fetch=None,
) -> np.ndarray:
    """PV per unit of AC rating from PVGIS (online), the hourly average of several years.

    As the seed paper: PVGIS's own PV calculation (crystalline silicon, the system's tilt,
    azimuth and losses) for each site, averaged hour by hour over ``start_year`` to
    ``end_year`` (2005-2020 by default). Results are cached on disk by location and
    parameters; a site within ``cache_distance_m`` (at most 1 km) of a cached or already
    fetched site with the same parameters reuses its series.

    Raises
    ------
    AtlasInputError
        PVGIS cannot be reached (offline): the message suggests the ``tmy`` source.
    """
    import json

    import requests

    from atlas.errors import AtlasInputError
    from atlas.files import write_atomic, write_text_atomic

    if not 0 <= cache_distance_m <= MAX_CACHE_DISTANCE_M:
        raise ValueError(f"cache_distance_m must be within [0, {MAX_CACHE_DISTANCE_M:g}] m")
    if fetch is None:
        import pvlib

        fetch = pvlib.iotools.get_pvgis_hourly
    params = {
        "tilt": system.tilt_deg,
        "azimuth": system.azimuth_deg,
        "loss_pct": round(100 * system.system_losses, 6),
        "start": start_year,
        "end": end_year,
        "time": "mid-hour",  # series cached before the one time convention do not match
    }
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = cache / "pvgis"
    index_file = folder / "index.json"
    index = json.loads(index_file.read_text()) if index_file.is_file() else []
    lat = np.atleast_1d(np.asarray(latitudes, dtype=float))
    lon = np.atleast_1d(np.asarray(longitudes, dtype=float))
    out = np.empty((len(lat), N_HOURS))
    for i, (la, lo) in enumerate(zip(lat, lon, strict=True)):
        hit = next(
            (
                e
                for e in index
                if e["params"] == params
                and _distance_m(la, lo, e["lat"], e["lon"]) <= cache_distance_m
            ),
            None,
        )
        if hit is None:
            try:
                data, _ = fetch(
                    la,
                    lo,
                    start=start_year,
                    end=end_year,
                    surface_tilt=system.tilt_deg,
                    surface_azimuth=system.azimuth_deg,
                    pvcalculation=True,
                    peakpower=1.0,
                    loss=params["loss_pct"],
                    components=False,
                )
            except (requests.exceptions.RequestException, OSError) as exc:
                raise AtlasInputError(
                    None,
                    "profiles.pv",
                    f"PVGIS could not be reached for {la:.5f} N {lo:.5f} E ({type(exc).__name__}); "
                    'offline, use source = "tmy" (the shipped PVGIS typical year, or a TMY file)',
                ) from None
            name = f"pvgis_{len(index):06d}.npy"
            # PVGIS stamps each hour at its satellite instant (hh:10 or so): the averaged
            # year moved to the middle of each hour, on the UTC calendar of a non-leap year
            offset_h = float(data.index[0].minute + data.index[0].second / 60.0) / 60.0
            series = move_to_mid_hour(
                pvgis_average_year(data, 1.0), hourly_axis(PVGIS_GEOMETRY_YEAR), la, lo, offset_h
            )
            series = np.clip(series, 0.0, 1.0)

            def save(path, series=series):
                with open(path, "wb") as fh:
                    np.save(fh, series)

            write_atomic(folder / name, save)
            hit = {"lat": float(la), "lon": float(lo), "params": params, "file": name}
            index.append(hit)
            write_text_atomic(index_file, json.dumps(index, indent=1))
        out[i] = np.clip(np.load(folder / hit["file"]) * system.dc_ac_ratio, 0.0, 1.0)
    return out
