"""Benchmark: PV profiles from a TMY, and under a clear sky, for many service areas at once.

2,200 SYNTHETIC sites spread uniformly over Italy's latitude/longitude box (37-47 N, 7-18 E),
each with its own solar geometry (NREL SPA, the Sun's geocentric position computed once),
the shipped PVGIS TMY as weather (or the calibrated clear sky), the default rooftop system.
Prints the times and a check of
the vectorised solar position against pvlib's per-site ``get_solarposition``.

    python benchmarks/bench_pv.py [--sites 2200]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
import pvlib

from atlas.inputs.timeaxis import hourly_axis
from atlas.timeseries.pv import pv_clearsky, pv_tmy, read_tmy, solar_position_sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=2200)
    args = parser.parse_args()
    rng = np.random.default_rng(2200)
    lat = rng.uniform(37.0, 47.0, args.sites)
    lon = rng.uniform(7.0, 18.0, args.sites)
    axis = hourly_axis(2030)
    tmy = read_tmy()
    t0 = time.perf_counter()
    pv = pv_tmy(axis, lat, lon, tmy)
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    clear = pv_clearsky(axis, lat, lon, tmy=tmy)
    elapsed_clear = time.perf_counter() - t0
    times = axis + pd.Timedelta(hours=tmy.time_offset_h)
    check = rng.choice(args.sites, 5, replace=False)
    sp = solar_position_sites(times, lat[check], lon[check])
    worst = 0.0
    for i, k in enumerate(check):
        ref = pvlib.solarposition.get_solarposition(times, lat[k], lon[k])
        worst = max(
            worst,
            *(np.abs(sp[c][i] - ref[c].to_numpy()).max() for c in ("apparent_zenith", "azimuth")),
        )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, pvlib {pvlib.__version__}"
    )
    print(
        f"PV profiles for {args.sites} sites x 8760 h from the shipped TMY: {elapsed:.1f} s (goal < 60 s), no caching"
    )
    print(
        f"PV profiles for {args.sites} sites x 8760 h under the calibrated clear sky: {elapsed_clear:.1f} s (goal < 60 s)"
    )
    print(
        f"clear-sky yield range: {clear.sum(axis=1).min():.0f}-{clear.sum(axis=1).max():.0f} kWh/kWp"
    )
    print(
        f"yield range: {pv.sum(axis=1).min():.0f}-{pv.sum(axis=1).max():.0f} kWh/kWp; profiles within [{pv.min():g}, {pv.max():.3f}]"
    )
    print(f"solar position vs pvlib get_solarposition on 5 sites: max difference {worst:.2e} deg")


if __name__ == "__main__":
    main()
