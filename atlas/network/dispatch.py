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
  optimal for the network-aware programme too and no LP is solved; the other hours are solved
  one by one with HiGHS (``scipy.optimize.linprog``), the network rows entering as cutting
  planes (only the rows a solution breaks; :func:`_solve_hour`).
"""

from __future__ import annotations

from dataclasses import dataclass

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
        (n_hours,) bool: the hours whose blind optimum broke a network limit, solved by LP.
    """

    figure: dict[str, np.ndarray]
    blind: dict[str, np.ndarray]
    binding: dict[str, np.ndarray]
    loss_change: dict[str, np.ndarray]
    dispatch: dict[str, np.ndarray]
    lp_hours: dict[str, np.ndarray]


def halfplanes(vertices: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Half-planes ``A x <= b`` of a convex polygon given by counter-clockwise vertices.

    Zero-length edges (repeated vertices) are skipped; the vertices' bounding box is added,
    so a degenerate set (a segment, a point) is bounded along its length too.

    Parameters
    ----------
    vertices : numpy.ndarray
        (n, 2) counter-clockwise vertices, repeats allowed.

    Returns
    -------
    A : numpy.ndarray
        (k, 2) outward normals (unit length).
    b : numpy.ndarray
        (k,) offsets.
    """
    v = np.asarray(vertices, dtype=float)
    edges = np.roll(v, -1, axis=0) - v
    length = np.hypot(edges[:, 0], edges[:, 1])
    keep = length > tol
    normals = np.column_stack([edges[keep, 1], -edges[keep, 0]]) / length[keep, None]
    offsets = np.einsum("ij,ij->i", normals, v[keep])
    box_a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    box_b = np.array([v[:, 0].max(), -v[:, 0].min(), v[:, 1].max(), -v[:, 1].min()])
    return np.vstack([normals, box_a]), np.concatenate([offsets, box_b])


def rating_sides(n: int = N_RATING_SIDES) -> tuple[np.ndarray, float]:
    """Unit normals of the polygon inscribed in a unit circle, and its apothem.

    The polygon has vertices on the circle; side k is ``c_k . (f, g) <= cos(pi / n)``.
    """
    theta = 2 * np.pi * (np.arange(n) + 0.5) / n
    return np.column_stack([np.cos(theta), np.sin(theta)]), float(np.cos(np.pi / n))


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


def _network_rows(net: LinearNetwork, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Network rows ``A [dp; dq] <= b`` of hour t (:func:`row_label` names row k).

    Rows: ``v_max`` of each bus, ``v_min`` of each bus, then side 0 of every branch's rating
    polygon, side 1 of every branch, ...
    """
    sides, apothem = rating_sides()
    v0 = np.asarray(net.v0[t], dtype=float)
    n_bus = len(v0)
    v_max = np.broadcast_to(np.asarray(net.v_max, dtype=float), (n_bus,))
    v_min = np.broadcast_to(np.asarray(net.v_min, dtype=float), (n_bus,))
    vp, vq = net.at("vp", t), net.at("vq", t)
    rows = [np.hstack([vp, vq]), -np.hstack([vp, vq])]
    # a limit already broken at the operating point may not get worse (module docstring)
    rhs = [np.maximum(v_max, v0) - v0, v0 - np.minimum(v_min, v0)]
    f0, g0 = np.asarray(net.f0[t], dtype=float), np.asarray(net.g0[t], dtype=float)
    if len(f0):
        fp, fq, gp, gq = (net.at(n, t) for n in ("fp", "fq", "gp", "gq"))
        limit = np.asarray(net.rating, dtype=float) * apothem
        c, s = sides[:, 0, None, None], sides[:, 1, None, None]  # (n_sides, 1, 1)
        rows.append(
            np.concatenate([c * fp + s * gp, c * fq + s * gq], axis=2).reshape(-1, 2 * fp.shape[1])
        )
        base = (c[:, :, 0] * f0 + s[:, :, 0] * g0).ravel()  # (n_sides * n_branch,)
        rhs.append(np.maximum(np.tile(limit, len(sides)), base) - base)
    return np.vstack(rows), np.concatenate(rhs)


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


def _resource_rows(sets_t: list[np.ndarray]):
    """The resources' half-planes as one sparse block matrix ``A [dp; dq] <= b``."""
    from scipy.sparse import csr_matrix

    n_res = len(sets_t)
    data, cols, rhs, row_ids = [], [], [], []
    n_rows = 0
    for i, vertices in enumerate(sets_t):
        a, b = halfplanes(vertices)
        k = np.arange(n_rows, n_rows + len(a))
        row_ids += [k, k]
        cols += [np.full(len(a), i), np.full(len(a), n_res + i)]
        data += [a[:, 0], a[:, 1]]
        rhs.append(b)
        n_rows += len(a)
    matrix = csr_matrix(
        (np.concatenate(data), (np.concatenate(row_ids), np.concatenate(cols))),
        shape=(n_rows, 2 * n_res),
    )
    return matrix, np.concatenate(rhs)


#: Cutting-plane rounds of :func:`_solve_hour` before it gives up (each adds every network
#: row the last solution broke; a round without any ends it).
MAX_ROUNDS = 50


def _solve_hour(
    sets_t: list[np.ndarray], c: np.ndarray, net: LinearNetwork, t: int, start: np.ndarray
) -> tuple[np.ndarray, str]:
    """The LP of one hour and direction: the dispatch (n_res, 2) and the binding label.

    Network rows enter lazily (cutting planes): first those that ``start`` (the blind
    optimum, (n_res, 2)) breaks, then, round by round, every row the last solution breaks,
    until a solution breaks none; it is then optimal for the whole programme, since the
    rows left out do not bind. Each round is a small LP instead of one with every row.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    n_res = len(sets_t)
    res_a, res_b = _resource_rows(sets_t)
    net_a, net_b = _network_rows(net, t)
    objective = -np.concatenate([np.full(n_res, c[0]), np.full(n_res, c[1])])  # maximise
    x = np.concatenate([start[:, 0], start[:, 1]])
    active = np.zeros(len(net_b), dtype=bool)
    for _ in range(MAX_ROUNDS):
        broken = net_a @ x > net_b + FEASIBILITY_TOL
        if not broken.any():
            break
        active |= broken
        a_ub = vstack([res_a, csr_matrix(net_a[active])], format="csr")
        b_ub = np.concatenate([res_b, net_b[active]])
        res = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
        if res.status != 0:  # zero deviation is always feasible: only a numerical failure
            raise RuntimeError(f"hour {t}: the LP failed ({res.message})")
        x = res.x
        duals = -np.asarray(res.ineqlin.marginals)[len(res_b) :]
    else:
        raise RuntimeError(f"hour {t}: no solution within {MAX_ROUNDS} cutting-plane rounds")
    label = ""
    if active.any():
        k = int(np.argmax(duals))
        if duals[k] > 1e-9:
            label = row_label(net, int(np.flatnonzero(active)[k]))
    return np.column_stack([x[:n_res], x[n_res:]]), label


def network_figures(
    sets: list[np.ndarray], net: LinearNetwork, directions: tuple[str, ...] = tuple(DIRECTIONS)
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

    Returns
    -------
    NetworkFigures
    """
    n_hours = net.n_hours
    n_res = len(sets)
    loss_p = np.zeros(n_res) if net.loss_p is None else np.asarray(net.loss_p, dtype=float)
    loss_q = np.zeros(n_res) if net.loss_q is None else np.asarray(net.loss_q, dtype=float)
    out: dict[str, dict[str, np.ndarray]] = {
        k: {} for k in ("figure", "blind", "binding", "loss_change", "dispatch", "lp_hours")
    }
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
        for t in np.flatnonzero(broken):
            sets_t = [np.asarray(v)[t] for v in sets]
            x, label = _solve_hour(sets_t, c, net, int(t), dispatch[t])
            dispatch[t] = x
            binding[t] = label
        figure = np.minimum((dispatch @ c).sum(axis=1), blind)  # LP round-off only
        out["figure"][direction] = np.maximum(figure, 0.0)
        out["blind"][direction] = blind
        out["binding"][direction] = binding
        out["loss_change"][direction] = dispatch[..., 0] @ loss_p + dispatch[..., 1] @ loss_q
        out["dispatch"][direction] = dispatch
        out["lp_hours"][direction] = broken
    return NetworkFigures(**out)
