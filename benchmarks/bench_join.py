"""Benchmark: join DER points to Voronoi service areas clipped to a detailed boundary.

A SYNTHETIC, seeded set-up at national scale: a boundary polygon of 20,000 vertices with a
ragged outline (about 900 km x 600 km, in metres), 2,200 substation sites inside it, and
1,500,000 DER points, 98 % inside the boundary and 2 % outside it (as mis-geocoded
entries of a real register would be). Times the Voronoi service areas (:func:`atlas.geo.areas.voronoi_areas`) and the join
(:func:`atlas.geo.areas.assign_points`), and checks the join against the nearest site on a
sample (inside a Voronoi cell, the nearest site is the cell's).

    python benchmarks/bench_join.py [--points 1500000] [--sites 2200] [--vertices 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from atlas.geo.areas import assign_points, assign_points_voronoi, voronoi_areas

SEED = 2200


def ragged_boundary(n_vertices: int, rng: np.random.Generator) -> shapely.Polygon:
    """A star-shaped polygon with a ragged outline, about 900 km x 600 km. [m]"""
    theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    radius = (
        1.0
        + 0.15 * np.sin(5 * theta)
        + 0.05 * np.sin(37 * theta)
        + 0.01 * rng.standard_normal(n_vertices)
    )
    x = 450e3 * radius * np.cos(theta) + 500e3
    y = 300e3 * radius * np.sin(theta) + 5000e3
    return shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_500_000)
    parser.add_argument("--sites", type=int, default=2_200)
    parser.add_argument("--vertices", type=int, default=20_000)
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)

    boundary = ragged_boundary(args.vertices, rng)
    xmin, ymin, xmax, ymax = boundary.bounds
    site_xy = []
    while len(site_xy) < args.sites:
        xy = rng.uniform([xmin, ymin], [xmax, ymax], (args.sites, 2))
        site_xy += list(xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])])
    site_xy = np.array(site_xy[: args.sites])
    sites = gpd.GeoDataFrame(
        {"ps_id": [f"PS{k:05d}" for k in range(args.sites)]},
        geometry=shapely.points(site_xy),
        crs="EPSG:32632",
    )
    # a register: 98 % of the points inside the boundary, 2 % outside (mis-geocoded)
    n_out = args.points // 50
    inner = []
    while sum(len(a) for a in inner) < args.points - n_out:
        xy = rng.uniform([xmin, ymin], [xmax, ymax], (args.points, 2))
        inner.append(xy[shapely.contains_xy(boundary, xy[:, 0], xy[:, 1])])
    pts_xy = np.concatenate(inner)[: args.points - n_out]
    outer = rng.uniform([xmin, ymin], [xmax, ymax], (4 * n_out, 2))
    outer = outer[~shapely.intersects_xy(boundary, outer[:, 0], outer[:, 1])][:n_out]
    pts_xy = np.concatenate([pts_xy, outer])
    points = shapely.points(pts_xy)

    t0 = time.perf_counter()
    areas = voronoi_areas(sites, boundary)
    t_voronoi = time.perf_counter() - t0
    t0 = time.perf_counter()
    inside, nearest, distance = assign_points_voronoi(points, sites, boundary, areas)
    t_join = time.perf_counter() - t0
    check = rng.choice(args.points, size=20_000, replace=False)
    t0 = time.perf_counter()
    inside_poly, nearest_poly, distance_poly = assign_points(points[check], areas)
    t_poly = (time.perf_counter() - t0) * args.points / len(check)
    same_poly = float(np.mean((inside_poly == inside[check]) & (nearest_poly == nearest[check])))
    same_distance = bool(np.allclose(distance_poly, distance[check], rtol=0, atol=1e-6))

    n_in = int((inside >= 0).sum())
    sample = rng.choice(np.flatnonzero(inside >= 0), size=min(20_000, n_in), replace=False)
    _, site_of = cKDTree(site_xy).query(pts_xy[sample])
    agree = float(np.mean(site_of == inside[sample]))
    n_vertices = int(shapely.get_num_coordinates(areas.geometry.to_numpy()).sum())

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, shapely {shapely.__version__}"
    )
    print(
        f"boundary: {shapely.get_num_coordinates(boundary)} vertices; {args.sites} sites; {n_vertices} vertices in the clipped cells"
    )
    print(f"Voronoi service areas clipped to the boundary: {t_voronoi:7.2f} s")
    print(
        f"join of {args.points} points:                  {t_join:7.2f} s  ({n_in} inside, {args.points - n_in} outside, nearest area found for all)"
    )
    print(
        f"total:                                         {t_voronoi + t_join:7.2f} s  (goal < 15 s)"
    )
    print(
        f"join agrees with the nearest site on a sample of {len(sample)} points: {100 * agree:.3f} %"
    )
    print(
        f"point-in-polygon join (assign_points) on {len(check)} points agrees on {100 * same_poly:.3f} %"
        f" (distances to the nearest area agree: {same_distance});"
        f" it would take ~{t_poly:.1f} s for all points (scaled from the sample)"
    )


if __name__ == "__main__":
    main()
