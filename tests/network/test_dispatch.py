"""The network-aware LP of one PS (atlas.network.dispatch) against hand computations and
brute force (every vertex of the feasible polytope, on small random instances)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

from atlas.network.dispatch import (
    DIRECTIONS,
    LinearNetwork,
    _network_lhs,
    _network_rows,
    blind_optimum,
    halfplanes,
    network_figures,
    network_slack,
    rating_sides,
)

# the dual simplex's pivots are compiled with numba (the network extra)
pytest.importorskip("numba", reason="the network extra is not installed")
pytestmark = pytest.mark.network


def box(p_lo, p_hi, q_lo, q_hi, n_hours=1):
    v = np.array([[p_lo, q_lo], [p_hi, q_lo], [p_hi, q_hi], [p_lo, q_hi]], dtype=float)
    return np.repeat(v[None], n_hours, axis=0)


def feeder(n_hours=1, v0=1.0, vp=0.01, vq=0.02, rating=(), f0=0.0, fp=0.0, **kw):
    """One bus, one resource (or as many as the sensitivities' columns), optional branches."""
    vp = np.atleast_2d(vp)
    vq = np.atleast_2d(vq)
    n_res = vp.shape[1]
    n_br = len(rating)
    return LinearNetwork(
        v0=np.full((n_hours, vp.shape[0]), v0),
        vp=vp,
        vq=vq,
        f0=np.full((n_hours, n_br), f0),
        g0=np.zeros((n_hours, n_br)),
        fp=np.full((n_br, n_res), fp),
        fq=np.zeros((n_br, n_res)),
        gp=np.zeros((n_br, n_res)),
        gq=np.zeros((n_br, n_res)),
        rating=np.asarray(rating, dtype=float),
        bus_names=("B1",),
        branch_names=("L1",),
        **kw,
    )


def test_halfplanes_of_a_box_a_segment_and_a_point():
    a, b = halfplanes(box(-1, 2, -0.5, 0.5)[0])
    inside = np.array([[0, 0], [2, 0.5], [-1, -0.5]])
    outside = np.array([[2.1, 0], [0, 0.6], [-1.1, 0]])
    assert (inside @ a.T <= b + 1e-12).all()
    assert ((outside @ a.T > b + 1e-12).any(axis=1)).all()
    segment = np.array([[-1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])  # EV, no V2G
    a, b = halfplanes(segment)
    assert (np.array([[-0.5, 0.0]]) @ a.T <= b + 1e-12).all()
    for x in ([0.1, 0.0], [-1.1, 0.0], [-0.5, 0.01]):
        assert (np.array([x]) @ a.T > b + 1e-12).any()
    a, b = halfplanes(np.zeros((4, 2)))  # no flexibility at all
    assert (np.array([[0.0, 0.0]]) @ a.T <= b).all()
    assert (np.array([[1e-6, 0.0]]) @ a.T > b).any()


def test_a_voltage_limit_by_hand():
    # v = 1.045 + 0.01 dp + 0.02 dq <= 1.05, dp in [-1, 2], dq = 0: p_up = 0.5 MW
    net = feeder(v0=1.045)
    result = network_figures([box(-1, 2, 0, 0)], net)
    assert result.figure["p_up"][0] == pytest.approx(0.5)
    assert result.blind["p_up"][0] == pytest.approx(2.0)
    assert result.binding["p_up"][0] == "v_max B1"
    assert result.lp_hours["p_up"][0]
    # downward P lowers the voltage, far from 0.95: the blind figure, no LP
    assert result.figure["p_down"][0] == pytest.approx(1.0)
    assert result.binding["p_down"][0] == ""
    assert not result.lp_hours["p_down"][0]


def test_reactive_absorption_makes_room_for_active_injection():
    # as above with dq in [-0.1, 0.1]: absorbing 0.1 Mvar lowers v by 0.002 pu, so
    # 0.01 dp <= 0.005 + 0.002: p_up = 0.7 MW
    result = network_figures([box(-1, 2, -0.1, 0.1)], feeder(v0=1.045))
    assert result.figure["p_up"][0] == pytest.approx(0.7)
    assert_allclose(result.dispatch["p_up"][0, 0], [0.7, -0.1], atol=1e-9)


def test_a_rating_by_hand():
    # the branch carries f = dp (MW); 2 MVA: the inscribed polygon has a vertex on the
    # f axis, so p_up reaches the rating exactly
    net = feeder(v0=1.0, vp=0.0, vq=0.0, rating=(2.0,), fp=1.0)
    result = network_figures([box(0, 5, 0, 0)], net)
    assert result.figure["p_up"][0] == pytest.approx(2.0)
    assert result.binding["p_up"][0] == "rating L1"


def test_a_limit_broken_at_the_operating_point_may_not_get_worse():
    net = feeder(v0=1.06)  # above 1.05 before any deviation
    result = network_figures([box(-1, 2, 0, 0)], net)
    assert result.figure["p_up"][0] == pytest.approx(0.0)
    assert result.binding["p_up"][0] == "v_max B1"
    assert result.figure["p_down"][0] == pytest.approx(1.0)  # lowering v is allowed


def test_losses_are_the_dispatch_times_their_sensitivity():
    net = feeder(v0=1.045, loss_p=np.array([0.03]), loss_q=np.array([0.01]))
    result = network_figures([box(-1, 2, -0.1, 0.1)], net)
    dp, dq = result.dispatch["p_up"][0, 0]
    assert result.loss_change["p_up"][0] == pytest.approx(0.03 * dp + 0.01 * dq)


def random_polygon(rng, n_hours):
    """A random convex polygon containing the origin, counter-clockwise, per hour."""
    from scipy.spatial import ConvexHull

    out = []
    for _ in range(n_hours):
        pts = np.vstack([rng.uniform(-1, 1, (7, 2)) * rng.uniform(0.2, 2, 2), [[0.0, 0.0]]])
        hull = ConvexHull(pts)
        v = pts[hull.vertices]  # counter-clockwise
        out.append(np.vstack([v, np.repeat(v[-1:], 9 - len(v), axis=0)]))  # fixed count
    return np.array(out)


def loop_rows(net, t):
    """The network rows of hour t written out one limit at a time (METHOD.md)."""
    sides, apothem = rating_sides()
    rows, rhs = [], []
    v0 = net.v0[t]
    for k in range(len(v0)):  # v <= v_max, then v >= v_min, held where already broken
        rows.append(np.concatenate([net.at("vp", t)[k], net.at("vq", t)[k]]))
        rhs.append(max(net.v_max, v0[k]) - v0[k])
    for k in range(len(v0)):
        rows.append(-np.concatenate([net.at("vp", t)[k], net.at("vq", t)[k]]))
        rhs.append(v0[k] - min(net.v_min, v0[k]))
    for c, s in sides:  # side by side, every branch
        for k in range(len(net.rating)):
            f = np.concatenate([net.at("fp", t)[k], net.at("fq", t)[k]])
            g = np.concatenate([net.at("gp", t)[k], net.at("gq", t)[k]])
            base = c * net.f0[t, k] + s * net.g0[t, k]
            rows.append(c * f + s * g)
            rhs.append(max(net.rating[k] * apothem, base) - base)
    return np.array(rows).reshape(len(rows), -1), np.array(rhs)


def brute_force(sets_t, net, t, c):
    """The LP's optimum by enumerating the vertices of the feasible polytope."""
    n_res = len(sets_t)
    rows, rhs = [], []
    for i, v in enumerate(sets_t):
        a, b = halfplanes(v)
        block = np.zeros((len(a), 2 * n_res))
        block[:, i], block[:, n_res + i] = a[:, 0], a[:, 1]
        rows.append(block)
        rhs.append(b)
    na, nb = loop_rows(net, t)
    a_all, b_all = np.vstack([*rows, na]), np.concatenate([*rhs, nb])
    objective = np.concatenate([np.full(n_res, c[0]), np.full(n_res, c[1])])
    combos = np.array(list(itertools.combinations(range(len(a_all)), 2 * n_res)))
    a = a_all[combos]  # every choice of 2 n_res rows held as equalities
    regular = np.abs(np.linalg.det(a)) > 1e-10
    x = np.linalg.solve(a[regular], b_all[combos[regular]][..., None])[..., 0]
    feasible = (x @ a_all.T <= b_all + 1e-9).all(axis=1)
    return float((x[feasible] @ objective).max())


@pytest.mark.parametrize("seed", range(6))
def test_against_every_vertex_of_the_feasible_polytope(seed):
    rng = np.random.default_rng(seed)
    n_hours = 3
    sets = [random_polygon(rng, n_hours) for _ in range(2)]
    net = LinearNetwork(
        v0=rng.uniform(1.0, 1.05, (n_hours, 2)),
        vp=rng.uniform(0.0, 0.03, (2, 2)),
        vq=rng.uniform(0.0, 0.05, (2, 2)),
        f0=np.zeros((n_hours, 0)),
        g0=np.zeros((n_hours, 0)),
        fp=np.zeros((0, 2)),
        fq=np.zeros((0, 2)),
        gp=np.zeros((0, 2)),
        gq=np.zeros((0, 2)),
        rating=np.zeros(0),
    )
    result = network_figures(sets, net)
    for direction, c in DIRECTIONS.items():
        for t in range(n_hours):
            expected = brute_force([s[t] for s in sets], net, t, c)
            assert result.figure[direction][t] == pytest.approx(max(expected, 0.0), abs=1e-7)
        assert (result.figure[direction] <= result.blind[direction] + 1e-12).all()
        # the dispatch keeps every network limit
        assert (network_slack(net, result.dispatch[direction]) >= -1e-7).all()


def test_hourly_sensitivities_equal_constant_ones_repeated():
    rng = np.random.default_rng(11)
    sets = [random_polygon(rng, 4) for _ in range(2)]
    const = feeder(n_hours=4, v0=1.04, vp=[[0.02, 0.01]], vq=[[0.03, 0.02]])
    hourly = LinearNetwork(
        **{
            **const.__dict__,
            "vp": np.repeat(const.vp[None], 4, axis=0),
            "vq": np.repeat(const.vq[None], 4, axis=0),
        }
    )
    a, b = network_figures(sets, const), network_figures(sets, hourly)
    for direction in DIRECTIONS:
        assert_allclose(a.figure[direction], b.figure[direction], atol=1e-12)


def test_blind_optimum_prefers_no_reactive_move_on_ties():
    x = blind_optimum([box(-1, 2, -0.5, 0.5)], "p_up")
    assert x[0, 0, 0] == 2.0 and abs(x[0, 0, 1]) == 0.5
    v = np.array([[[0, -1], [2, -1], [2, 0], [2, 1], [0, 1]]], dtype=float)
    assert_allclose(blind_optimum([v], "p_up")[0, 0], [2.0, 0.0])


@pytest.mark.parametrize("seed", range(6))
def test_ratings_against_every_vertex(seed):
    """One resource, two buses and two branches with rating polygons (rows pruned or not)."""
    rng = np.random.default_rng(100 + seed)
    n_hours = 3
    sets = [random_polygon(rng, n_hours) * 2]
    net = LinearNetwork(
        v0=rng.uniform(1.0, 1.04, (n_hours, 2)),
        vp=rng.uniform(0.0, 0.01, (2, 1)),
        vq=rng.uniform(0.0, 0.02, (2, 1)),
        f0=rng.uniform(-1, 1, (n_hours, 2)),
        g0=rng.uniform(-1, 1, (n_hours, 2)),
        fp=rng.uniform(0.5, 1.0, (2, 1)),
        fq=rng.uniform(-0.1, 0.1, (2, 1)),
        gp=rng.uniform(-0.1, 0.1, (2, 1)),
        gq=rng.uniform(0.5, 1.0, (2, 1)),
        rating=rng.uniform(1.5, 3.0, 2),
        branch_names=("L1", "L2"),
    )
    result = network_figures(sets, net)
    for direction, c in DIRECTIONS.items():
        for t in range(n_hours):
            expected = brute_force([s[t] for s in sets], net, t, c)
            assert result.figure[direction][t] == pytest.approx(max(expected, 0.0), abs=1e-7)
        assert (network_slack(net, result.dispatch[direction]) >= -1e-7).all()
    assert any(b.startswith("rating") for v in result.binding.values() for b in v)


def test_an_end_of_the_optimal_face_spares_the_lp():
    # upward Q: the face dq = 1 spans dp in [-1, 0]. At dp = 0 the voltage reaches
    # 1.045 + 0.006 = 1.051 > 1.05; curtailing 1 MW on the same face gives 1.041: the blind
    # figure holds, found without an LP
    net = feeder(v0=1.045, vp=0.01, vq=0.006)
    result = network_figures([box(-1, 0, 0, 1)], net, ("q_up",))
    assert result.figure["q_up"][0] == pytest.approx(1.0)
    assert not result.lp_hours["q_up"][0]
    assert_allclose(result.dispatch["q_up"][0, 0], [-1.0, 1.0])


def test_network_rows_any_subset_and_their_products():
    rng = np.random.default_rng(7)
    n_hours, n_bus, n_br, n_res = 4, 3, 2, 2
    per_hour = {n: rng.uniform(-0.05, 0.05, (n_hours, n_bus, n_res)) for n in ("vp", "vq")}
    per_hour |= {n: rng.uniform(-1, 1, (n_hours, n_br, n_res)) for n in ("fp", "fq", "gp", "gq")}
    net = LinearNetwork(
        v0=rng.uniform(0.94, 1.06, (n_hours, n_bus)),  # some limits broken already
        f0=rng.uniform(-2, 2, (n_hours, n_br)),
        g0=rng.uniform(-2, 2, (n_hours, n_br)),
        rating=rng.uniform(1.0, 3.0, n_br),
        **per_hour,
    )
    for t in range(n_hours):
        a, b = _network_rows(net, t)
        ref_a, ref_b = loop_rows(net, t)
        assert_allclose(a, ref_a, atol=1e-15)
        assert_allclose(b, ref_b, atol=1e-15)
        x = rng.normal(size=2 * n_res)
        assert_allclose(_network_lhs(net, t, x), ref_a @ x, atol=1e-13)
        rows = rng.choice(len(b), 9, replace=False)
        sub_a, sub_b = _network_rows(net, t, rows)
        assert_allclose(sub_a, ref_a[rows], atol=1e-15)
        assert_allclose(sub_b, ref_b[rows], atol=1e-15)


def test_padded_polygons_give_the_same_halfplanes():
    # a repeated vertex adds an empty row (0 x <= 0) and changes nothing else
    v = box(-1, 2, -0.5, 0.5)[0]
    a, b = halfplanes(v)
    pa, pb = halfplanes(np.vstack([v, v[-1:], v[-1:]]))
    keep = np.abs(pa).sum(axis=1) > 0
    assert (pb[~keep] == 0).all() and (~keep).sum() == 2
    assert_allclose(pa[keep], a)
    assert_allclose(pb[keep], b)


def _lp_optimum(vertices, c, rows, rhs):
    """The programme of the polygons and network rows ``rows x <= rhs`` (one row or
    several) by HiGHS on every half-plane."""
    from scipy.optimize import linprog

    n_res = len(vertices)
    a, b = halfplanes(vertices)
    blocks = np.zeros((n_res, a.shape[1], 2 * n_res))
    for i in range(n_res):
        blocks[i, :, i], blocks[i, :, n_res + i] = a[i, :, 0], a[i, :, 1]
    a_ub = np.vstack([blocks.reshape(-1, 2 * n_res), np.atleast_2d(rows)])
    b_ub = np.concatenate([b.ravel(), np.atleast_1d(rhs)])
    objective = -np.concatenate([np.full(n_res, c[0]), np.full(n_res, c[1])])
    res = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize("seed", range(40))
def test_the_single_row_dual_against_an_lp(seed):
    from atlas.network.dispatch import _one_row_optimum

    rng = np.random.default_rng(seed)
    n_res = int(rng.integers(1, 6))
    polygons = random_polygon(rng, n_res)  # (n_res, 9, 2), padded with repeats
    if seed % 4 == 0:  # identical resources: their breakpoints coincide
        polygons[1:] = polygons[0]
    if seed % 5 == 0:  # a segment (an EV without V2G) and a point
        polygons[0] = [[-1.0, 0.0]] * 4 + [[0.0, 0.0]] * 5
        polygons[-1] = 0.0
    row = rng.normal(size=2 * n_res) * rng.uniform(0.1, 2)
    if seed % 4 == 0:
        row = np.tile(row[:1], 2 * n_res) * np.repeat(rng.normal(size=2), n_res)
    rhs = float(rng.uniform(0, 1))
    for c in map(np.array, DIRECTIONS.values()):
        x, lam = _one_row_optimum(polygons, c, row, rhs)
        assert lam >= 0
        # feasible: in every polygon and under the row
        a, b = halfplanes(polygons)
        assert (np.einsum("ikj,ij->ik", a, x) <= b + 1e-9).all()
        flat = np.concatenate([x[:, 0], x[:, 1]])
        assert flat @ row <= rhs + 1e-9
        # optimal
        assert (x @ c).sum() == pytest.approx(_lp_optimum(polygons, c, row, rhs), abs=1e-8)


def test_hours_with_one_binding_row_need_no_lp():
    # the hand case of test_a_voltage_limit_by_hand: one bus, one row
    result = network_figures([box(-1, 2, 0, 0)], feeder(v0=1.045))
    assert result.method["p_up"][0] == "dual"
    assert result.binding["p_up"][0] == "v_max B1"


def test_the_ac_correction_converges_to_the_nonlinear_limit():
    # one bus: the "AC" voltage is v0 + 0.01 dp + 0.002 dp^2, v_max 1.05 from v0 1.04; the
    # linear model (0.01 /MW) allows dp = 1.0; the true limit solves 0.002 x^2 + 0.01 x = 0.01:
    # x = (-0.01 + sqrt(1e-4 + 8e-5)) / 0.004; the corrections converge by about 0.34 a round
    from atlas.network.dispatch import corrected_figures

    net = feeder(v0=1.04)
    exact = (-0.01 + np.sqrt(1e-4 + 8e-5)) / 0.004

    def ac_state(hours, dispatch):
        dp = dispatch[..., 0].sum(axis=1)
        v = 1.04 + 0.01 * dp + 0.002 * dp**2
        n = len(hours)
        return v[:, None], np.zeros((n, 0)), np.zeros((n, 0))

    sets = [box(-1, 2, 0, 0)]
    linear = corrected_figures(sets, net, ac_state, ("p_up",), rounds=0)
    assert linear.figure["p_up"][0] == pytest.approx(1.0)
    errors = [
        abs(corrected_figures(sets, net, ac_state, ("p_up",), rounds=k).figure["p_up"][0] - exact)
        for k in (1, 2, 20)
    ]
    assert errors[0] < abs(1.0 - exact) and errors[1] < errors[0]
    assert errors[2] < 1e-9
    result = corrected_figures(sets, net, ac_state, ("p_up",), rounds=20)
    assert result.binding["p_up"][0] == "v_max B1"


def _all_rows_lp(vertices, c, net, t):
    """The hour's optimum by HiGHS on every row at once (no cutting planes, no warm start)."""
    na, nb = loop_rows(net, t)
    return _lp_optimum(vertices, c, na, nb)


def radial_feeder(rng, n_hours, n_res, n_bus=6, v0=1.04):
    """Random sensitivities of a radial feeder: a resource raises the voltage of every bus,
    most on its own branch (several v_max rows bind at once), and two rated branches."""
    path = rng.uniform(0.002, 0.01, (n_bus, n_res)) * rng.uniform(0.2, 1.0, n_res)
    return LinearNetwork(
        v0=v0 + rng.uniform(-0.01, 0.008, (n_hours, n_bus)),
        vp=path,
        vq=path * rng.uniform(1.2, 2.5, n_res),
        f0=rng.uniform(-1, 1, (n_hours, 2)),
        g0=rng.uniform(-0.5, 0.5, (n_hours, 2)),
        fp=-rng.uniform(0.5, 1.0, (2, n_res)),
        fq=rng.uniform(-0.05, 0.05, (2, n_res)),
        gp=rng.uniform(-0.05, 0.05, (2, n_res)),
        gq=-rng.uniform(0.5, 1.0, (2, n_res)),
        rating=np.array([3.0, 4.0]),
    )


@pytest.mark.parametrize("seed", range(12))
def test_the_dual_simplex_against_an_lp_of_every_row(seed):
    """Hours where several limits bind at once: the dual simplex, from the blind optimum's
    basis and from the last hour's, gives HiGHS's optimum on every row, keeps every row, and
    names a network limit that binds."""
    from atlas.network.dispatch import _dual_simplex, _HourRows, _padded

    rng = np.random.default_rng(100 + seed)
    n_hours, n_res = 6, int(rng.integers(3, 12))
    polygons = [random_polygon(rng, n_hours) for _ in range(n_res)]
    if seed % 3 == 0:  # a segment (an EV without V2G) and a point, every hour
        polygons[0][:] = [[-1.0, 0.0]] * 4 + [[0.0, 0.0]] * 5
        polygons[1][:] = 0.0
    net = radial_feeder(rng, n_hours, n_res)
    for c in map(np.array, DIRECTIONS.values()):
        basis = None
        for t in range(n_hours):
            vertices = _padded([p[t] for p in polygons])
            hour = _HourRows(vertices, net, t)
            for start in (None, basis):
                x, ids, y = _dual_simplex(hour, c, start)
                expected = _all_rows_lp(vertices, c, net, t)
                assert (x[:n_res] * c[0] + x[n_res:] * c[1]).sum() == pytest.approx(
                    expected, abs=1e-8
                )
                a, b = halfplanes(vertices)
                xy = np.column_stack([x[:n_res], x[n_res:]])
                assert (np.einsum("ikj,ij->ik", a, xy) <= b + 1e-9).all()
                na, nb = loop_rows(net, t)
                assert (na @ x <= nb + 1e-9).all()
                assert (y >= 0).all() and len(set(ids)) == 2 * n_res
            basis = ids


@pytest.mark.parametrize("every", [1, 2, 3])
def test_the_dual_simplex_refactoring_often_finds_the_same_optimum(monkeypatch, every):
    """The vertex and the network rows' left-hand sides follow the pivots by updates, made
    afresh from the basis at each refactorisation: refactoring after every pivot (or
    every few) changes no optimum."""
    import atlas.network.dispatch as dispatch

    rng = np.random.default_rng(41)
    n_hours, n_res = 4, 9
    polygons = [random_polygon(rng, n_hours) for _ in range(n_res)]
    net = radial_feeder(rng, n_hours, n_res)
    hours = [
        dispatch._HourRows(dispatch._padded([p[t] for p in polygons]), net, t)
        for t in range(n_hours)
    ]
    cold = [dispatch._dual_simplex(h, np.array(c)) for h in hours for c in DIRECTIONS.values()]
    monkeypatch.setattr(dispatch, "REFACTOR_EVERY", every)
    again = [dispatch._dual_simplex(h, np.array(c)) for h in hours for c in DIRECTIONS.values()]
    for (x0, _, _), (x1, _, y1) in zip(cold, again, strict=True):
        assert_allclose(x1, x0, atol=1e-9)
        assert (y1 >= 0).all()


def dense_rows(hour, ids):
    """Rows ``ids`` of an hour's programme (dispatch._HourRows) as a dense matrix, built
    directly: a resource row's two coefficients, a network row from _network_rows."""
    n, k = hour.n, hour.k
    out = np.zeros((len(ids), 2 * n))
    for p, row in enumerate(ids):
        if row < n * k:
            i, e = divmod(int(row), k)
            out[p, i], out[p, n + i] = hour.a[i, e]
        else:
            out[p] = _network_rows(hour.net, hour.t, [row - n * k])[0][0]
    return out


def test_a_basis_inverse_from_its_structure_equals_the_general_one():
    from atlas.network.dispatch import _basis_inverse, _dual_simplex, _HourRows, _padded

    rng = np.random.default_rng(5)
    polygons = [random_polygon(rng, 1) for _ in range(8)]
    polygons[0][:] = 0.0  # a point: two box sides in every basis
    net = radial_feeder(rng, 1, 8)
    seen = 0
    for c in map(np.array, DIRECTIONS.values()):
        hour = _HourRows(_padded([p[0] for p in polygons]), net, 0)
        for ids in (hour.blind_basis(c), _dual_simplex(hour, c)[1]):
            matrix = dense_rows(hour, ids)
            assert_allclose(_basis_inverse(hour, ids), np.linalg.inv(matrix), atol=1e-10)
            seen += int((ids >= hour.n * hour.k).sum())
    assert seen > 0  # network rows in some basis
    with pytest.raises(np.linalg.LinAlgError):  # three rows of one resource: no basis
        _basis_inverse(hour, np.r_[0, 1, 2, np.arange(3, 2 * hour.n) * hour.k])


def test_a_block_of_hours_is_made_as_each_hour_alone():
    """The polygons and network limits of many hours at once (network_figures' blocks) equal
    those made hour by hour, polygons of different vertex counts padded alike."""
    from atlas.network.dispatch import _network_rhs, _padded

    rng = np.random.default_rng(9)
    polygons = [random_polygon(rng, 5) for _ in range(4)] + [box(0, 1, -1, 1, 5)]
    net = radial_feeder(rng, 5, 5)
    hours = np.array([4, 0, 2])
    block = _padded([p[hours] for p in polygons])
    rhs = _network_rhs(net, hours)
    for j, t in enumerate(hours):
        assert_allclose(block[j], _padded([p[t] for p in polygons]), rtol=0, atol=0)
        assert_allclose(rhs[j], _network_rhs(net, int(t)), rtol=0, atol=0)
    # by hand: v_max and v_min rows of each bus, then side j of branch l's rating polygon at
    # 2 n_bus + j n_branch + l
    sides, apothem = rating_sides()
    n_bus = net.v0.shape[1]
    t = 2
    assert_allclose(rhs[2][:n_bus], np.maximum(1.05, net.v0[t]) - net.v0[t], atol=1e-15)
    assert_allclose(rhs[2][n_bus : 2 * n_bus], net.v0[t] - np.minimum(0.95, net.v0[t]), atol=1e-15)
    for j, (cos, sin) in enumerate(sides):
        for branch in range(2):
            base = cos * net.f0[t, branch] + sin * net.g0[t, branch]
            room = max(net.rating[branch] * apothem, base) - base
            assert rhs[2][2 * n_bus + 2 * j + branch] == pytest.approx(room, abs=1e-14)


def test_the_highs_fallback_gives_the_same_figures(monkeypatch):
    """Where the dual simplex gives up (here: allowed no pivot), HiGHS solves the hour, to
    the same figures."""
    import atlas.network.dispatch as dispatch

    rng = np.random.default_rng(8)
    polygons = [random_polygon(rng, 4) for _ in range(6)]
    net = radial_feeder(rng, 4, 6)
    simplex = network_figures(polygons, net)
    monkeypatch.setattr(dispatch, "MAX_PIVOTS", 0)
    monkeypatch.setattr(dispatch, "ONE_ROW_TRIES", 0)
    highs = network_figures(polygons, net)
    solved = 0
    for d in DIRECTIONS:
        assert_allclose(highs.figure[d], simplex.figure[d], atol=1e-8)
        assert set(highs.method[d][highs.lp_hours[d]]) <= {"highs"}
        solved += int((simplex.method[d] == "simplex").sum())
    assert solved > 0


def test_warm_starts_over_a_stressed_feeder_give_highs_figures(monkeypatch):
    """A line feeder of 150 buses pushed near v_max, 50 resources, every hour and direction
    broken by the blind optimum, ratings binding too (benchmarks/bench_network_lp.py's
    stress case): hour after hour from the last hour's basis, many pivots each, the figures
    are HiGHS's (round-off once led a warm start to a suboptimal vertex here)."""
    import atlas.network.dispatch as dispatch

    rng = np.random.default_rng(1)
    n_bus, n_hours = 150, 20
    at = np.arange(2, n_bus, 3)
    depth = np.arange(1, n_bus + 1)
    shared = np.minimum(depth[:, None], depth[at][None, :])
    theta = np.linspace(0, 2 * np.pi, 17)[:-1]
    disc = 0.5 * np.column_stack([np.cos(theta), np.sin(theta)])
    sets = [np.repeat(disc[None], n_hours, axis=0) for _ in at]
    flows = (np.arange(n_bus)[:, None] <= at[None, :]).astype(float)
    zeros = np.zeros((n_bus, len(at)))
    net = LinearNetwork(
        v0=1.0 + 0.05 * rng.uniform(0.4, 1.0, (n_hours, 1)) * depth[None, :] / n_bus,
        vp=2e-4 * shared,
        vq=1e-4 * shared,
        f0=rng.uniform(0, 5, (n_hours, n_bus)),
        g0=np.zeros((n_hours, n_bus)),
        fp=flows,
        fq=zeros,
        gp=zeros,
        gq=flows.copy(),
        rating=np.full(n_bus, 10.0),
    )
    simplex = network_figures(sets, net, ("p_up",))
    assert (simplex.method["p_up"] == "simplex").sum() > n_hours / 2
    monkeypatch.setattr(dispatch, "MAX_PIVOTS", 0)
    monkeypatch.setattr(dispatch, "ONE_ROW_TRIES", 0)
    highs = network_figures(sets, net, ("p_up",))
    assert_allclose(simplex.figure["p_up"], highs.figure["p_up"], atol=1e-8)
