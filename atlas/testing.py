"""A brute-force oracle for the envelope engine, for tests and benchmarks.

Deliberately simple and independent of :mod:`atlas.engine.envelope`'s edge merge: hour by hour, each
group's set is built with shapely as the convex hull of its vertices, and the Minkowski sum of
two convex sets is the convex hull of all pairwise vertex sums. It is the slow baseline the
vectorised engine is measured against, not something the pipeline calls.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


def _hull_vertices(geom: BaseGeometry) -> np.ndarray:
    """Vertices (k, 2) of a convex geometry (Polygon, LineString or Point)."""
    if geom.geom_type == "Polygon":
        return np.asarray(geom.exterior.coords)[:-1]
    return np.asarray(geom.coords)


def bruteforce_sum_hour(vertex_sets_hour: list[np.ndarray]) -> BaseGeometry:
    """Minkowski sum of one hour's convex sets with shapely, pairwise.

    Parameters
    ----------
    vertex_sets_hour : list of numpy.ndarray
        Each (n_vertices_k, 2), the vertices of one group's set in that hour.

    Returns
    -------
    shapely geometry
        The sum as a Polygon (or LineString/Point if degenerate).
    """
    acc = _hull(vertex_sets_hour[0])
    for verts in vertex_sets_hour[1:]:
        a, b = _hull_vertices(acc), _hull_vertices(_hull(verts))
        acc = _hull((a[:, None, :] + b[None, :, :]).reshape(-1, 2))
    return acc


def _hull(points: np.ndarray) -> BaseGeometry:
    """GEOS's convex hull of the distinct points.

    GEOS 3.14 may return a wrong, self-intersecting ring for a thin set of points given with
    repeats (the pairwise sums of a tap changer's thin polygon with itself: 0.164 instead
    of 0.224 MW x Mvar); it is right on the same points without repeats.
    """
    return shapely.convex_hull(shapely.multipoints(np.unique(np.asarray(points, float), axis=0)))


def bruteforce_minkowski(vertex_sets: list[np.ndarray], hours=None) -> list[BaseGeometry]:
    """The per-hour loop: :func:`bruteforce_sum_hour` for each hour.

    Parameters
    ----------
    vertex_sets : list of numpy.ndarray
        Each (n_hours, n_vertices_k, 2), as for :func:`atlas.engine.envelope.minkowski_sum`.
    hours : iterable of int, optional
        Hours to compute (default: all).

    Returns
    -------
    list of shapely geometries, one per hour computed.
    """
    n_hours = vertex_sets[0].shape[0]
    hours = range(n_hours) if hours is None else hours
    return [bruteforce_sum_hour([v[h] for v in vertex_sets]) for h in hours]


def bruteforce_extents(geom: BaseGeometry) -> dict[str, float]:
    """The four figures read off a deviation polygon (generator convention). [MW, Mvar]"""
    xmin, ymin, xmax, ymax = geom.bounds
    return {"p_up_mw": xmax, "p_down_mw": -xmin, "q_up_mvar": ymax, "q_down_mvar": -ymin}
