"""Per-unit hourly profiles (8760 values in [0, 1]): user files or built-in defaults.

The built-in defaults here are deliberately simple and documented in docs/profiles.md:

- PV ``clearsky``: pvlib's Ineichen clear sky (Linke turbidity climatology shipped with
  pvlib), transposed to a tilted plane, per unit of AC rating, clipped at 1.
- CHP, hydro, biomass ``default``: smooth seasonal curves (invented, of the shape the seed
  paper describes; see docs/profiles.md).

Profiles are per unit of installed capacity (for PV the AC rating), generator convention.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.timeaxis import N_HOURS


def pv_clearsky(
    axis: pd.DatetimeIndex,
    latitude: float,
    longitude: float,
    tilt_deg: float = 30.0,
    azimuth_deg: float = 180.0,
    system_losses: float = 0.14,
    dc_ac_ratio: float = 1.0,
    albedo: float = 0.2,
) -> np.ndarray:
    """Clear-sky PV output per unit of AC rating, hour by hour.

    Parameters
    ----------
    axis : pandas.DatetimeIndex
        The study's hourly UTC axis; each value is the mean over the hour that starts at
        the stamp, computed at the half hour.
    latitude, longitude : float
        Site. [deg]
    tilt_deg : float, default 30
        Module tilt from horizontal. [deg]
    azimuth_deg : float, default 180
        Module azimuth, clockwise from north (180 = south). [deg]
    system_losses : float, default 0.14
        Fraction of DC energy lost (PVGIS's default 14 %). [-]
    dc_ac_ratio : float, default 1.0
        DC rating over AC rating; output is clipped at the AC rating. [-]
    albedo : float, default 0.2
        Ground reflectance. [-]

    Returns
    -------
    numpy.ndarray
        (8760,) in [0, 1], zero when the sun is below the horizon. [-]

    Notes
    -----
    DC power per unit of DC rating is taken as plane-of-array irradiance over
    1000 W/m2 (no temperature derating: clear-sky cells run warm, so this overestimates
    slightly; the profiles issue brings the full model).
    """
    import pvlib

    mid = axis + pd.Timedelta(minutes=30)
    site = pvlib.location.Location(latitude, longitude, tz="UTC")
    solpos = site.get_solarposition(mid)
    clearsky = site.get_clearsky(mid, model="ineichen", solar_position=solpos)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=tilt_deg,
        surface_azimuth=azimuth_deg,
        solar_zenith=solpos["apparent_zenith"],
        solar_azimuth=solpos["azimuth"],
        dni=clearsky["dni"],
        ghi=clearsky["ghi"],
        dhi=clearsky["dhi"],
        albedo=albedo,
        model="isotropic",
    )
    poa_wm2 = np.nan_to_num(poa["poa_global"].to_numpy(dtype=float), nan=0.0)
    pu_ac = poa_wm2 / 1000.0 * dc_ac_ratio * (1.0 - system_losses)
    pu_ac[solpos["elevation"].to_numpy() <= 0.0] = 0.0
    return np.clip(pu_ac, 0.0, 1.0)


def _day_of_year(axis: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Fractional day of the year (0 at 1 January 00:00 local) of each hour's middle."""
    local = (axis + pd.Timedelta(minutes=30)).tz_convert(timezone)
    return np.asarray(
        local.day_of_year - 1 + (local.hour + local.minute / 60.0) / 24.0, dtype=float
    )


#: Built-in seasonal defaults: (mean, amplitude, day of the peak) of
#: pu(d) = mean + amplitude * cos(2 pi (d - peak) / 365.25). Invented, see docs/profiles.md.
SEASONAL_DEFAULTS: dict[str, tuple[float, float, float]] = {
    # CHP: heat-led, high in winter, within 0.3-0.7 pu (seed paper, METHOD.md); peak mid-January
    "chp": (0.5, 0.2, 15.0),
    # run-of-river hydro: peaking late in winter (METHOD.md), low at the end of summer
    "hydro": (0.55, 0.25, 60.0),
}

#: Biomass/biogas default: baseload at 0.9 pu with a two-week maintenance dip to 0.45 pu in
#: the first half of August (invented, docs/profiles.md).
BIOMASS_BASE_PU = 0.9
BIOMASS_MAINTENANCE_PU = 0.45
BIOMASS_MAINTENANCE_DAYS = (212.0, 226.0)  # day-of-year window [start, end), 1-14 August


def default_profile(technology: str, axis: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """The built-in default profile of a synchronous technology.

    Parameters
    ----------
    technology : {'chp', 'hydro', 'biomass'}
    axis : pandas.DatetimeIndex
        The study's hourly UTC axis.
    timezone : str
        Local time zone for the day of the year.

    Returns
    -------
    numpy.ndarray
        (8760,) per unit of installed capacity, in [0, 1]. [-]
    """
    doy = _day_of_year(axis, timezone)
    if technology == "biomass":
        lo, hi = BIOMASS_MAINTENANCE_DAYS
        return np.where((doy >= lo) & (doy < hi), BIOMASS_MAINTENANCE_PU, BIOMASS_BASE_PU)
    try:
        mean, amplitude, peak_day = SEASONAL_DEFAULTS[technology]
    except KeyError:
        raise ValueError(f"no default profile for {technology!r}") from None
    pu = mean + amplitude * np.cos(2.0 * np.pi * (doy - peak_day) / 365.25)
    assert pu.shape == (N_HOURS,)
    return np.clip(pu, 0.0, 1.0)
