"""PV profiles with pvlib, per unit of AC rating (docs/profiles.md).

``clearsky``: pvlib's Ineichen clear sky (with the Linke turbidity climatology shipped with
pvlib), transposed to a tilted plane, per unit of AC rating, clipped at 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
