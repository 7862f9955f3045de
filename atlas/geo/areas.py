"""Service areas of the primary substations and the assignment of points to them.

All geometry here is in one metric CRS (see :func:`atlas.geo.layers.metric_crs`).

Service areas are either given (polygons keyed by ``ps_id``) or the Voronoi cells of the PS
sites clipped to the study boundary. A point is assigned to the one area that covers it; a
point on a border shared by several areas goes to the area whose ``ps_id`` sorts first
(Python string order), so the rule does not depend on file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from atlas.errors import AtlasInputError

#: Default largest overlap between two given service areas that is taken as a sliver of
#: imperfect polygons and resolved, rather than an error. [m2]
OVERLAP_TOLERANCE_M2 = 1.0


@dataclass
class AreaReport:
    """What building the service areas found, for the run summary.

    Attributes
    ----------
    slivers_resolved : int
        Pairs of given areas overlapping by less than the tolerance, resolved by removing
        the overlap from the area whose ``ps_id`` sorts last.
    sliver_area_m2 : float
        Their total overlap. [m2]
    empty_areas : list of str
        PS whose area is empty (e.g. a Voronoi cell wholly outside the boundary), sorted by
        ``ps_id`` as text.
    """

    slivers_resolved: int = 0
    sliver_area_m2: float = 0.0
    empty_areas: list[str] = field(default_factory=list)


def voronoi_areas(sites: gpd.GeoDataFrame, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    """Voronoi cells of the PS sites, clipped to the boundary.

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        Points with a ``ps_id`` column, in a metric CRS.
    boundary : shapely geometry
        The study area (Polygon or MultiPolygon), same CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``ps_id`` and ``geometry``, one row per site in the sites' order; a cell wholly
        outside the boundary is an empty polygon.

    Notes
    -----
    Deterministic: the sites are given to GEOS sorted by ``ps_id``, and the diagram is
    extended to a frame well beyond the boundary and the sites, so the same inputs give the
    same cells whatever their file order. Two sites at the same point are an error.
    """
    order = np.argsort(sites["ps_id"].to_numpy(dtype=str), kind="stable")
    pts = sites.geometry.to_numpy()[order]
    xy = shapely.get_coordinates(pts)
    uniq, counts = np.unique(xy, axis=0, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][0]
        ids = sites["ps_id"].to_numpy()[order][np.all(xy == dup, axis=1)]
        raise ValueError(
            f"substations {', '.join(map(str, ids))} share one site; Voronoi cells need distinct sites"
        )
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.r_[pts, np.array([boundary], dtype=object)])
    pad = 10.0 * max(xmax - xmin, ymax - ymin, 1.0)
    frame = shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    if len(pts) == 1:
        cells = np.array([frame], dtype=object)
    else:
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
        )
    clipped = clip_to_boundary(cells, boundary)
    out = np.empty(len(pts), dtype=object)
    out[order] = clipped
    return gpd.GeoDataFrame({"ps_id": sites["ps_id"].to_numpy()}, geometry=out, crs=sites.crs)


def clip_to_boundary(cells: np.ndarray, boundary: BaseGeometry) -> np.ndarray:
    """Intersect convex cells with a (possibly very detailed) boundary.

    Cells wholly inside the boundary are kept as they are; for the others the boundary is
    first cut to the cell's bounding box (GEOS rectangle clipping, fast), so each
    intersection handles only the boundary's vertices near that cell.
    """
    shapely.prepare(boundary)
    out = np.array(cells, dtype=object)
    crossing = np.flatnonzero(~shapely.contains_properly(boundary, cells))
    for i in crossing:
        local = shapely.clip_by_rect(boundary, *shapely.bounds(cells[i]))
        if not shapely.is_valid(local):  # rectangle clipping may leave an invalid shape
            local = boundary
        out[i] = _polygonal(shapely.intersection(cells[i], local))
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep the polygonal part of a clip result (drop stray lines/points on the border)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


def resolve_overlaps(
    areas: gpd.GeoDataFrame, tolerance_m2: float = OVERLAP_TOLERANCE_M2, path=None
) -> tuple[gpd.GeoDataFrame, AreaReport]:
    """Check given service areas for overlaps; remove slivers, refuse real overlaps.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        ``ps_id`` and polygon geometries in a metric CRS.
    tolerance_m2 : float, default 1.0
        Overlaps up to this area are slivers. [m2]
    path : optional
        The areas file, for messages.

    Returns
    -------
    areas : geopandas.GeoDataFrame
        With every sliver removed from the area whose ``ps_id`` sorts last of the pair.
    report : AreaReport

    Raises
    ------
    AtlasInputError
        Two areas overlap by more than the tolerance: names the pair and the overlap. [m2]
    """
    geoms = areas.geometry.to_numpy().copy()
    ids = areas["ps_id"].to_numpy(dtype=str)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    report = AreaReport()
    if len(left) == 0:
        return areas, report
    inter = shapely.intersection(geoms[left], geoms[right])
    overlap = shapely.area(inter)
    too_big = overlap > tolerance_m2
    if too_big.any():
        k = int(np.argmax(np.where(too_big, overlap, -1.0)))
        raise AtlasInputError(
            path,
            f"ps_id={ids[left[k]]} and ps_id={ids[right[k]]}",
            f"service areas overlap by {overlap[k]:.1f} m2, expected at most {tolerance_m2:g} m2 "
            "(raise [areas] overlap_tolerance_m2 only for slivers of imperfect polygons)",
        )
    sliver = overlap > 0
    for a, b, g in sorted(
        zip(left[sliver], right[sliver], inter[sliver], strict=True),
        key=lambda t: (ids[t[0]], ids[t[1]]),
    ):
        loser = a if ids[a] > ids[b] else b
        geoms[loser] = _polygonal(shapely.difference(geoms[loser], g))
    report.slivers_resolved = int(sliver.sum())
    report.sliver_area_m2 = float(overlap[sliver].sum())
    out = areas.copy()
    out[out.geometry.name] = geoms
    return out, report


def assign_points(
    points: np.ndarray, areas: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The service area of each point, and the nearest one for points outside every area.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
        Same metric CRS as ``areas``.
    areas : geopandas.GeoDataFrame
        ``ps_id`` and polygons (pairwise disjoint but for shared borders).

    Returns
    -------
    inside : numpy.ndarray of int
        Row of ``areas`` covering each point, -1 where none.
    nearest : numpy.ndarray of int
        ``inside`` where it is set, else the row of the nearest area (-1 with no area).
    distance_m : numpy.ndarray of float
        0 for points inside an area, else the distance to the nearest area. [m]

    Notes
    -----
    A point covered by several areas (on a shared border) goes to the area whose ``ps_id``
    sorts first; equally near areas are broken the same way.
    """
    geoms = areas.geometry.to_numpy()
    ids = areas["ps_id"].to_numpy(dtype=str)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    tree = shapely.STRtree(geoms)
    pt_idx, area_idx = tree.query(points, predicate="intersects")
    inside = np.full(len(points), -1, dtype=np.int64)
    if len(pt_idx):
        inside[pt_idx[::-1]] = area_idx[::-1]  # fast path: one area per point
        counts = np.bincount(pt_idx, minlength=len(points))
        multi = np.flatnonzero(counts[pt_idx] > 1)
        if len(multi):  # on a shared border: the area of lowest rank (first ps_id)
            p, a = pt_idx[multi], area_idx[multi]
            order = np.lexsort((rank[a], p))
            p, a = p[order], a[order]
            first = np.r_[True, p[1:] != p[:-1]]
            inside[p[first]] = a[first]
    nearest = inside.copy()
    distance = np.zeros(len(points))
    outside = np.flatnonzero(inside < 0)
    if len(outside):
        distance[outside] = np.inf
        near_pt, near_area = tree.query_nearest(points[outside], all_matches=True)
        if len(near_pt):
            d = shapely.distance(points[outside][near_pt], geoms[near_area])
            order = np.lexsort((rank[near_area], d, near_pt))
            near_pt, near_area, d = near_pt[order], near_area[order], d[order]
            first = np.r_[True, near_pt[1:] != near_pt[:-1]]
            rows = outside[near_pt[first]]
            distance[rows] = d[first]
            nearest[rows] = near_area[first]
    return inside, nearest, distance


def assign_points_voronoi(
    points: np.ndarray, sites: gpd.GeoDataFrame, boundary: BaseGeometry, areas: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`assign_points` for Voronoi service areas: the nearest site, inside the boundary.

    A point of the boundary (border included) lies in the cell of its nearest PS site, by
    the definition of a Voronoi cell; equidistant sites go to the ``ps_id`` that sorts first.
    A k-d tree finds the nearest sites and a prepared boundary the points inside, which is
    much faster than point-in-polygon tests on the clipped cells. Points outside the
    boundary get the nearest cell and their distance to it, as in :func:`assign_points`.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
    sites : geopandas.GeoDataFrame
        ``ps_id`` and site points, in the rows' order of ``areas``, metric CRS.
    boundary : shapely geometry
        The boundary the cells were clipped to.
    areas : geopandas.GeoDataFrame
        The cells (:func:`voronoi_areas`), for the distance of outside points.

    Returns
    -------
    inside, nearest, distance_m : numpy.ndarray
        As :func:`assign_points`.
    """
    from scipy.spatial import cKDTree

    ids = sites["ps_id"].to_numpy(dtype=str)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    xy = shapely.get_coordinates(points)
    site_xy = shapely.get_coordinates(sites.geometry.to_numpy())
    tree = cKDTree(site_xy)
    k = min(2, len(site_xy))
    dist, idx = tree.query(xy, k=k, workers=-1)  # every core: the same answers
    if k == 1:
        best = np.asarray(idx).reshape(-1)
    else:
        best = idx[:, 0].copy()
        tie = dist[:, 1] == dist[:, 0]
        if tie.any():  # equidistant from two or more sites: the first ps_id among all of them
            for i in np.flatnonzero(tie):
                # the tree's distances and np.hypot may differ in the last bit: the
                # candidates' distances are all taken with np.hypot, the smallest kept
                cands = np.asarray(tree.query_ball_point(xy[i], dist[i, 0] * (1 + 1e-12)))
                d = np.hypot(site_xy[cands, 0] - xy[i, 0], site_xy[cands, 1] - xy[i, 1])
                closest = cands[d == d.min()]
                best[i] = closest[np.argmin(rank[closest])]
    shapely.prepare(boundary)
    covered = shapely.intersects_xy(boundary, xy[:, 0], xy[:, 1])
    inside = np.where(covered, best, -1)
    nearest = inside.copy()
    distance = np.zeros(len(xy))
    outside = np.flatnonzero(~covered)
    if len(outside):
        _, near, d = assign_points(points[outside], areas)
        nearest[outside] = near
        distance[outside] = d
    return inside, nearest, distance


def area_table(areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area of each service area in km2 (metric CRS)."""
    return pd.DataFrame(
        {
            "ps_id": areas["ps_id"].to_numpy(),
            "area_km2": shapely.area(areas.geometry.to_numpy()) / 1e6,
        }
    )
