"""The PVGIS source, offline: a clear failure, the yearly average, the cache by distance."""

import numpy as np
import pandas as pd
import pvlib
import pytest
import requests
from numpy.testing import assert_allclose

from atlas.errors import AtlasInputError
from atlas.timeseries.pv import PvSystem, pv_pvgis, pvgis_average_year


def _clear_ghi(times, lat, lon) -> np.ndarray:
    """The clear-sky GHI the PVGIS source's move to mid-hour divides by: Ineichen with
    pvlib's Linke climatology (interpolated to days) and altitude lookup. [W/m2]"""
    loc = pvlib.location.Location(lat, lon, altitude=pvlib.location.lookup_altitude(lat, lon))
    sun = pvlib.solarposition.get_solarposition(times, lat, lon, delta_t=None)
    linke = pvlib.clearsky.lookup_linke_turbidity(times, lat, lon)
    am = pvlib.atmosphere.get_absolute_airmass(
        pvlib.atmosphere.get_relative_airmass(sun["apparent_zenith"]),
        pvlib.atmosphere.alt2pres(loc.altitude),
    )
    cs = pvlib.clearsky.ineichen(
        sun["apparent_zenith"], am, linke, altitude=loc.altitude,
        dni_extra=pvlib.irradiance.get_extra_radiation(times), perez_enhancement=True,
    )  # fmt: skip
    return np.where(sun["apparent_elevation"] > 0, np.nan_to_num(cs["ghi"].to_numpy()), 0.0)


def _fake_pvgis(calls):
    """A stand-in for pvlib.iotools.get_pvgis_hourly: two years stamped at hh:10, PVGIS's
    satellite instant, P = 0.4 (first year) and 0.6 W/kWp (second) per W/m2 of clear-sky
    GHI: a clear-sky index that the move to mid-hour keeps."""

    def fetch(lat, lon, start, end, **kwargs):
        calls.append((lat, lon, kwargs["surface_tilt"], kwargs["loss"]))
        idx = pd.date_range(f"{start}-01-01 00:10", f"{start + 1}-12-31 23:10", freq="h", tz="UTC")
        p = np.where(idx.year == start, 0.4, 0.6) * _clear_ghi(idx, lat, lon)
        return pd.DataFrame({"P": p}, index=idx), {}

    return fetch


def test_offline_fails_clearly(tmp_path):
    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no route to host")

    with pytest.raises(AtlasInputError, match=r'PVGIS could not be reached.*use source = "tmy"'):
        pv_pvgis([45.46], [9.19], cache_dir=tmp_path, fetch=offline)


def test_yearly_average_and_leap_day():
    idx = pd.date_range("2019-01-01 00:10", "2020-12-31 23:10", freq="h", tz="UTC")  # 2020 is leap
    p = pd.DataFrame({"P": np.where(idx.year == 2019, 300.0, 500.0)}, index=idx)
    pu = pvgis_average_year(p, dc_ac_ratio=1.0)
    assert pu.shape == (8760,)
    assert_allclose(pu, 0.4, rtol=1e-12)  # (300 + 500) / 2 W/kWp, 29 February 2020 left out


def test_cache_by_location_and_parameters(tmp_path):
    calls = []
    fetch = _fake_pvgis(calls)
    sys = PvSystem(tilt_deg=30.0, system_losses=0.14)
    first = pv_pvgis([45.46], [9.19], sys, 2005, 2006, tmp_path, fetch=fetch)
    # moved from hh:10 to the middle of each hour: 0.5 W/kWp per W/m2 of clear sky there
    # (the reference year's sun: within 2 % where the clear sky is above 200 W/m2; at lower
    # sun, the years' geometry and two interpolations of the turbidity differ more)
    mid = pd.date_range("2019-01-01 00:30", periods=8760, freq="h", tz="UTC")
    want = 0.5 * _clear_ghi(mid, 45.46, 9.19) / 1000.0
    lit = want > 0.1
    assert_allclose(first[0][lit], want[lit], rtol=0.02)
    assert np.all(first[0][want == 0] == 0)
    # 500 m away: the cached series; 2 km away or another tilt: a new request
    pv_pvgis([45.46 + 0.0045], [9.19], sys, 2005, 2006, tmp_path, fetch=fetch)
    assert len(calls) == 1
    pv_pvgis([45.46 + 0.018], [9.19], sys, 2005, 2006, tmp_path, fetch=fetch)
    pv_pvgis([45.46], [9.19], PvSystem(tilt_deg=20.0), 2005, 2006, tmp_path, fetch=fetch)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="cache_distance_m"):
        pv_pvgis([45.46], [9.19], sys, cache_dir=tmp_path, cache_distance_m=5000, fetch=fetch)
