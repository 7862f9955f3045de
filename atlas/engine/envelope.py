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
    or coincident (given each once: GEOS 3.14's hull of points with repeats can be wrong,
    :func:`atlas.testing.bruteforce_sum_hour`).
    """
    # imported here: the main process of a run on worker processes never builds a hull
    from scipy.spatial import ConvexHull, QhullError

    pts = np.ascontiguousarray(points, dtype=float).reshape(-1, 2)
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return shapely.convex_hull(shapely.multipoints(unique_points(pts)))
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


def unique_points(points: np.ndarray) -> np.ndarray:
    """The distinct points, sorted by x then y: ``numpy.unique(points, axis=0)``, faster.

    Parameters
    ----------
    points : numpy.ndarray
        (n, 2) float coordinates. [MW, Mvar]

    Returns
    -------
    numpy.ndarray
        (n_unique, 2), the same array as ``numpy.unique(points, axis=0)``.

    Notes
    -----
    A lexicographic sort of the two columns and a comparison of neighbours, about four
    times faster than numpy's sort of the rows as records. Equal finite floats have equal
    bits except 0.0 and -0.0, so which copy of a repeated point is kept cannot show; with
    a signed zero, a NaN or an infinity among the points (where the two sorts may order or
    keep differently) numpy's own function is used.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {pts.shape}")
    if not np.isfinite(pts).all() or np.any(np.signbit(pts) & (pts == 0.0)):
        return np.unique(pts, axis=0)
    ordered = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=keep[1:])
    return ordered[keep]


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
    pts = unique_points(np.asarray(ps_point, dtype=float).reshape(-1, 2))
    # GEOS's hulls read only the distinct coordinates of their input (the concave hull
    # triangulates them, DelaunayTriangulationBuilder::setSites), so a line through the
    # points gives the same hulls as the multipoint, and it is one coordinate sequence
    # (0.1 ms for 8760 points) instead of 8760 point geometries (6 ms)
    cloud = shapely.linestrings(pts) if len(pts) >= 2 else shapely.multipoints(pts)
    return {
        "cloud_convex": shapely.convex_hull(cloud),
        "cloud_concave": shapely.concave_hull(cloud, ratio=concave_ratio, allow_holes=False),
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


#: Directions of the support-function screens of :func:`yearly_envelope_pruned` and
#: :func:`hours_over_rating` (speed only, never the result).
N_SCREEN_DIRECTIONS = 64

#: Elements (hours x directions) of one block of the support-bound products: 64 Ki
#: doubles, 512 KiB per array, so that a block's working arrays stay in the CPU's cache
#: instead of streaming (n_hours, n_directions) arrays through memory once per group.
#: Speed only: every element is the same product as without blocks.
BOUND_BLOCK_ELEMENTS = 65_536

#: Relative allowance, per group and per unit of an hour's magnitudes, for rounding in the
#: support bounds (:class:`SupportBound`). Rounding is below 1e-15 per group; 1e-12 leaves
#: room, and a larger allowance only makes the cheap bound settle fewer hours. [-]
BOUND_ROUNDING_ALLOWANCE = 1e-12


def unit_directions(n: int) -> np.ndarray:
    """n unit vectors evenly spread counter-clockwise from angle 0.

    Parameters
    ----------
    n : int
        Number of directions.

    Returns
    -------
    numpy.ndarray
        (n, 2), ``(cos a_i, sin a_i)`` with ``a_i = 2 pi i / n``. [-]
    """
    ang = np.arange(n) * (TWO_PI / n)
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


def _hour_blocks(n_rows: int, n_dirs: int) -> list[tuple[int, int]]:
    """(start, stop) of the blocks of rows (hours) of the support-bound products.

    No block has a single row unless there is only one: numpy multiplies a one-row matrix
    with a vector product (gemv), whose rounding may differ from the matrix product (gemm)
    of every other row. With fewer than two directions the products are vector products
    throughout, and one block keeps them as for all rows at once.
    """
    if n_dirs < 2:
        return [(0, n_rows)]
    size = max(2, BOUND_BLOCK_ELEMENTS // n_dirs)
    stops = [*range(size, n_rows, size), n_rows]
    if len(stops) > 1 and stops[-1] - stops[-2] == 1:
        del stops[-2]  # the last row joins the block before it
    return list(zip([0, *stops[:-1]], stops, strict=True))


def _direction_coefficients(directions: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unit directions u (n, 2) as the three coefficient matrices of the bound's products.

    Returns
    -------
    u_t : (2, n) for ``x . u``; box : (4, n) for a group's box support in ``w = -u``
    from its figures (p_up, p_down, q_up, q_down); disc : (2, n) for its enclosing disc's
    support from (centre dp, radius).
    """
    u = np.ascontiguousarray(directions, dtype=float).reshape(-1, 2)
    w = -u  # directions in deviation coordinates
    wx, wy = w[:, 0], w[:, 1]
    box = np.stack([np.maximum(wx, 0), np.maximum(-wx, 0), np.maximum(wy, 0), np.maximum(-wy, 0)])
    disc = np.stack([wx, np.ones_like(wx)])  # centre on the p axis; |w| = 1
    return u.T, box, disc


def _bound_products(
    point: np.ndarray,
    terms: list[tuple[np.ndarray, np.ndarray]],
    directions: np.ndarray,
) -> np.ndarray:
    """``x . u + sum over terms of min(box support, disc support)``, block by block.

    point : (m, 2); terms : per group (extents (m, 4), disc (m, 2)), all C-contiguous;
    directions : (n, 2). Returns (m, n). Each element is the matrix product of the same
    rows and coefficients as for all rows at once, and the terms are added in order.
    """
    u_t, box_coef, disc_coef = _direction_coefficients(directions)
    n_rows, n_dirs = len(point), u_t.shape[1]
    total = np.empty((n_rows, n_dirs))
    blocks = _hour_blocks(n_rows, n_dirs)
    largest = max((stop - start for start, stop in blocks), default=0)
    box_buf = np.empty((largest, n_dirs))
    disc_buf = np.empty((largest, n_dirs))
    for start, stop in blocks:
        out = total[start:stop]  # (rows, n_directions), views from here on
        box, disc = box_buf[: stop - start], disc_buf[: stop - start]
        np.matmul(point[start:stop], u_t, out=out)
        for extents, centre_radius in terms:
            np.matmul(extents[start:stop], box_coef, out=box)
            np.matmul(centre_radius[start:stop], disc_coef, out=disc)
            np.minimum(box, disc, out=box)
            out += box
    return total


class SupportBound:
    """Upper bounds of the support function of one PS's hourly envelopes ``x(t) - E(t)``.

    Built once per PS and scenario, it answers the questions that
    :func:`yearly_envelope_pruned` and :func:`hours_over_rating` ask of the bound of
    :func:`envelope_support_bound` (which hour is largest in a direction, which hours lie
    below given levels in every direction, which reach beyond a rating), with exactly that
    bound's answers, but evaluates it only for the hours where a cheaper, looser bound
    leaves the answer open.

    Parameters
    ----------
    ps_point : numpy.ndarray
        (n_hours, 2) PS point, load convention. [MW, Mvar]
    specs : list of atlas.engine.capability.DerSpec
        The PS's DER groups in one scenario (for their enclosing discs).
    sets : list of DeviationSet, optional
        Their figures over all hours, same order as ``specs`` (computed if not given).

    Attributes
    ----------
    point : numpy.ndarray
        (n_hours, 2) the PS point, C-contiguous. [MW, Mvar]
    n_hours : int
    terms : list of (numpy.ndarray, numpy.ndarray)
        Per group, its figures (n_hours, 4) ``p_up, p_down, q_up, q_down`` [MW, Mvar] and
        its enclosing disc (n_hours, 2) ``centre dp, radius`` [MW, MVA].
    finite : bool
        Whether every input is finite (else every question is answered from h itself).

    Notes
    -----
    The bound h(t, u) of :func:`envelope_support_bound` is ``u . x(t)`` plus, per group g,
    ``min(b_g, d_g)``: the supports of the group's bounding box and enclosing disc in
    ``-u``. Both are linear in the group's figures and disc, so the summed figures and the
    summed discs give ``sum b_g`` and ``sum d_g``, and since a sum of minima is at most the
    minimum of the sums,

        ``g(t, u) = min(u . x(t) + sum_g b_g, u . x(t) + sum_g d_g) + a(t) >= h(t, u)``

    at the cost of two matrix products (point, summed figures or disc and ``a`` side by
    side, against the directions' coefficients) instead of two per group. ``a(t)`` covers
    rounding: computed in floating point, h is off its exact value by less than
    ``(6 + n_groups) 2**-53 s(t)`` and g by less than ``(7 + n_groups) 2**-53 s(t)``,
    ``s(t)`` the sum of the absolute values of the hour's point, figures, disc centres and
    radii; ``a(t) = BOUND_ROUNDING_ALLOWANCE (1 + n_groups) s(t) + 1e-300`` is far more
    than both together (its last term for magnitudes so small that rounding is no longer
    relative). So g as computed bounds h as computed. Where g
    settles a question (an hour below a level in every direction, or never the largest in
    a direction), h is not computed; elsewhere it is, row by row as for all hours
    (:func:`envelope_support_bound`), so every answer is bit for bit the one from h over
    all hours. With a non-finite input, or fewer than two hours or directions, h is
    computed for all hours.
    """

    def __init__(
        self, ps_point: np.ndarray, specs: list, sets: list[DeviationSet] | None = None
    ) -> None:
        if sets is None:
            sets = [s.sets(with_vertices=False) for s in specs]
        self.point = np.ascontiguousarray(ps_point, dtype=float)  # (n_hours, 2)
        self.n_hours = len(self.point)
        # per group: (n_hours, 4) figures p_up, p_down, q_up, q_down [MW, Mvar] and
        # (n_hours, 2) enclosing disc, centre dp and radius [MW, MVA]
        self.terms = [
            (
                np.asarray(np.stack([s.p_up, s.p_down, s.q_up, s.q_down], axis=1), dtype=float),
                np.asarray(np.stack(spec.enclosing_disc(), axis=1), dtype=float),
            )
            for spec, s in zip(specs, sets, strict=True)
        ]
        n_groups = len(self.terms)
        # the looser bound's operands: [P, Q, summed figures, a] and [P, Q, summed centre,
        # summed radius, a], (n_hours, 7) and (n_hours, 5) [MW, Mvar]
        extents_sum = np.zeros((self.n_hours, 4))
        disc_sum = np.zeros((self.n_hours, 2))
        scale = np.abs(self.point) @ np.ones(2)  # s(t) of the Notes, (n_hours,)
        for extents, disc in self.terms:
            extents_sum += extents
            disc_sum += disc
            scale += np.abs(extents) @ np.ones(4) + np.abs(disc) @ np.ones(2)
        allowance = (BOUND_ROUNDING_ALLOWANCE * (1 + n_groups) * scale + 1e-300)[:, None]
        self._box_rows = np.concatenate([self.point, extents_sum, allowance], axis=1)
        self._disc_rows = np.concatenate([self.point, disc_sum, allowance], axis=1)
        self._screens: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.finite = bool(np.isfinite(scale).all())  # NaN or infinity anywhere, or overflow

    def exact(self, directions: np.ndarray, hours: np.ndarray | None = None) -> np.ndarray:
        """The bound of :func:`envelope_support_bound`, for all hours or some.

        Parameters
        ----------
        directions : numpy.ndarray
            (n_directions, 2) unit vectors u. [-]
        hours : numpy.ndarray of int, optional
            Indices of the hours (default all).

        Returns
        -------
        numpy.ndarray
            (n_hours or len(hours), n_directions), the same values bit for bit as the
            rows of ``envelope_support_bound`` over all hours. [MW]
        """
        if hours is None:
            return _bound_products(self.point, self.terms, directions)
        hours = np.asarray(hours, dtype=np.intp)
        single = hours.size == 1 and self.n_hours > 1
        if single:  # a one-row product would be a vector product (see _hour_blocks)
            hours = np.repeat(hours, 2)
        out = _bound_products(
            self.point[hours], [(e[hours], d[hours]) for e, d in self.terms], directions
        )
        return out[:1] if single else out

    def upper(self, directions: np.ndarray) -> np.ndarray:
        """The looser bound g of the Notes, rounding allowance included.

        Parameters
        ----------
        directions : numpy.ndarray
            (n_directions, 2) unit vectors u. [-]

        Returns
        -------
        numpy.ndarray
            (n_hours, n_directions), at least :meth:`exact` as computed, element by
            element (for finite inputs). [MW]
        """
        u_t, box_coef, disc_coef = _direction_coefficients(directions)
        ones = np.ones((1, u_t.shape[1]))
        box_coef = np.concatenate([u_t, box_coef, ones])  # (7, n_directions)
        disc_coef = np.concatenate([u_t, disc_coef, ones])  # (5, n_directions)
        out = np.empty((self.n_hours, u_t.shape[1]))
        blocks = _hour_blocks(self.n_hours, u_t.shape[1])
        largest = max((stop - start for start, stop in blocks), default=0)
        disc_buf = np.empty((largest, u_t.shape[1]))
        for start, stop in blocks:
            block, disc = out[start:stop], disc_buf[: stop - start]
            np.matmul(self._box_rows[start:stop], box_coef, out=block)
            np.matmul(self._disc_rows[start:stop], disc_coef, out=disc)
            np.minimum(block, disc, out=block)
        return out

    def _narrowed(self, n_directions: int) -> bool:
        return self.finite and self.n_hours >= 2 and n_directions >= 2

    def screen(self, n_directions: int = N_SCREEN_DIRECTIONS) -> tuple[np.ndarray, np.ndarray]:
        """The evenly spread directions and :meth:`upper` in them, computed once.

        Returns
        -------
        directions : numpy.ndarray
            (n_directions, 2), :func:`unit_directions`. [-]
        upper : numpy.ndarray
            (n_hours, n_directions). [MW]
        """
        if n_directions not in self._screens:
            dirs = unit_directions(n_directions)
            self._screens[n_directions] = (dirs, self.upper(dirs))
        return self._screens[n_directions]

    def largest_hours(self, n_directions: int = N_SCREEN_DIRECTIONS) -> np.ndarray:
        """For each evenly spread direction, the hour of the largest bound.

        Returns
        -------
        numpy.ndarray
            (n_directions,) int: ``argmax(exact(unit_directions(n)), axis=0)``, the first
            such hour where several tie.

        Notes
        -----
        The exact bound is computed for the hours that are largest by ``upper`` in some
        direction (their exact values give a lower limit L of each direction's maximum),
        then for every hour whose ``upper`` reaches L in some direction: only those can
        hold a maximum, and all hours that hold one are among them.
        """
        if not self._narrowed(n_directions):
            return np.argmax(self.exact(unit_directions(n_directions)), axis=0)
        dirs, upper = self.screen(n_directions)
        first = np.flatnonzero(np.any(upper == upper.max(axis=0), axis=1))  # largest by g
        floor = self.exact(dirs, first).max(axis=0)  # (n_directions,) <= each maximum
        hours = np.flatnonzero(np.any(upper >= floor, axis=1))  # includes ``first``
        return hours[np.argmax(self.exact(dirs, hours), axis=0)]

    def below(self, directions: np.ndarray, level: np.ndarray) -> np.ndarray:
        """Hours whose bound is below the level in every direction.

        Parameters
        ----------
        directions : numpy.ndarray
            (n_directions, 2) unit vectors u. [-]
        level : numpy.ndarray
            (n_directions,) levels. [MW]

        Returns
        -------
        numpy.ndarray
            (n_hours,) bool: ``all(exact(directions) < level, axis=1)``.
        """
        level = np.asarray(level, dtype=float)
        if not self._narrowed(len(directions)):
            return np.all(self.exact(directions) < level, axis=1)
        out = np.all(self.upper(directions) < level, axis=1)
        open_hours = np.flatnonzero(~out)
        if open_hours.size:
            out[open_hours] = np.all(self.exact(directions, open_hours) < level, axis=1)
        return out

    def reach_above(self, level: float, n_directions: int = N_SCREEN_DIRECTIONS) -> np.ndarray:
        """Hours whose envelope may reach beyond a distance from the origin.

        Parameters
        ----------
        level : float
            Distance from the origin of the P-Q plane. [MVA]
        n_directions : int, default :data:`N_SCREEN_DIRECTIONS`

        Returns
        -------
        numpy.ndarray
            Sorted hour indices where ``max_u h(u) / cos(pi / n_directions) > level``, h
            the exact bound over the evenly spread directions (see
            :func:`hours_over_rating`).
        """
        cos_half = np.cos(np.pi / n_directions)
        if not self._narrowed(n_directions):
            reach = self.exact(unit_directions(n_directions)).max(axis=1) / cos_half
            return np.flatnonzero(reach > level)
        dirs, upper = self.screen(n_directions)
        hours = np.flatnonzero(upper.max(axis=1) / cos_half > level)
        if hours.size == 0:
            return hours
        return hours[self.exact(dirs, hours).max(axis=1) / cos_half > level]


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
        (n_directions, 2) unit vectors u in the P-Q plane. [-]

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

    The products run over blocks of hours (:data:`BOUND_BLOCK_ELEMENTS`); each element is
    the same matrix product of the same operands as for all hours at once and the groups
    are added in the same order, so the result does not depend on the blocks (the tests
    check it bit for bit). :class:`SupportBound` answers the screens' questions from this
    bound without computing it for every hour.
    """
    return SupportBound(ps_point, specs, sets).exact(directions)


def _support_bound(
    bound: SupportBound | None, ps_point: np.ndarray, specs: list, sets: list[DeviationSet]
) -> SupportBound:
    """``bound`` if given (after a size check), else a new :class:`SupportBound`."""
    if bound is None:
        return SupportBound(ps_point, specs, sets)
    if bound.n_hours != len(ps_point) or len(bound.terms) != len(specs):
        raise ValueError(
            f"bound is for {bound.n_hours} hours and {len(bound.terms)} groups, expected "
            f"{len(ps_point)} and {len(specs)}: the SupportBound of the same PS point and groups"
        )
    return bound


def yearly_envelope_pruned(
    ps_point: np.ndarray,
    specs: list,
    sets: list[DeviationSet] | None = None,
    n_directions: int = N_SCREEN_DIRECTIONS,
    seed_every: int = 0,
    *,
    bound: SupportBound | None = None,
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
    n_directions : int, default :data:`N_SCREEN_DIRECTIONS`
        Directions in which the hour with the largest support bound is a seed.
    seed_every : int, default 0
        Every ``seed_every``-th hour is a seed too (97, say, prime to 24 and to 168,
        samples every hour of the day and of the week); 0 for none. Seeds change the speed
        only, never the result: the direction seeds alone make an inner polygon that
        screens out as many hours, and a run is about a quarter faster without the sample
        (measured on the Milan demo and a synthetic national study, docs/scale.md).
    bound : SupportBound, optional
        ``SupportBound(ps_point, specs, sets)`` if already built, to share it (and its
        screen in ``n_directions``) with :func:`hours_over_rating`; built here if not
        given. The result is the same either way.

    Returns
    -------
    shapely geometry
        Exactly the hull of all hourly envelope vertices (the same as
        :func:`yearly_envelope`), in load convention.

    Notes
    -----
    Seed hours (the best in each direction by the support bound, and a regular sample if
    ``seed_every`` is given)
    get their polygons; the hull of their vertices, an inner polygon P made of true
    vertices. An hour whose support bound (:func:`envelope_support_bound`) is below P's in
    the normal of every edge of P lies strictly inside P and cannot change the hull; the
    polygons of the other hours are built and the hull taken over seeds and survivors.
    :class:`SupportBound` answers both questions without computing the bound for hours
    that a cheaper bound settles.
    """
    ps_point = np.asarray(ps_point, dtype=float)
    n_hours = len(ps_point)
    if not specs:
        return convex_hull(ps_point)
    if sets is None:
        sets = [s.sets(with_vertices=False) for s in specs]
    bound = _support_bound(bound, ps_point, specs, sets)

    def vertices(hours: np.ndarray) -> np.ndarray:
        polys = minkowski_sum([s.sets(hours).vertices for s in specs])
        return ps_envelope_vertices(ps_point[hours], polys).reshape(-1, 2)

    sample = np.arange(0, n_hours, seed_every) if seed_every else np.arange(0)
    seeds = np.unique(np.r_[bound.largest_hours(n_directions), sample])
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
    inside = bound.below(normal, offset - tol)
    inside[seeds] = True  # already in
    rest = np.flatnonzero(~inside)
    pts = seed_pts if rest.size == 0 else np.concatenate([seed_pts, vertices(rest)])
    return convex_hull(pts)


#: Relative margin by which an extreme point of an hour's envelope must lie beyond the
#: rating for :func:`hours_over_rating` to count the hour without building its polygon
#: (the polygon's vertices differ from the exact extremes by rounding, below 1e-13). [-]
EXTREME_POINT_MARGIN = 1e-9


def _extremes_beyond(
    point: np.ndarray, sets: list[DeviationSet], hours: np.ndarray, rated_mva: float
) -> np.ndarray:
    """Hours whose envelope surely has a vertex beyond ``rated_mva``, from the figures alone.

    Parameters
    ----------
    point : numpy.ndarray
        (n, 2) PS point (P, Q) in the hours, load convention. [MW, Mvar]
    sets : list of DeviationSet
        The groups' figures over all hours.
    hours : numpy.ndarray of int
        (n,) the hours.
    rated_mva : float
        [MVA]

    Returns
    -------
    numpy.ndarray
        (n,) bool.

    Notes
    -----
    Each group's polygon reaches its exact figures (its extents are exact, module
    :mod:`atlas.engine.capability`), and extents add under a Minkowski sum, so the hour's
    envelope polygon ``x - E`` has a vertex with ``P + p_down`` as its P coordinate, where
    ``p_down`` is the sum of the groups' figures, whatever its Q; likewise ``P - p_up``,
    ``Q + q_down`` and ``Q - q_up``. That vertex is at least as far from the origin as
    its one coordinate, so an hour where one of the four lies beyond ``rated_mva`` by more
    than :data:`EXTREME_POINT_MARGIN` of the hour's magnitudes (far more than the
    rounding of the polygon's vertices) has ``sqrt(P^2 + Q^2) > rated_mva`` at a vertex as
    built: :func:`hours_over_rating` would find it so from the polygon.
    """
    figures = np.zeros((4, len(hours)))  # p_up, p_down, q_up, q_down, summed over groups
    for s in sets:
        figures += np.stack([s.p_up[hours], s.p_down[hours], s.q_up[hours], s.q_down[hours]])
    p, q = point[:, 0], point[:, 1]
    p_up, p_down, q_up, q_down = figures
    reach = np.max(
        np.abs(np.stack([p + p_down, p - p_up, q + q_down, q - q_up])), axis=0
    )  # (n,) [MVA]
    magnitude = 1.0 + np.abs(p) + np.abs(q) + np.abs(figures).sum(axis=0)
    return reach > rated_mva + EXTREME_POINT_MARGIN * magnitude


def hours_over_rating(
    ps_point: np.ndarray,
    specs: list,
    sets: list[DeviationSet] | None,
    rated_mva: float,
    n_directions: int = N_SCREEN_DIRECTIONS,
    *,
    bound: SupportBound | None = None,
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
    n_directions : int, default :data:`N_SCREEN_DIRECTIONS`
        Directions of the support-function screen (speed only, never the result).
    bound : SupportBound, optional
        ``SupportBound(ps_point, specs, sets)`` if already built, to share it (and its
        screen in ``n_directions``) with :func:`yearly_envelope_pruned`; built here if
        not given. The result is the same either way.

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
    ``|z| cos(pi / n) <= u . z <= h(u)``. Of the other hours, those where the envelope's
    extreme P or Q alone lies beyond the rating are counted from the figures
    (:func:`_extremes_beyond`); the polygons of the rest are built and their vertices
    checked.
    """
    ps_point = np.asarray(ps_point, dtype=float)
    n_hours = len(ps_point)
    if not np.isfinite(rated_mva):
        return np.zeros(n_hours, dtype=bool)
    if not specs:
        return np.hypot(ps_point[:, 0], ps_point[:, 1]) > rated_mva
    if sets is None:
        sets = [s.sets(with_vertices=False) for s in specs]
    bound = _support_bound(bound, ps_point, specs, sets)
    out = np.zeros(n_hours, dtype=bool)
    candidates = bound.reach_above(rated_mva, n_directions)
    if candidates.size:
        sure = _extremes_beyond(ps_point[candidates], sets, candidates, rated_mva)
        out[candidates[sure]] = True
        candidates = candidates[~sure]
    for start in range(0, candidates.size, 2048):  # bounded memory for many candidates
        hours = candidates[start : start + 2048]
        polys = minkowski_sum([s.sets(hours).vertices for s in specs])
        verts = ps_envelope_vertices(ps_point[hours], polys)  # (n, n_vertices, 2)
        out[hours] = np.hypot(verts[..., 0], verts[..., 1]).max(axis=1) > rated_mva
    return out
