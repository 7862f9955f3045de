"""Network-aware figures of one PS: a linear programme per hour and direction.

Generator convention, as in the rest of the engine: resource i (a DER group, a battery, a
STATCOM, ...) deviates by ``(dp_i, dq_i)`` from its operating point of the hour, within its
deviation set of the hour, a convex polygon (:class:`atlas.engine.capability.DeviationSet`).
A power flow linearised at the hour's operating point maps the deviations to the bus voltage
magnitudes and to the active and reactive flows at each branch's sending end::

    v = v0 + Vp dp + Vq dq        [pu]
    f = f0 + Fp dp + Fq dq        [MW]
    g = g0 + Gp dp + Gq dq        [Mvar]

The network-aware figure of a direction is the largest sum of the deviations in that
direction (``sum(dp)`` for p_up, ``-sum(dp)`` for p_down, ``sum(dq)`` for q_up, ``-sum(dq)``
for q_down) such that every bus voltage stays in ``[v_min, v_max]``, every branch's
``(f, g)`` stays inside its rating circle and every resource inside its set (METHOD.md,
"Network-aware figures"). It is never above the network-blind figure, which is the same
programme without the network rows.

Conventions
-----------
- **Rating circles** are replaced by the inscribed regular polygon of
  :data:`N_RATING_SIDES` sides: a flow it accepts never exceeds the rating, and it gives up
  at most ``1 - cos(pi / N_RATING_SIDES)`` (0.48 %) of the rating in the worst direction.
- **A limit already violated at the operating point** (a bus above ``v_max`` before any
  deviation, say) is held where it is: the deviations may not make it worse. Zero deviation
  is then always feasible, so every figure is >= 0, and the hour's binding constraint names
  that limit.
- **Screening.** For each hour the network-blind optimum (each resource at the vertex of its
  set furthest in the direction; among ties the one with the smallest deviation in the other
  axis, then, if that breaks a limit, every resource at one end of its optimal face) is
  checked against the network rows, vectorised over hours. Where it holds, it is
  optimal for the network-aware programme too and nothing is solved. The other hours are
  solved one by one (:func:`_solve_hour`), exactly: by the dual of a single broken row where
  one row binds (:func:`_one_row_optimum`), else by a dual simplex on the hour's rows
  (:func:`_dual_simplex`) started from the last hour's optimal basis, or, in a correction
  round, from the same hour's; its pivots run compiled (:mod:`atlas.network.simplex`:
  about 25 microseconds each, 0.1-0.5 ms per hour-solve on SimBench's grids, where HiGHS
  through ``scipy.optimize.linprog`` took 15-25 ms: benchmarks/RESULTS.md); HiGHS, the
  network rows entering as cutting planes, solves an hour where the dual simplex gives up.
  The hours' polygons, half-planes and limits are made a block of :data:`HOUR_BLOCK` hours
  at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: The four figures, and the unit vector of each in the (dp, dq) plane.
DIRECTIONS = {"p_up": (1.0, 0.0), "p_down": (-1.0, 0.0), "q_up": (0.0, 1.0), "q_down": (0.0, -1.0)}

#: Sides of the polygon inscribed in each branch's rating circle.
N_RATING_SIDES = 32

#: Slack under which a limit counts as met (voltages in pu, flows in MVA). [-]
FEASIBILITY_TOL = 1e-7


@dataclass(frozen=True)
class LinearNetwork:
    """A PS's network linearised at each hour's operating point.

    Sensitivities are either one matrix for every hour, ``(n_bus, n_res)``, or one per hour,
    ``(n_hours, n_bus, n_res)``.

    Attributes
    ----------
    v0 : numpy.ndarray
        (n_hours, n_bus) voltage magnitudes at the operating point. [pu]
    vp, vq : numpy.ndarray
        Voltage sensitivities to each resource's active and reactive injection. [pu/MW],
        [pu/Mvar]
    f0, g0 : numpy.ndarray
        (n_hours, n_branch) active and reactive flow at each branch's sending end. [MW],
        [Mvar]
    fp, fq, gp, gq : numpy.ndarray
        Flow sensitivities, ``(n_branch, n_res)`` or per hour. [MW/MW] ...
    rating : numpy.ndarray
        (n_branch,) apparent-power rating of each branch. [MVA]
    v_min, v_max : float or numpy.ndarray
        Voltage band, one value or one per bus. [pu]
    loss_p, loss_q : numpy.ndarray, optional
        (n_res,) sensitivity of the network losses to each injection. [MW/MW], [MW/Mvar]
    bus_names, branch_names : tuple of str
        For the binding-constraint labels.
    """

    v0: np.ndarray
    vp: np.ndarray
    vq: np.ndarray
    f0: np.ndarray
    g0: np.ndarray
    fp: np.ndarray
    fq: np.ndarray
    gp: np.ndarray
    gq: np.ndarray
    rating: np.ndarray
    v_min: float | np.ndarray = 0.95
    v_max: float | np.ndarray = 1.05
    loss_p: np.ndarray | None = None
    loss_q: np.ndarray | None = None
    bus_names: tuple[str, ...] = ()
    branch_names: tuple[str, ...] = ()

    @property
    def n_hours(self) -> int:
        return int(np.shape(self.v0)[0])

    def at(self, name: str, t: int) -> np.ndarray:
        """A sensitivity matrix at hour ``t``."""
        value = np.asarray(getattr(self, name), dtype=float)
        return value[t] if value.ndim == 3 else value

    def bus_label(self, k: int) -> str:
        return self.bus_names[k] if k < len(self.bus_names) else str(k)

    def branch_label(self, k: int) -> str:
        return self.branch_names[k] if k < len(self.branch_names) else str(k)


@dataclass(frozen=True)
class NetworkFigures:
    """Network-aware figures of one PS, by direction (keys of :data:`DIRECTIONS`).

    Attributes
    ----------
    figure : dict of numpy.ndarray
        (n_hours,) the network-aware figure, >= 0. [MW] or [Mvar]
    blind : dict of numpy.ndarray
        (n_hours,) the network-blind figure of the same sets. [MW] or [Mvar]
    binding : dict of numpy.ndarray
        (n_hours,) text: ``""`` where no network limit binds (the resources' sets do),
        else ``"v_max BUS"``, ``"v_min BUS"`` or ``"rating BRANCH"``, the limit with the
        largest shadow price.
    loss_change : dict of numpy.ndarray
        (n_hours,) change of the network losses that the dispatch causes, linearised. [MW]
    dispatch : dict of numpy.ndarray
        (n_hours, n_res, 2) the optimal deviations ``(dp, dq)``. [MW], [Mvar]
    lp_hours : dict of numpy.ndarray
        (n_hours,) bool: the hours whose blind optimum broke a network limit, optimised.
    method : dict of numpy.ndarray
        (n_hours,) text: how each hour was optimised: ``""`` (its blind optimum or an end of
        its optimal face keeps every limit), ``"dual"`` (one row binds: its exact dual,
        :func:`_one_row_optimum`), ``"simplex"`` (:func:`_dual_simplex`) or ``"highs"``
        (an LP, where the dual simplex gave up).
    basis : dict of numpy.ndarray
        (n_hours,) object: the dual simplex's optimal basis of each hour it solved, else
        None (to start a later solve of the same hours from, ``network_figures(warm=)``).
    """

    figure: dict[str, np.ndarray]
    blind: dict[str, np.ndarray]
    binding: dict[str, np.ndarray]
    loss_change: dict[str, np.ndarray]
    dispatch: dict[str, np.ndarray]
    lp_hours: dict[str, np.ndarray]
    method: dict[str, np.ndarray]
    basis: dict[str, np.ndarray]


def halfplanes(vertices: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Half-planes ``A x <= b`` of convex polygons given by counter-clockwise vertices.

    One row per edge, then the vertices' bounding box (so a degenerate set, a segment or a
    point, is bounded along its length too). A zero-length edge (a repeated vertex, as in
    polygons padded to one vertex count) gives the empty row ``0 x <= 0``.

    Parameters
    ----------
    vertices : numpy.ndarray
        (..., n, 2) counter-clockwise vertices, repeats allowed.

    Returns
    -------
    A : numpy.ndarray
        (..., n + 4, 2) outward normals (unit length, or zero).
    b : numpy.ndarray
        (..., n + 4) offsets.
    """
    v = np.asarray(vertices, dtype=float)
    edges = np.roll(v, -1, axis=-2) - v
    length = np.hypot(edges[..., 0], edges[..., 1])
    scale = np.divide(1.0, length, out=np.zeros_like(length), where=length > tol)
    normals = np.stack([edges[..., 1] * scale, -edges[..., 0] * scale], axis=-1)
    offsets = np.einsum("...ij,...ij->...i", normals, v)
    box_a = np.broadcast_to(
        np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]), (*v.shape[:-2], 4, 2)
    )
    box_b = np.stack(
        [v[..., 0].max(-1), -v[..., 0].min(-1), v[..., 1].max(-1), -v[..., 1].min(-1)], axis=-1
    )
    return np.concatenate([normals, box_a], axis=-2), np.concatenate([offsets, box_b], axis=-1)


def rating_sides(n: int = N_RATING_SIDES) -> tuple[np.ndarray, float]:
    """Unit normals of the polygon inscribed in a unit circle, and its apothem.

    The polygon has vertices on the circle; side k is ``c_k . (f, g) <= cos(pi / n)``.
    """
    theta = 2 * np.pi * (np.arange(n) + 0.5) / n
    return np.column_stack([np.cos(theta), np.sin(theta)]), float(np.cos(np.pi / n))


#: :func:`rating_sides` of :data:`N_RATING_SIDES` sides, made once.
_SIDES, _APOTHEM = rating_sides()


def blind_optimum(
    sets: list[np.ndarray], direction: str, prefer: str = "least", tol: float = 1e-9
) -> np.ndarray:
    """Each resource's vertex furthest in a direction, every hour: (n_hours, n_res, 2).

    Among vertices within ``tol`` of the furthest (a face of the set), ``prefer`` picks the
    one whose deviation in the other axis is the ``"least"`` in magnitude (p_up moves no
    reactive power where the set allows), the ``"lowest"`` or the ``"highest"``.
    """
    c = np.array(DIRECTIONS[direction])
    other = np.abs([c[1], c[0]])  # the other axis: dq for the p figures, dp for the q ones
    out = []
    for vertices in sets:
        v = np.asarray(vertices, dtype=float)  # (n_hours, n_vert, 2)
        score = v @ c
        ties = score >= score.max(axis=1, keepdims=True) - tol
        along = v @ other
        rank = {"least": -np.abs(along), "lowest": -along, "highest": along}[prefer]
        j = np.argmax(np.where(ties, rank, -np.inf), axis=1)
        out.append(np.take_along_axis(v, j[:, None, None], axis=1)[:, 0, :])
    return np.stack(out, axis=1)


def _network_rhs(net: LinearNetwork, t: int | np.ndarray) -> np.ndarray:
    """Right-hand sides of the network rows of hour t (:func:`_network_rows`), or of
    several hours at once (``t`` an array of hours: one row each)."""
    v0 = np.asarray(net.v0, dtype=float)[t]
    n_bus = v0.shape[-1]
    v_max = np.broadcast_to(np.asarray(net.v_max, dtype=float), (n_bus,))
    v_min = np.broadcast_to(np.asarray(net.v_min, dtype=float), (n_bus,))
    # a limit already broken at the operating point may not get worse (module docstring)
    rhs = [np.maximum(v_max, v0) - v0, v0 - np.minimum(v_min, v0)]
    f0, g0 = np.asarray(net.f0, dtype=float)[t], np.asarray(net.g0, dtype=float)[t]
    if f0.shape[-1]:
        sides, apothem = _SIDES, _APOTHEM
        limit = np.asarray(net.rating, dtype=float) * apothem
        # (..., n_sides, n_branch), flattened side by side
        base = sides[:, 0, None] * f0[..., None, :] + sides[:, 1, None] * g0[..., None, :]
        rhs.append((np.maximum(limit, base) - base).reshape(*base.shape[:-2], -1))
    return np.concatenate(rhs, axis=-1)


def _network_lhs(net: LinearNetwork, t: int, x: np.ndarray) -> np.ndarray:
    """``A x`` of the network rows of hour t for a dispatch ``x = [dp; dq]``, without
    making ``A`` (a few hundred products instead of rows x resources)."""
    n_res = len(x) // 2
    dp, dq = x[:n_res], x[n_res:]
    dv = net.at("vp", t) @ dp + net.at("vq", t) @ dq
    out = [dv, -dv]
    if len(np.asarray(net.rating)):
        sides = _SIDES
        df = net.at("fp", t) @ dp + net.at("fq", t) @ dq
        dg = net.at("gp", t) @ dp + net.at("gq", t) @ dq
        out.append((sides[:, :1] * df + sides[:, 1:] * dg).ravel())
    return np.concatenate(out)


def _network_rows(
    net: LinearNetwork, t: int, rows: np.ndarray | None = None, rhs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Network rows ``A [dp; dq] <= b`` of hour t (:func:`row_label` names row k).

    Rows: ``v_max`` of each bus, ``v_min`` of each bus, then side 0 of every branch's rating
    polygon, side 1 of every branch, ... ``rows``: only these (indexes), in that order.
    ``rhs``: :func:`_network_rhs` of the hour, if already made.
    """
    n_bus = np.shape(net.v0)[1]
    n_branch = len(np.asarray(net.rating))
    rhs = _network_rhs(net, t) if rhs is None else rhs
    k = np.arange(len(rhs)) if rows is None else np.asarray(rows, dtype=int)
    vp, vq = net.at("vp", t), net.at("vq", t)
    n_res = vp.shape[1]
    out = np.empty((len(k), 2 * n_res))
    bus = k < 2 * n_bus
    sign = np.where(k[bus] < n_bus, 1.0, -1.0)[:, None]
    b = k[bus] % n_bus
    out[bus] = sign * np.hstack([vp[b], vq[b]])
    if n_branch and (~bus).any():
        sides = _SIDES
        j, br = np.divmod(k[~bus] - 2 * n_bus, n_branch)
        c, s = sides[j, :1], sides[j, 1:]
        fp, fq, gp, gq = (net.at(n, t)[br] for n in ("fp", "fq", "gp", "gq"))
        out[~bus] = np.hstack([c * fp + s * gp, c * fq + s * gq])
    return out, rhs[k]


def row_label(net: LinearNetwork, k: int) -> str:
    """The limit of network row k (:func:`_network_rows`): ``"v_max BUS"`` and so on."""
    n_bus = np.shape(net.v0)[1]
    if k < n_bus:
        return f"v_max {net.bus_label(k)}"
    if k < 2 * n_bus:
        return f"v_min {net.bus_label(k - n_bus)}"
    return f"rating {net.branch_label((k - 2 * n_bus) % len(np.asarray(net.rating)))}"


def network_slack(net: LinearNetwork, dispatch: np.ndarray) -> np.ndarray:
    """Smallest slack of the network rows under a dispatch, every hour (< 0: a limit broken).

    Parameters
    ----------
    dispatch : numpy.ndarray
        (n_hours, n_res, 2) deviations. [MW], [Mvar]

    Returns
    -------
    numpy.ndarray
        (n_hours,) in the rows' units (pu for voltages, MVA for flows); relative to the
        limits as :func:`_network_rows` sets them (a limit broken at the operating point is
        held there).
    """
    dp, dq = dispatch[..., 0], dispatch[..., 1]
    v0 = np.asarray(net.v0, dtype=float)
    n_bus = v0.shape[1]
    v_max = np.broadcast_to(np.asarray(net.v_max, dtype=float), (n_bus,))
    v_min = np.broadcast_to(np.asarray(net.v_min, dtype=float), (n_bus,))

    def apply(name: str, x: np.ndarray) -> np.ndarray:
        m = np.asarray(getattr(net, name), dtype=float)
        return np.einsum("tbr,tr->tb", m, x) if m.ndim == 3 else x @ m.T

    dv = apply("vp", dp) + apply("vq", dq)
    slack = np.minimum(
        (np.maximum(v_max, v0) - v0 - dv).min(axis=1),
        (dv - (np.minimum(v_min, v0) - v0)).min(axis=1),
    )
    if len(np.asarray(net.rating)):
        f0, g0 = np.asarray(net.f0, dtype=float), np.asarray(net.g0, dtype=float)
        df = apply("fp", dp) + apply("fq", dq)
        dg = apply("gp", dp) + apply("gq", dq)
        sides, apothem = rating_sides()
        limit = np.asarray(net.rating, dtype=float) * apothem
        for c, s in sides:
            base = c * f0 + s * g0
            room = np.maximum(limit, base) - base - (c * df + s * dg)
            slack = np.minimum(slack, room.min(axis=1))
    return slack


def _resource_rows(vertices: np.ndarray):
    """The resources' half-planes as one sparse block matrix ``A [dp; dq] <= b``.

    ``vertices``: (n_res, n_v, 2), the polygons padded to one vertex count (:func:`_padded`;
    the repeated vertices give empty rows), so every resource's half-planes come from one
    vectorised call."""
    from scipy.sparse import csr_matrix

    n_res = len(vertices)
    a, b = halfplanes(vertices)  # (n_res, k, 2), (n_res, k)
    k = a.shape[1]
    resource = np.repeat(np.arange(n_res), k)
    cols = np.column_stack([resource, n_res + resource]).ravel()
    matrix = csr_matrix(
        (a.reshape(-1), (np.repeat(np.arange(n_res * k), 2), cols)), shape=(n_res * k, 2 * n_res)
    )
    return matrix, b.reshape(-1)


def _padded(sets_t: list[np.ndarray]) -> np.ndarray:
    """The hour's polygons as one (n_res, n_v, 2) array, each padded with its last vertex.

    ``sets_t`` may hold the polygons of several hours, (n_hours, n_vertices, 2) each: the
    result is then (n_hours, n_res, n_v, 2).
    """
    n_v = max(np.shape(v)[-2] for v in sets_t)
    first = np.asarray(sets_t[0])
    out = np.empty((*first.shape[:-2], len(sets_t), n_v, 2))
    for i, vertices in enumerate(sets_t):
        v = np.asarray(vertices)
        out[..., i, : v.shape[-2], :] = v
        out[..., i, v.shape[-2] :, :] = v[..., -1:, :]
    return out


def _one_row_optimum(
    vertices: np.ndarray, c: np.ndarray, row: np.ndarray, rhs: float, tol: float = 1e-12
) -> tuple[np.ndarray, float]:
    """The optimum under a single network row, exactly, by its Lagrangian dual.

    Maximise ``sum_i c . x_i`` over ``x_i`` in polygon i subject to ``sum_i a_i . x_i <= rhs``
    (``a_i = (row[i], row[n_res + i])``). The dual function
    ``L(lam) = lam rhs + sum_i max_j (c - lam a_i) . v_ij`` is convex and piecewise linear in
    ``lam >= 0``; as ``lam`` grows each resource's maximising vertex walks along its polygon
    towards a smaller ``a_i . v``. The walks give every breakpoint and its change of slope;
    the optimal ``lam`` is where the slope ``rhs - sum_i a_i . v_i(lam)`` turns >= 0. The
    resources that change vertex there move along their edge by the same fraction, which
    makes the row hold with equality: each then still maximises ``(c - lam a_i) . x`` and
    the row is tight, so the dispatch is optimal (LP duality).

    Parameters
    ----------
    vertices : numpy.ndarray
        (n_res, n_v, 2) the polygons (:func:`_padded`).
    c : numpy.ndarray
        (2,) the direction.
    row : numpy.ndarray
        (2 n_res,) the row's coefficients of ``[dp; dq]``.
    rhs : float
        Its right-hand side, >= 0 (zero deviation keeps it).

    Returns
    -------
    x : numpy.ndarray
        (n_res, 2) the optimal deviations.
    lam : float
        The row's shadow price (0: it does not bind).
    """
    n_res = len(vertices)
    a = np.column_stack([row[:n_res], row[n_res:]])  # (n_res, 2)
    alpha = vertices @ c  # (n_res, n_v): objective of each vertex
    gamma = np.einsum("ijk,ik->ij", vertices, a)  # its use of the row
    # each resource's vertex at lam = 0+: the best, then the least use of the row
    best = alpha >= alpha.max(axis=1, keepdims=True) - tol
    j = np.argmin(np.where(best, gamma, np.inf), axis=1)
    rows = np.arange(n_res)
    start = j.copy()
    slope0 = rhs - gamma[rows, j].sum()
    if slope0 >= -tol:
        return vertices[rows, j], 0.0
    lam = np.zeros(n_res)
    walks = []  # (lam, resource, from vertex, to vertex)
    live = np.ones(n_res, dtype=bool)
    for _ in range(vertices.shape[1]):
        if not live.any():
            break
        gj, aj = gamma[rows, j][:, None], alpha[rows, j][:, None]
        lower = gamma < gj - tol
        with np.errstate(divide="ignore", invalid="ignore"):
            at = np.where(lower, (aj - alpha) / (gj - gamma), np.inf)
        at = np.maximum(at, lam[:, None])  # round-off: never behind the current lam
        step = at.min(axis=1)
        # among vertices reached at the same lam, the one furthest along (least use)
        k = np.argmin(
            np.where(at <= step[:, None] + tol * (1 + step[:, None]), gamma, np.inf), axis=1
        )
        moving = live & np.isfinite(step)
        for i in np.flatnonzero(moving):
            walks.append((step[i], i, j[i], k[i]))
        j = np.where(moving, k, j)
        lam = np.where(moving, step, lam)
        live = moving
    walks.sort(key=lambda w: w[0])  # stable: a resource's steps stay in their order
    slope, current, n = slope0, start, 0
    while n < len(walks):
        at = walks[n][0]
        m = n  # every breakpoint at this lam at once: the slope jumps by their total
        while m < len(walks) and walks[m][0] <= at + tol * (1 + at):
            m += 1
        before = current.copy()
        for _, i, _, to in walks[n:m]:
            current[i] = to
        after = rhs - gamma[rows, current].sum()
        if after >= -tol:
            # the resources that moved go from their vertex before to after by the one
            # fraction that makes the row hold with equality
            used_before, used_after = rhs - slope, rhs - after
            theta = (used_before - rhs) / (used_before - used_after)
            x = vertices[rows, before]
            return x + min(max(theta, 0.0), 1.0) * (vertices[rows, current] - x), float(at)
        slope, n = after, m
    raise RuntimeError("the single-row dual found no optimum (zero deviation is feasible)")


#: Pivots of :func:`_dual_simplex` before it gives the hour to HiGHS.
MAX_PIVOTS = 2000

#: Pivots after which :func:`_dual_simplex` inverts its basis afresh (round-off of the
#: rank-one updates).
REFACTOR_EVERY = 50

#: Smallest pivot of :func:`_dual_simplex`'s ratio test, relative to the largest entry of
#: the entering row in the basis (smaller ones would make the next basis near singular).
PIVOT_ALPHA = 1e-9

#: Negative dual, relative to the largest, that :func:`_dual_simplex` takes for round-off.
DUAL_TOL = 1e-9

#: Excess over a row's right-hand side that :func:`_dual_simplex` still pivots on
#: (resource rows in MW or Mvar along a unit normal, network rows in their own units):
#: well under :data:`FEASIBILITY_TOL`, so its dispatch keeps every limit as checked.
PIVOT_TOL = 1e-10


def _stacked(net: LinearNetwork, t: int) -> np.ndarray:
    """The sensitivities of hour t stacked: ``[[vp, vq], [fp, fq], [gp, gq]]``, (n_bus + 2
    n_branch, 2 n_res)."""
    return np.vstack(
        [
            np.hstack([net.at("vp", t), net.at("vq", t)]),
            np.hstack([net.at("fp", t), net.at("fq", t)]),
            np.hstack([net.at("gp", t), net.at("gq", t)]),
        ]
    )


class _HourRows:
    """The rows ``G x <= h`` of one hour's programme, ``x = [dp; dq]``, by a global id:
    ``i * k + e`` for edge (or box side) e of resource i's polygon (:func:`halfplanes`),
    ``n_res * k + r`` for network row r (:func:`_network_rows`)."""

    def __init__(
        self,
        vertices: np.ndarray,
        net: LinearNetwork,
        t: int,
        net_b: np.ndarray | None = None,
        stacked: np.ndarray | None = None,
        planes: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.vertices = vertices
        # (n_res, k, 2), (n_res, k): made here unless given (made for many hours at once)
        self.a, self.b = halfplanes(vertices) if planes is None else planes
        self.n, self.k = self.a.shape[:2]
        self.net, self.t = net, t
        self.net_b = np.ascontiguousarray(_network_rhs(net, t) if net_b is None else net_b)
        self.norms = np.full(len(self.net_b), np.nan)  # of the network rows, as needed
        self.stacked = np.ascontiguousarray(_stacked(net, t) if stacked is None else stacked)
        self.n_bus = np.shape(net.v0)[1]
        self.n_branch = len(np.asarray(net.rating))

    @property
    def kernel(self) -> tuple:
        """The network's part of the compiled kernels' arguments
        (:mod:`atlas.network.simplex`): stacked sensitivities, bus and branch counts, the
        rating polygon's side normals."""
        return self.stacked, self.n_bus, self.n_branch, _SIDES

    def blind_basis(self, c: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Two rows per resource, both active at its vertex furthest along ``c`` and
        linearly independent, whose normals hold ``c`` in their cone: a basis whose duals
        are >= 0 (the network-blind optimum; :func:`atlas.network.simplex.blind_basis`)."""
        from atlas.network import simplex

        vertices = np.ascontiguousarray(self.vertices, dtype=float)
        ids, failed = simplex.blind_basis(vertices, self.a, self.b, np.asarray(c, float), tol)
        if failed >= 0:
            raise RuntimeError(f"resource {failed}: no basis at its best vertex")
        return ids


def _basis_inverse(hour: _HourRows, ids: np.ndarray) -> np.ndarray:
    """The inverse of the basis matrix of rows ``ids`` (2 n_res of them), from its
    structure (:func:`atlas.network.simplex.basis_inverse`).

    Raises
    ------
    numpy.linalg.LinAlgError
        The rows are not a basis (a resource with more than two, or ``K`` singular).
    """
    from atlas.network import simplex

    inverse, ok = simplex.basis_inverse(hour.a, np.asarray(ids, dtype=np.int64), *hour.kernel)
    if not ok:
        raise np.linalg.LinAlgError("not a basis")
    return inverse


def _dual_simplex(
    hour: _HourRows, c: np.ndarray, basis: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hour's programme by the dual simplex method on its rows, exactly.

    A basis is 2 n_res rows whose matrix ``M`` is invertible and whose duals
    ``y = M^-T [c_p; c_q]`` are >= 0 (the objective is in their cone), so its vertex
    ``x = M^-1 h`` is optimal for these rows alone. Each pivot adds the row that ``x``
    breaks furthest and drops the basis row that the dual ratio test picks, keeping every
    dual >= 0; when ``x`` breaks no row it is optimal for the whole programme (LP duality).
    The start is ``basis`` (the last hour's, which usually needs a few pivots), else, or
    if its duals are not >= 0 here, the network-blind optimum's
    (:meth:`_HourRows.blind_basis`). ``M^-1`` is updated by rank-one changes and inverted
    afresh every :data:`REFACTOR_EVERY` pivots. The pivots run compiled
    (:func:`atlas.network.simplex.dual_simplex`).

    Returns
    -------
    x : numpy.ndarray
        (2 n_res,) the optimal ``[dp; dq]``.
    basis : numpy.ndarray
        The optimal basis's row ids (:class:`_HourRows`).
    y : numpy.ndarray
        Their duals (>= 0).

    Raises
    ------
    RuntimeError
        No optimum within :data:`MAX_PIVOTS` pivots, or the dual simplex lost its way
        (round-off).
    numpy.linalg.LinAlgError
        A singular basis.
    """
    from atlas.network import simplex

    n = hour.n
    objective = np.concatenate([np.full(n, c[0]), np.full(n, c[1])])
    start = None
    if basis is not None and len(basis) == 2 * n:
        start = np.array(basis, dtype=np.int64)
        inverse, ok = simplex.basis_inverse(hour.a, start, *hour.kernel)
        y = inverse.T @ objective
        if not (ok and np.isfinite(y).all() and (y >= -1e-9).all()):
            start = None
    if start is None:
        start = np.asarray(hour.blind_basis(c), dtype=np.int64)
        inverse = _basis_inverse(hour, start)
        y = inverse.T @ objective
    status, x, y, _ = simplex.dual_simplex(
        hour.a, hour.b, *hour.kernel, hour.net_b, hour.norms, objective, start, inverse, y,
        MAX_PIVOTS, REFACTOR_EVERY, PIVOT_ALPHA, PIVOT_TOL, DUAL_TOL,
    )  # fmt: skip
    if status == simplex.NOT_A_BASIS:
        raise np.linalg.LinAlgError("not a basis")
    if status == simplex.LOST_DUAL_FEASIBILITY:
        raise RuntimeError("the dual simplex lost dual feasibility to round-off")
    if status == simplex.INFEASIBLE:
        raise RuntimeError("the dual simplex found the programme infeasible")
    if status == simplex.NO_OPTIMUM:
        raise RuntimeError(f"no optimum within {MAX_PIVOTS} pivots")
    return x, start, y


#: Hours whose polygons, half-planes and network limits :func:`network_figures` makes at
#: once (about 0.13 MB per hour on SimBench's semi-urban grid: 123 resources, 4,116
#: network rows; 32 MB per block).
HOUR_BLOCK = 256


#: Cutting-plane rounds of :func:`_solve_hour` before it gives up (each adds every network
#: row the last solution broke; a round without any ends it).
MAX_ROUNDS = 50


#: Broken rows of the blind optimum tried one at a time by the exact single-row dual
#: (:func:`_one_row_optimum`) before an LP is solved.
ONE_ROW_TRIES = 3


def _solve_hour(
    vertices: np.ndarray,
    c: np.ndarray,
    net: LinearNetwork,
    t: int,
    start: np.ndarray,
    basis: np.ndarray | None = None,
    stacked: np.ndarray | None = None,
    planes: tuple[np.ndarray, np.ndarray] | None = None,
    net_b: np.ndarray | None = None,
) -> tuple[np.ndarray, str, str, np.ndarray | None]:
    """The programme of one hour and direction: the dispatch (n_res, 2), the binding label,
    the method (``"dual"``, ``"simplex"`` or ``"highs"``) and the basis to start the next
    hour from (None: none).

    ``vertices`` are the hour's polygons (n_res, n_v, 2) (:func:`_padded`); ``stacked``,
    ``planes`` and ``net_b``: :func:`_stacked`, :func:`halfplanes` of the vertices and
    :func:`_network_rhs` of the hour, if already made.

    Without a ``basis`` (the last hour's), the rows that ``start`` (the blind optimum,
    (n_res, 2)) breaks most are first tried one at a time, each alone with the resources'
    sets, solved exactly by its dual (:func:`_one_row_optimum`): a solution that keeps every
    other row is optimal for the whole programme (it is optimal for a relaxation of it).
    Otherwise the dual simplex on the hour's rows (:func:`_dual_simplex`), from ``basis``
    or the blind optimum's. Should it fail (round-off, or no optimum within its pivots),
    an LP with HiGHS (``scipy.optimize.linprog``), network rows entering lazily (cutting
    planes): every row broken so far, then, round by round, every row the last solution
    breaks, until a solution breaks none; it is then optimal, since the rows left out do
    not bind.
    """
    n_res = len(vertices)
    net_b = _network_rhs(net, t) if net_b is None else net_b
    x0 = np.concatenate([start[:, 0], start[:, 1]])
    tried_rows = np.zeros(len(net_b), dtype=bool)  # broken by a one-row try

    def broken_by_start() -> np.ndarray:
        return (_network_lhs(net, t, x0) - net_b > FEASIBILITY_TOL) | tried_rows

    if basis is None:
        excess = _network_lhs(net, t, x0) - net_b
        tried = np.flatnonzero(excess > FEASIBILITY_TOL)
        rows, _ = _network_rows(net, t, tried)
        distance = excess[tried] / np.maximum(np.linalg.norm(rows, axis=1), 1e-300)
        for r in np.argsort(-distance, kind="stable")[:ONE_ROW_TRIES]:
            one, lam = _one_row_optimum(vertices, c, rows[r], float(net_b[tried[r]]))
            trial = np.concatenate([one[:, 0], one[:, 1]])
            broken = _network_lhs(net, t, trial) > net_b + FEASIBILITY_TOL
            if not broken.any():
                return one, row_label(net, int(tried[r])) if lam > 1e-9 else "", "dual", None
            tried_rows |= broken
    hour = _HourRows(vertices, net, t, net_b, stacked, planes)
    try:
        x, ids, y = _dual_simplex(hour, c, basis)
    except (RuntimeError, np.linalg.LinAlgError):
        x, label = _highs_hour(vertices, c, net, t, broken_by_start())
        return np.column_stack([x[:n_res], x[n_res:]]), label, "highs", None
    label = ""
    on_network = ids >= hour.n * hour.k
    if on_network.any() and y[on_network].max() > 1e-9:
        k = int(np.argmax(np.where(on_network, y, -np.inf)))
        label = row_label(net, int(ids[k] - hour.n * hour.k))
    return np.column_stack([x[:n_res], x[n_res:]]), label, "simplex", ids


def _highs_hour(
    vertices: np.ndarray, c: np.ndarray, net: LinearNetwork, t: int, active: np.ndarray
) -> tuple[np.ndarray, str]:
    """The hour's LP with HiGHS and cutting planes from the network rows ``active``
    (:func:`_solve_hour`): ``[dp; dq]`` and the binding label."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    n_res = len(vertices)
    net_b = _network_rhs(net, t)
    active = active.copy()
    res_a, res_b = _resource_rows(vertices)
    objective = -np.concatenate([np.full(n_res, c[0]), np.full(n_res, c[1])])  # maximise
    for _ in range(MAX_ROUNDS):
        net_a, _ = _network_rows(net, t, np.flatnonzero(active))
        a_ub = vstack([res_a, csr_matrix(net_a)], format="csr")
        b_ub = np.concatenate([res_b, net_b[active]])
        res = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
        if res.status != 0:  # zero deviation is always feasible: only a numerical failure
            raise RuntimeError(f"hour {t}: the LP failed ({res.message})")
        x = res.x
        duals = -np.asarray(res.ineqlin.marginals)[len(res_b) :]
        broken = _network_lhs(net, t, x) > net_b + FEASIBILITY_TOL
        if not broken.any():
            break
        active |= broken
    else:
        raise RuntimeError(f"hour {t}: no solution within {MAX_ROUNDS} cutting-plane rounds")
    label = ""
    k = int(np.argmax(duals))
    if duals[k] > 1e-9:
        label = row_label(net, int(np.flatnonzero(active)[k]))
    return x, label


def network_figures(
    sets: list[np.ndarray],
    net: LinearNetwork,
    directions: tuple[str, ...] = tuple(DIRECTIONS),
    warm: dict[str, np.ndarray] | None = None,
) -> NetworkFigures:
    """Network-aware figures of one PS for every hour and direction.

    Parameters
    ----------
    sets : list of numpy.ndarray
        One per resource: (n_hours, n_vertices, 2) its deviation polygons, counter-clockwise,
        generator convention (:class:`atlas.engine.capability.DeviationSet`). [MW], [Mvar]
    net : LinearNetwork
        The network linearised at each hour's operating point, the resources in the same
        order as ``sets``.
    directions : tuple of str
        Keys of :data:`DIRECTIONS`.
    warm : dict of numpy.ndarray, optional
        By direction, (n_hours,) object array: a basis to start each hour's dual simplex
        from (``NetworkFigures.basis`` of an earlier solve of these hours), or None (the
        last hour's). The figures do not depend on it, only the time.

    Returns
    -------
    NetworkFigures
    """
    n_hours = net.n_hours
    n_res = len(sets)
    loss_p = np.zeros(n_res) if net.loss_p is None else np.asarray(net.loss_p, dtype=float)
    loss_q = np.zeros(n_res) if net.loss_q is None else np.asarray(net.loss_q, dtype=float)
    out: dict[str, dict[str, np.ndarray]] = {
        k: {}
        for k in (
            "figure", "blind", "binding", "loss_change", "dispatch", "lp_hours", "method", "basis"
        )
    }  # fmt: skip
    for direction in directions:
        c = np.array(DIRECTIONS[direction])
        dispatch = blind_optimum(sets, direction)  # (n_hours, n_res, 2)
        blind = (dispatch @ c).sum(axis=1)
        broken = network_slack(net, dispatch) < -FEASIBILITY_TOL
        # the same blind figure from the ends of each resource's optimal face (all of it at
        # its lowest, or highest, deviation in the other axis) may keep every limit
        for prefer in ("lowest", "highest"):
            if not broken.any():
                break
            other = blind_optimum(sets, direction, prefer)
            fixed = broken & (network_slack(net, other) >= -FEASIBILITY_TOL)
            dispatch[fixed] = other[fixed]
            broken &= ~fixed
        binding = np.full(n_hours, "", dtype=object)
        method = np.full(n_hours, "", dtype=object)
        constant = all(np.ndim(getattr(net, m)) == 2 for m in ("vp", "vq", "fp", "fq", "gp", "gq"))
        stacked = _stacked(net, 0) if constant and broken.any() else None
        bases = np.full(n_hours, None, dtype=object)
        given = warm.get(direction) if warm else None
        basis = None  # the last hour's optimal basis: the next hour starts from it
        hours = np.flatnonzero(broken)
        # the hours' polygons, half-planes and network limits made for a block of hours at
        # a time (a few hundred NumPy calls per block instead of per hour)
        for first in range(0, len(hours), HOUR_BLOCK):
            block = hours[first : first + HOUR_BLOCK]
            vertices = _padded([np.asarray(v)[block] for v in sets])
            planes = halfplanes(vertices)
            net_b = _network_rhs(net, block)
            for j, t in enumerate(block):
                start = given[t] if given is not None and given[t] is not None else basis
                x, binding[t], method[t], found = _solve_hour(
                    vertices[j], c, net, int(t), dispatch[t], start, stacked,
                    (planes[0][j], planes[1][j]), net_b[j],
                )  # fmt: skip
                basis = found if found is not None else basis
                bases[t] = found
                dispatch[t] = x
        figure = np.minimum((dispatch @ c).sum(axis=1), blind)  # LP round-off only
        out["figure"][direction] = np.maximum(figure, 0.0)
        out["blind"][direction] = blind
        out["binding"][direction] = binding
        out["loss_change"][direction] = dispatch[..., 0] @ loss_p + dispatch[..., 1] @ loss_q
        out["dispatch"][direction] = dispatch
        out["lp_hours"][direction] = broken
        out["method"][direction] = method
        out["basis"][direction] = bases
    return NetworkFigures(**out)


def _at_hours(net: LinearNetwork, hours: np.ndarray) -> LinearNetwork:
    """The network at a subset of hours (per-hour sensitivities sliced too)."""
    per_hour = {}
    for name in ("vp", "vq", "fp", "fq", "gp", "gq"):
        value = np.asarray(getattr(net, name))
        if value.ndim == 3:
            per_hour[name] = value[hours]
    return replace(
        net,
        v0=np.asarray(net.v0)[hours],
        f0=np.asarray(net.f0)[hours],
        g0=np.asarray(net.g0)[hours],
        **per_hour,
    )


def _linear_state(net: LinearNetwork, dispatch: np.ndarray):
    """Voltages and flows the linear model gives for a dispatch, every hour."""
    dp, dq = dispatch[..., 0], dispatch[..., 1]

    def apply(name: str, x: np.ndarray) -> np.ndarray:
        m = np.asarray(getattr(net, name), dtype=float)
        return np.einsum("tbr,tr->tb", m, x) if m.ndim == 3 else x @ m.T

    v = np.asarray(net.v0) + apply("vp", dp) + apply("vq", dq)
    f = np.asarray(net.f0) + apply("fp", dp) + apply("fq", dq)
    g = np.asarray(net.g0) + apply("gp", dp) + apply("gq", dq)
    return v, f, g


def corrected_figures(
    sets: list[np.ndarray],
    net: LinearNetwork,
    ac_state,
    directions: tuple[str, ...] = tuple(DIRECTIONS),
    rounds: int = 2,
) -> NetworkFigures:
    """Network-aware figures whose linear model is corrected by AC power flows.

    Where a network limit binds, the AC power flow of the optimal dispatch
    (``ac_state``) differs from the linear model's prediction by the model's second-order
    error; that difference is added to the hour's operating point (voltages and flows) and
    the hour solved again, ``rounds`` times: a successive linearisation with the same
    sensitivities, whose fixed point puts the binding limit where the AC power flow has it.
    The other hours (the blind optimum keeps every limit) are as :func:`network_figures`
    gives them.

    Parameters
    ----------
    sets, net, directions
        As :func:`network_figures`.
    ac_state : callable
        ``ac_state(hours, dispatch)`` -> ``(v, f, g)``: the AC bus voltage magnitudes
        (n, n_bus) [pu] and branch flows at their from end (n, n_branch) [MW], [Mvar] at
        those hours with the dispatch (n, n_res, 2) added, in ``net``'s bus and branch
        order.
    rounds : int
        Corrections (0: :func:`network_figures` itself).
    """
    result = network_figures(sets, net, directions)
    for d in directions:
        hours = np.flatnonzero(result.lp_hours[d] & (result.binding[d] != ""))
        sub_net = _at_hours(net, hours)
        sub_sets = [np.asarray(s)[hours] for s in sets]
        for _ in range(rounds if len(hours) else 0):
            x = result.dispatch[d][hours]
            v_ac, f_ac, g_ac = ac_state(hours, x)
            v_lin, f_lin, g_lin = _linear_state(sub_net, x)
            sub_net = replace(
                sub_net,
                v0=sub_net.v0 + (v_ac - v_lin),
                f0=sub_net.f0 + (f_ac - f_lin),
                g0=sub_net.g0 + (g_ac - g_lin),
            )
            again = network_figures(sub_sets, sub_net, (d,), {d: result.basis[d][hours]})
            for key in ("figure", "binding", "loss_change", "dispatch", "method", "basis"):
                getattr(result, key)[d][hours] = getattr(again, key)[d]
    return result
