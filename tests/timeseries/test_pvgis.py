"""The PVGIS source, offline: a clear failure, the yearly average, the cache by distance."""

import numpy as np
import pandas as pd
import pytest
import requests
from numpy.testing import assert_allclose

from atlas.errors import AtlasInputError
from atlas.timeseries.pv import PvSystem, pv_pvgis, pvgis_average_year


def _fake_pvgis(calls):
    """A stand-in for pvlib.iotools.get_pvgis_hourly: two years, P = 500 W/kWp at noon."""

    def fetch(lat, lon, start, end, **kwargs):
        calls.append((lat, lon, kwargs["surface_tilt"], kwargs["loss"]))
        idx = pd.date_range(f"{start}-01-01 00:10", f"{start + 1}-12-31 23:10", freq="h", tz="UTC")
        p = np.where(idx.hour == 11, np.where(idx.year == start, 400.0, 600.0), 0.0)
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
    noon = np.arange(8760) % 24 == 11
    assert_allclose(first[0][noon], 0.5)  # (400 + 600) / 2 W/kWp
    assert np.all(first[0][~noon] == 0)
    # 500 m away: the cached series; 2 km away or another tilt: a new request
    pv_pvgis([45.46 + 0.0045], [9.19], sys, 2005, 2006, tmp_path, fetch=fetch)
    assert len(calls) == 1
    pv_pvgis([45.46 + 0.018], [9.19], sys, 2005, 2006, tmp_path, fetch=fetch)
    pv_pvgis([45.46], [9.19], PvSystem(tilt_deg=20.0), 2005, 2006, tmp_path, fetch=fetch)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="cache_distance_m"):
        pv_pvgis([45.46], [9.19], sys, cache_dir=tmp_path, cache_distance_m=5000, fetch=fetch)
