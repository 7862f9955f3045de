"""Benchmark: the DER join on a dask LocalCluster against the local join, same answer.

The SYNTHETIC, seeded set-up of bench_join.py (a 20,000-vertex ragged boundary, 2,200 sites
inside it, 1,500,000 DER points of which 2 % outside it), the register written as GeoParquet
in WGS84 (as a real register comes) with a few attributes. Times:

- the local join: ``geopandas.read_parquet``, reprojection to UTM 32N and
  :meth:`atlas.geo.join.GeoStage.assign` (the nearest site inside the boundary);
- the dask join, :func:`atlas.geo.dask_join.assign_register`, on a LocalCluster of 2
  single-threaded worker processes (read, checks, reprojection, Hilbert shuffle and join
  on the workers, rows gathered in file order), once cold (the workers' first task
  imports geopandas and friends) and once warm;
- the lazy join, :func:`atlas.geo.dask_join.assign_register_partitions`, counting the
  points per area on the workers (nothing but the counts gathered).

and checks that the dask join agrees with the local one on every point.

    PYTHONPATH=. python benchmarks/bench_dask_join.py [--points 1500000] [--sites 2200]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from bench_join import SEED, ragged_boundary

from atlas.geo.areas import voronoi_areas
from atlas.geo.dask_join import assign_register, assign_register_partitions
from atlas.geo.join import GeoStage

UTM32 = "EPSG:32632"


def synthetic_register(
    n_points: int, n_sites: int, n_vertices: int
) -> tuple[shapely.Polygon, gpd.GeoDataFrame, np.ndarray]:
    """bench_join.py's boundary, sites and points, drawn in the same order from its seed.

    Returns
    -------
    boundary : shapely.Polygon
        UTM 32N. [m]
    sites : geopandas.GeoDataFrame
        ``ps_id`` and site points, UTM 32N.
    xy : numpy.ndarray
        (n_points, 2) DER points, UTM 32N, 98 % inside the boundary. [m]
    """
    rng = np.random.default_rng(SEED)
    boundary = ragged_boundary(n_vertices, rng)
    xmin, ymin, xmax, ymax = boundary.bounds
    site_xy: list[np.ndarray] = []
    while len(site_xy) < n_sites:
        xy = rng.uniform([xmin, ymin], [xmax, ymax], (n_sites, 2))
        site_xy += list(xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])])
    sites = gpd.GeoDataFrame(
        {"ps_id": [f"PS{k:05d}" for k in range(n_sites)]},
        geometry=shapely.points(np.array(site_xy[:n_sites])),
        crs=UTM32,
    )
    n_out = n_points // 50
    inner = []
    while sum(len(a) for a in inner) < n_points - n_out:
        xy = rng.uniform([xmin, ymin], [xmax, ymax], (n_points, 2))
        inner.append(xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])])
    outer = rng.uniform([xmin, ymin], [xmax, ymax], (4 * n_out, 2))
    outer = outer[~shapely.intersects_xy(boundary, outer[:, 0], outer[:, 1])][:n_out]
    return boundary, sites, np.concatenate([np.concatenate(inner)[: n_points - n_out], outer])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_500_000)
    parser.add_argument("--sites", type=int, default=2_200)
    parser.add_argument("--vertices", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import dask
    from distributed import Client, LocalCluster

    boundary, sites, xy = synthetic_register(args.points, args.sites, args.vertices)
    areas = voronoi_areas(sites, boundary)
    stage = GeoStage(crs=sites.crs, sites=sites, areas=areas, boundary=boundary, voronoi=True)
    n = len(xy)
    register = gpd.GeoDataFrame(
        {
            "der_id": [f"DER{k:07d}" for k in range(n)],
            "technology": np.where(np.arange(n) % 10 == 0, "ev", "pv"),
            "capacity_kw": np.round(np.linspace(3.0, 990.0, n), 1),
        },
        geometry=shapely.points(xy),
        crs=UTM32,
    ).to_crs("EPSG:4326")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ders.parquet"
        t0 = time.perf_counter()
        register.to_parquet(path, row_group_size=100_000)
        t_write = time.perf_counter() - t0
        del register

        t0 = time.perf_counter()
        local = gpd.read_parquet(path).to_crs(stage.crs)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        inside_l, nearest_l, distance_l = stage.assign(local.geometry.to_numpy())
        t_local = time.perf_counter() - t0

        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # any free port: 8787 may be taken
        )
        client = Client(cluster)
        t_cluster = time.perf_counter() - t0
        try:
            times = []
            for _ in range(2):  # cold, warm
                t0 = time.perf_counter()
                joined, inside_d, nearest_d, distance_d = assign_register(
                    path, areas, client, sites=sites, boundary=boundary
                )
                times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with dask.config.set(scheduler=client):
                lazy = assign_register_partitions(
                    path, areas, sites=sites, boundary=boundary, npartitions=8
                )
                counts = lazy["atlas_inside"].value_counts().compute().sort_index()
            t_lazy = time.perf_counter() - t0
            n_partitions = lazy.npartitions
        finally:
            client.close()
            cluster.close()

    same = (inside_d == inside_l) & (nearest_d == nearest_l) & (distance_d == distance_l)
    same_xy = np.array_equal(
        shapely.get_coordinates(joined.geometry.to_numpy()),
        shapely.get_coordinates(local.geometry.to_numpy()),
    )
    same_attributes = joined.drop(columns="geometry").equals(local.drop(columns="geometry"))
    counts_l = pd.Series(inside_l).value_counts().sort_index()
    n_in = int((inside_l >= 0).sum())

    import dask_geopandas

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"dask {dask.__version__}, dask-geopandas {dask_geopandas.__version__}, shapely {shapely.__version__}"
    )
    print(
        f"register: {n} points ({n_in} inside the boundary, {n - n_in} outside), "
        f"GeoParquet in EPSG:4326 ({t_write:.2f} s to write); {len(areas)} Voronoi areas"
    )
    print(f"local join:  read + reproject {t_read:6.2f} s, join {t_local:6.2f} s")
    print(f"LocalCluster of {args.workers} worker processes started in {t_cluster:.2f} s")
    print(
        f"dask join (gathered in file order): {times[0]:6.2f} s cold, {times[1]:6.2f} s warm "
        "(read, checks, reprojection, Hilbert shuffle, join, gather)"
    )
    print(
        f"lazy dask join, points per PS counted on the workers ({n_partitions} spatial "
        f"partitions): {t_lazy:6.2f} s; counts equal the local join's: {np.array_equal(counts.to_numpy(), counts_l.to_numpy()) and np.array_equal(counts.index, counts_l.index)}"
    )
    print(
        f"agreement with the local join: {100 * same.mean():.3f} % of {n} points identical "
        f"(area, nearest area, distance); {int((~same).sum())} differ; coordinates identical: "
        f"{same_xy}; attributes identical: {same_attributes}"
    )


if __name__ == "__main__":
    main()
