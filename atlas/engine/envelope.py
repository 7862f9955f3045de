"""Aggregation at the primary substation: the four figures, Minkowski polygons, yearly hull.

For hour t, with E_k(t) the deviation set of DER group k (generator convention), the
aggregated deviation set is the Minkowski sum E(t) = E_1(t) + E_2(t) + ..., and the PS
envelope in load convention is {x(t)} - E(t), x(t) = (P_ps(t), Q_ps(t)) the measured PS point.

The figures are extents, which add up under a Minkowski sum: they are summed exactly, never
read off polygons. The polygons are built by merging the groups' edges sorted by angle,
vectorised over hours (no per-hour Python loop, no shapely call in the hot path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import ConvexHull, QhullError
from shapely.geometry.base import BaseGeometry

from atlas.conventions import FIGURES, TECHNOLOGIES
from atlas.engine.capability import DeviationSet

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class DerGroup:
    """One group of DERs under a PS: a technology with one parameter set.

    Attributes
    ----------
    technology : str
        One of :data:`atlas.conventions.TECHNOLOGIES`.
    label : str
        A readable name, e.g. ``"pv"`` or ``"ev/v2g"``.
    sets : DeviationSet
        Its hourly deviation sets (generator convention).
    """

    technology: str
    label: str
    sets: DeviationSet


@dataclass(frozen=True)
class PsFlexibility:
    """Hourly flexibility of one PS in one scenario (generator convention figures).

    Attributes
    ----------
    figures : dict of numpy.ndarray
        ``p_up_mw``, ``p_down_mw``, ``q_up_mvar``, ``q_down_mvar``, each (n_hours,), >= 0.
    by_technology : dict of numpy.ndarray
        ``{figure}_{tech}`` for every technology of :data:`TECHNOLOGIES`, 0 where absent.
    vertices : numpy.ndarray or None
        Vertices of E(t), counter-clockwise, (n_hours, n_vertices, 2), dp and dq. [MW, Mvar]
    """

    figures: dict[str, np.ndarray]
    by_technology: dict[str, np.ndarray]
    vertices: np.ndarray | None


def aggregate_figures(groups: list[DerGroup], n_hours: int) -> tuple[dict, dict]:
    """Sum the groups' figures, in total and per technology.

    Parameters
    ----------
    groups : list of DerGroup
    n_hours : int

    Returns
    -------
    figures, by_technology : dict of numpy.ndarray
        See :class:`PsFlexibility`.
    """
    attr = {"p_up_mw": "p_up", "p_down_mw": "p_down", "q_up_mvar": "q_up", "q_down_mvar": "q_down"}
    by_tech = {f"{fig}_{tech}": np.zeros(n_hours) for fig in FIGURES for tech in TECHNOLOGIES}
    for g in groups:
        for fig, a in attr.items():
            by_tech[f"{fig}_{g.technology}"] += getattr(g.sets, a)
    figures = {fig: sum(by_tech[f"{fig}_{tech}"] for tech in TECHNOLOGIES) for fig in FIGURES}
    return figures, by_tech


def minkowski_sum(vertex_sets: list[np.ndarray]) -> np.ndarray:
    """Minkowski sum of convex polygons, hour by hour, by merging edges sorted by angle.

    Parameters
    ----------
    vertex_sets : list of numpy.ndarray
        Each (n_hours, n_vertices_k, 2), the vertices of a convex polygon per hour in
        counter-clockwise order; repeated vertices and degenerate polygons (a segment, a
        point) are allowed.

    Returns
    -------
    numpy.ndarray
        (n_hours, sum_k n_vertices_k, 2): the vertices of the sum, counter-clockwise, with
        repeated vertices where edges have zero length.

    Notes
    -----
    The edges of a convex polygon, walked counter-clockwise, turn monotonically through one
    full turn; the sum's edges are all the summands' edges sorted by angle. Their cumulative
    sum gives the sum's shape up to a translation, which is fixed exactly by the bounding box:
    the sum's lowest x (y) is the sum of the summands' lowest x (y).
    """
    if not vertex_sets:
        raise ValueError("minkowski_sum needs at least one polygon")
    if len(vertex_sets) == 1:
        return vertex_sets[0].copy()
    n_hours = vertex_sets[0].shape[0]
    n_edges = sum(v.shape[1] for v in vertex_sets)
    # edge components, x and y apart for contiguous gathers: (n_hours, n_edges) each
    ex = np.empty((n_hours, n_edges))
    ey = np.empty((n_hours, n_edges))
    low_x = np.zeros(n_hours)
    low_y = np.zeros(n_hours)
    j = 0
    for v in vertex_sets:
        k = v.shape[1]
        for comp, e, low in ((v[..., 0], ex, low_x), (v[..., 1], ey, low_y)):
            np.subtract(comp[:, 1:], comp[:, :-1], out=e[:, j : j + k - 1])
            np.subtract(comp[:, 0], comp[:, -1], out=e[:, j + k - 1])
            low += comp.min(axis=1)
        j += k
    angle = np.arctan2(ey, ex)  # (-pi, pi]
    angle[angle < 0.0] += TWO_PI
    # a zero-length edge has no direction; it adds nothing wherever it sorts
    flat = np.argsort(angle, axis=1)
    flat += (np.arange(n_hours) * n_edges)[:, None]
    out = np.empty((n_hours, n_edges, 2))
    for c, (e, low) in enumerate(((ex, low_x), (ey, low_y))):
        shape = np.cumsum(np.take(e, flat), axis=1)  # closes at the start
        out[..., c] = shape + (low - shape.min(axis=1))[:, None]
    return out


def shoelace_area(vertices: np.ndarray) -> np.ndarray:
    """Area of polygons given as (..., n_vertices, 2) counter-clockwise vertices. [MW Mvar]"""
    x, y = vertices[..., 0], vertices[..., 1]
    return 0.5 * np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1)


def ps_flexibility(
    groups: list[DerGroup], n_hours: int, with_polygons: bool = True
) -> PsFlexibility:
    """The four figures, the per-technology breakdown and the polygons E(t) of one PS.

    Parameters
    ----------
    groups : list of DerGroup
        The PS's DER groups in one scenario, each with vertices if ``with_polygons``.
    n_hours : int
    with_polygons : bool, default True

    Returns
    -------
    PsFlexibility
        With no group, the figures are zero and E(t) is the point (0, 0).
    """
    figures, by_tech = aggregate_figures(groups, n_hours)
    vertices = None
    if with_polygons:
        sets = [g.sets.vertices for g in groups if g.sets.vertices is not None]
        vertices = minkowski_sum(sets) if sets else np.zeros((n_hours, 1, 2))
    return PsFlexibility(figures, by_tech, vertices)


def ps_envelope_vertices(ps_point: np.ndarray, deviation_vertices: np.ndarray) -> np.ndarray:
    """Hourly PS envelopes in load convention: ``x(t) - E(t)``.

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2), the measured PS point (P, Q), load convention. [MW, Mvar]
    deviation_vertices : numpy.ndarray
        (n_hours, n_vertices, 2), E(t), generator convention. [MW, Mvar]

    Returns
    -------
    numpy.ndarray
        (n_hours, n_vertices, 2), load convention, counter-clockwise (a point reflection
        keeps the orientation).
    """
    return ps_point[:, None, :] - deviation_vertices


def convex_hull(points: np.ndarray) -> BaseGeometry:
    """Convex hull of points (n, 2): a Polygon, or a LineString or Point if degenerate.

    Qhull (scipy) for full-dimensional sets, shapely (GEOS) when the points are collinear
    or coincident.
    """
    pts = np.ascontiguousarray(points, dtype=float).reshape(-1, 2)
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return shapely.convex_hull(shapely.multipoints(pts))
    return shapely.Polygon(pts[hull.vertices])  # counter-clockwise


def yearly_envelope(ps_point: np.ndarray, deviation_vertices: np.ndarray) -> BaseGeometry:
    """Yearly envelope of a PS in one scenario, load convention.

    The convex hull of the union over hours of the PS envelopes ``x(t) - E(t)``, i.e. the
    hull of all their vertices (METHOD.md).

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2) measured PS point (P, Q), load convention. [MW, Mvar]
    deviation_vertices : numpy.ndarray
        (n_hours, n_vertices, 2) E(t) in generator convention. [MW, Mvar]

    Returns
    -------
    shapely geometry
        Polygon in the P-Q plane (x = P, y = Q), or LineString/Point when degenerate.

    See Also
    --------
    yearly_envelope_pruned : the same hull, building only the polygons that can touch it.
    """
    return convex_hull(ps_envelope_vertices(np.asarray(ps_point, dtype=float), deviation_vertices))


def cloud_hulls(ps_point: np.ndarray, concave_ratio: float = 0.2) -> dict[str, BaseGeometry]:
    """Convex and concave hulls of the as-is PS cloud (the measured hourly points).

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2), (P, Q) load convention. [MW, Mvar]
    concave_ratio : float, default 0.2
        shapely's ``concave_hull`` ratio: 1 gives the convex hull, smaller values follow the
        cloud more closely. 0.2 keeps the cloud's shape without holes (docs/method.md).

    Returns
    -------
    dict
        ``{"cloud_convex": geometry, "cloud_concave": geometry}``.
    """
    pts = np.unique(np.asarray(ps_point, dtype=float), axis=0)
    multipoint = shapely.multipoints(pts)
    return {
        "cloud_convex": shapely.convex_hull(multipoint),
        "cloud_concave": shapely.concave_hull(multipoint, ratio=concave_ratio, allow_holes=False),
    }


def hourly_polygons(vertices: np.ndarray) -> np.ndarray:
    """Shapely geometries of hourly polygons (n_hours, n_vertices, 2) -> (n_hours,) array.

    Repeated vertices are dropped; a degenerate set becomes its LineString or Point. Meant
    for drawing and inspection, not for the hot path.
    """
    out = np.empty(len(vertices), dtype=object)
    for i, v in enumerate(vertices):
        out[i] = convex_hull(v)
    return out


def _unit_directions(n: int) -> np.ndarray:
    """n unit vectors evenly spread counter-clockwise from angle 0, shape (n, 2)."""
    ang = np.arange(n) * (TWO_PI / n)
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


def envelope_support_bound(
    ps_point: np.ndarray, specs: list, sets: list[DeviationSet], directions: np.ndarray
) -> np.ndarray:
    """Upper bound of the support function of each hour's PS envelope ``x(t) - E(t)``.

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2) PS point, load convention. [MW, Mvar]
    specs : list of atlas.engine.capability.DerSpec
        The groups (for their enclosing discs).
    sets : list of DeviationSet
        The groups' figures over all hours (vertices not needed), same order as ``specs``.
    directions : numpy.ndarray
        (n_directions, 2) unit vectors u in the P-Q plane.

    Returns
    -------
    numpy.ndarray
        (n_hours, n_directions): ``h(u) >= max over the envelope of u . z``. [MW]

    Notes
    -----
    The support of x - E in u is ``u . x + h_E(-u)`` and supports add under a Minkowski
    sum; each group's support is bounded by the smaller of its bounding box's (from the
    exact figures) and its enclosing disc's. The polygons are inscribed in the exact sets,
    so these bound the polygons too.
    """
    w = -np.asarray(directions, dtype=float)  # directions in deviation coordinates
    wx, wy = w[:, 0], w[:, 1]
    box_coef = np.stack(
        [np.maximum(wx, 0), np.maximum(-wx, 0), np.maximum(wy, 0), np.maximum(-wy, 0)]
    )
    disc_coef = np.stack([wx, np.ones_like(wx)])  # centre on the p axis; |w| = 1
    total = ps_point @ np.asarray(directions, dtype=float).T  # (n_hours, n_directions)
    for spec, s in zip(specs, sets, strict=True):
        extents = np.stack([s.p_up, s.p_down, s.q_up, s.q_down], axis=1)  # (n_hours, 4)
        disc = np.stack(spec.enclosing_disc(), axis=1)  # (n_hours, 2)
        total += np.minimum(extents @ box_coef, disc @ disc_coef)
    return total


def yearly_envelope_pruned(
    ps_point: np.ndarray,
    specs: list,
    sets: list[DeviationSet] | None = None,
    n_directions: int = 64,
    seed_every: int = 97,
) -> BaseGeometry:
    """The yearly envelope of :func:`yearly_envelope`, building only the polygons that matter.

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2) PS point, load convention. [MW, Mvar]
    specs : list of atlas.engine.capability.DerSpec
        The PS's DER groups in one scenario.
    sets : list of DeviationSet, optional
        Their figures over all hours (computed if not given).
    n_directions : int, default 64
        Directions in which the hour with the largest support bound is a seed.
    seed_every : int, default 97
        Every ``seed_every``-th hour is a seed too (97, prime to 24 and to 168, samples
        every hour of the day and of the week); 0 for none. Seeds change the speed only,
        never the result.

    Returns
    -------
    shapely geometry
        Exactly the hull of all hourly envelope vertices (the same as
        :func:`yearly_envelope`), in load convention.

    Notes
    -----
    Seed hours (the best in each direction by the support bound, and a regular sample)
    get their polygons; the hull of their vertices, an inner polygon P made of true
    vertices. An hour whose support bound (:func:`envelope_support_bound`) is below P's in
    the normal of every edge of P lies strictly inside P and cannot change the hull; the polygons of the other hours are built and the
    hull taken over seeds and survivors.
    """
    ps_point = np.asarray(ps_point, dtype=float)
    n_hours = len(ps_point)
    if not specs:
        return convex_hull(ps_point)
    if sets is None:
        sets = [s.sets(with_vertices=False) for s in specs]

    def vertices(hours: np.ndarray) -> np.ndarray:
        polys = minkowski_sum([s.sets(hours).vertices for s in specs])
        return ps_envelope_vertices(ps_point[hours], polys).reshape(-1, 2)

    dirs = _unit_directions(n_directions)
    bound = envelope_support_bound(ps_point, specs, sets, dirs)
    sample = np.arange(0, n_hours, seed_every) if seed_every else np.arange(0)
    seeds = np.unique(np.r_[np.argmax(bound, axis=0), sample])
    seed_pts = vertices(seeds)
    inner = convex_hull(seed_pts)
    if inner.geom_type != "Polygon":
        rest = np.setdiff1d(np.arange(n_hours), seeds)
        return convex_hull(np.concatenate([seed_pts, vertices(rest)]))
    corners = np.asarray(shapely.geometry.polygon.orient(inner, 1.0).exterior.coords)[:-1]  # CCW
    edge = np.roll(corners, -1, axis=0) - corners
    length = np.hypot(edge[:, 0], edge[:, 1])
    ok = length > 0
    normal = np.stack([edge[ok, 1], -edge[ok, 0]], axis=1) / length[ok, None]  # outward
    offset = np.sum(normal * corners[ok], axis=1)
    tol = 1e-9 * (1.0 + np.abs(corners).max())
    inside = np.all(envelope_support_bound(ps_point, specs, sets, normal) < offset - tol, axis=1)
    inside[seeds] = True  # already in
    rest = np.flatnonzero(~inside)
    pts = seed_pts if rest.size == 0 else np.concatenate([seed_pts, vertices(rest)])
    return convex_hull(pts)


def hours_over_rating(
    ps_point: np.ndarray,
    specs: list,
    sets: list[DeviationSet] | None,
    rated_mva: float,
    n_directions: int = 64,
) -> np.ndarray:
    """Hours in which a point of the PS envelope lies beyond the PS's rated apparent power.

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2) PS point, load convention. [MW, Mvar]
    specs : list of atlas.engine.capability.DerSpec
        The PS's DER groups in one scenario.
    sets : list of DeviationSet, optional
        Their figures over all hours (computed if not given).
    rated_mva : float
        The PS's rated apparent power (sum of its transformers); NaN gives all False. [MVA]
    n_directions : int, default 64
        Directions of the support-function screen (speed only, never the result).

    Returns
    -------
    numpy.ndarray
        (n_hours,) bool: True where some vertex of the hour's envelope polygon
        ``x(t) - E(t)`` has ``sqrt(P^2 + Q^2) > rated_mva``.

    Notes
    -----
    A convex polygon's farthest point from the origin is a vertex. An hour is cleared
    without building its polygon when ``max_u h(u) / cos(pi / n_directions) <= rated_mva``,
    h the support bound of :func:`envelope_support_bound` over n evenly spread directions u:
    every point z of the envelope lies within half the spacing of some u, so
    ``|z| cos(pi / n) <= u . z <= h(u)``. The polygons of the other hours are built and
    their vertices checked.
    """
    ps_point = np.asarray(ps_point, dtype=float)
    n_hours = len(ps_point)
    if not np.isfinite(rated_mva):
        return np.zeros(n_hours, dtype=bool)
    if not specs:
        return np.hypot(ps_point[:, 0], ps_point[:, 1]) > rated_mva
    if sets is None:
        sets = [s.sets(with_vertices=False) for s in specs]
    bound = envelope_support_bound(ps_point, specs, sets, _unit_directions(n_directions))
    reach = bound.max(axis=1) / np.cos(np.pi / n_directions)  # >= max |z| over the envelope
    out = np.zeros(n_hours, dtype=bool)
    candidates = np.flatnonzero(reach > rated_mva)
    for start in range(0, candidates.size, 2048):  # bounded memory for many candidates
        hours = candidates[start : start + 2048]
        polys = minkowski_sum([s.sets(hours).vertices for s in specs])
        verts = ps_envelope_vertices(ps_point[hours], polys)  # (n, n_vertices, 2)
        out[hours] = np.hypot(verts[..., 0], verts[..., 1]).max(axis=1) > rated_mva
    return out
