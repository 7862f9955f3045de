"""The support bound computed by blocks and on demand (SupportBound), shared by the yearly
envelope and the rating check, against the one-shot products and the screens done by hand.

The oracles here are the straightforward forms: the bound as one matrix product over all
hours, ``numpy.argmax`` and ``numpy.all`` over the whole bound, and the pruned hull's steps
written out. The engine must give the same answers bit for bit, not merely close ones: the
hull's vertex order and the hours it builds depend on them.
"""

import numpy as np
import pytest
import shapely
from engine_cases import KINDS, PARAMS, random_specs
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from atlas.engine import envelope
from atlas.engine.capability import DerSpec
from atlas.engine.envelope import (
    SupportBound,
    convex_hull,
    envelope_support_bound,
    hours_over_rating,
    minkowski_sum,
    ps_envelope_vertices,
    unique_points,
    unit_directions,
    yearly_envelope,
    yearly_envelope_pruned,
)


def _point(rng, n_hours, spread=10.0):
    """A PS point (P, Q) around (40, 5) MW/Mvar, load convention."""
    return np.column_stack(
        [40 + spread * rng.standard_normal(n_hours), 5 + spread * rng.standard_normal(n_hours)]
    )


def _one_shot_bound(point, specs, sets, directions):
    """The bound as first written: one product over all hours per group (the oracle)."""
    w = -directions
    wx, wy = w[:, 0], w[:, 1]
    box_coef = np.stack(
        [np.maximum(wx, 0), np.maximum(-wx, 0), np.maximum(wy, 0), np.maximum(-wy, 0)]
    )
    disc_coef = np.stack([wx, np.ones_like(wx)])
    total = point @ directions.T
    for spec, s in zip(specs, sets, strict=True):
        extents = np.stack([s.p_up, s.p_down, s.q_up, s.q_down], axis=1)
        disc = np.stack(spec.enclosing_disc(), axis=1)
        total += np.minimum(extents @ box_coef, disc @ disc_coef)
    return total


def _random_directions(rng, n):
    ang = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([np.cos(ang), np.sin(ang)])


def _old_pruned(point, specs, n_directions=64, seed_every=97):
    """yearly_envelope_pruned's steps written out over the whole one-shot bound."""
    sets = [s.sets(with_vertices=False) for s in specs]
    n_hours = len(point)

    def vertices(hours):
        polys = minkowski_sum([s.sets(hours).vertices for s in specs])
        return ps_envelope_vertices(point[hours], polys).reshape(-1, 2)

    bound = _one_shot_bound(point, specs, sets, unit_directions(n_directions))
    sample = np.arange(0, n_hours, seed_every) if seed_every else np.arange(0)
    seeds = np.unique(np.r_[np.argmax(bound, axis=0), sample])
    seed_pts = vertices(seeds)
    inner = convex_hull(seed_pts)
    if inner.geom_type != "Polygon":
        rest = np.setdiff1d(np.arange(n_hours), seeds)
        return convex_hull(np.concatenate([seed_pts, vertices(rest)]))
    corners = np.asarray(shapely.geometry.polygon.orient(inner, 1.0).exterior.coords)[:-1]
    edge = np.roll(corners, -1, axis=0) - corners
    length = np.hypot(edge[:, 0], edge[:, 1])
    ok = length > 0
    normal = np.stack([edge[ok, 1], -edge[ok, 0]], axis=1) / length[ok, None]
    offset = np.sum(normal * corners[ok], axis=1)
    tol = 1e-9 * (1.0 + np.abs(corners).max())
    inside = np.all(_one_shot_bound(point, specs, sets, normal) < offset - tol, axis=1)
    inside[seeds] = True
    rest = np.flatnonzero(~inside)
    return convex_hull(seed_pts if rest.size == 0 else np.concatenate([seed_pts, vertices(rest)]))


def _polygon_check(point, specs, rated):
    """Every hour's envelope polygon built and each vertex's |S| compared (brute force)."""
    if specs:
        verts = ps_envelope_vertices(point, minkowski_sum([s.sets().vertices for s in specs]))
    else:
        verts = point[:, None, :]
    return np.hypot(verts[..., 0], verts[..., 1]).max(axis=1) > rated


@pytest.mark.parametrize("n_hours", [1, 2, 3, 257, 1025, 8760])
@pytest.mark.parametrize("n_dirs", [1, 2, 3, 64, 131])
@pytest.mark.parametrize("block", [envelope.BOUND_BLOCK_ELEMENTS, 5, 256])
def test_blocked_bound_equals_one_shot_products(monkeypatch, n_hours, n_dirs, block):
    """Bit for bit, whatever the blocks (a block of 5 elements has 2 hours; with 3 hours
    a lone last hour joins the block before it)."""
    monkeypatch.setattr(envelope, "BOUND_BLOCK_ELEMENTS", block)
    rng = np.random.default_rng(n_hours * 1000 + n_dirs)
    specs = random_specs(rng, n_hours, [*KINDS, "pv", "chp"])
    sets = [s.sets(with_vertices=False) for s in specs]
    point = _point(rng, n_hours)
    dirs = _random_directions(rng, n_dirs)
    got = envelope_support_bound(point, specs, sets, dirs)
    assert_array_equal(got, _one_shot_bound(point, specs, sets, dirs), strict=True)


@pytest.mark.parametrize("n_dirs", [2, 64, 97])
def test_exact_rows_equal_the_one_shot_rows(n_dirs):
    """SupportBound.exact for some hours (one, several, unsorted, repeated) is those rows."""
    rng = np.random.default_rng(n_dirs)
    n_hours = 3000
    specs = random_specs(rng, n_hours, KINDS)
    sets = [s.sets(with_vertices=False) for s in specs]
    point = _point(rng, n_hours)
    dirs = _random_directions(rng, n_dirs)
    full = _one_shot_bound(point, specs, sets, dirs)
    bound = SupportBound(point, specs, sets)
    for hours in ([17], [2999, 0], [5, 5, 1], rng.choice(n_hours, 700, replace=False)):
        hours = np.asarray(hours)
        assert_array_equal(bound.exact(dirs, hours), full[hours], strict=True)
    assert_array_equal(bound.exact(dirs), full, strict=True)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=8),
    scale=st.sampled_from([1e-300, 1e-3, 1.0, 1e4]),
)
def test_upper_bound_is_above_the_exact_bound(seed, kinds, scale):
    """The looser bound, with its rounding allowance, is never below the computed bound."""
    rng = np.random.default_rng(seed)
    n_hours = 400
    specs = random_specs(rng, n_hours, kinds)
    specs = [  # EV series are MW, the others per unit
        DerSpec(
            s.technology,
            s.label,
            s.kind,
            s.series * (1 if s.params else scale),
            s.sn_mva * scale,
            s.params,
        )
        for s in specs
    ]
    sets = [s.sets(with_vertices=False) for s in specs]
    point = _point(rng, n_hours, spread=10 * scale) * scale
    bound = SupportBound(point, specs, sets)
    for dirs in (unit_directions(64), _random_directions(rng, 50)):
        assert np.all(bound.upper(dirs) >= _one_shot_bound(point, specs, sets, dirs))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    n_directions=st.sampled_from([2, 4, 16, 64]),
    repeat=st.booleans(),
)
def test_screens_equal_the_whole_bound(seed, kinds, n_directions, repeat):
    """largest_hours, below and reach_above against argmax, all and a threshold over the
    whole bound; with ``repeat``, every hour appears twice (ties: the first must win)."""
    rng = np.random.default_rng(seed)
    n_hours = 500
    specs = random_specs(rng, n_hours, kinds)
    point = _point(rng, n_hours)
    if repeat:
        twice = np.repeat(np.arange(n_hours), 2)
        point = point[twice]
        specs = [
            DerSpec(s.technology, s.label, s.kind, s.series[twice], s.sn_mva, s.params)
            for s in specs
        ]
    sets = [s.sets(with_vertices=False) for s in specs]
    bound = SupportBound(point, specs, sets)
    dirs = unit_directions(n_directions)
    whole = _one_shot_bound(point, specs, sets, dirs)
    assert_array_equal(bound.largest_hours(n_directions), np.argmax(whole, axis=0))
    level = np.quantile(whole, rng.uniform(0.3, 1.0), axis=0)  # some hours below, some not
    assert_array_equal(bound.below(dirs, level), np.all(whole < level, axis=1))
    reach = whole.max(axis=1) / np.cos(np.pi / n_directions)
    for rated in np.quantile(reach, [0.0, 0.5, 0.95]):
        assert_array_equal(bound.reach_above(rated, n_directions), np.flatnonzero(reach > rated))


def test_screens_with_nan_follow_numpy():
    """A NaN hour: argmax picks the first NaN, comparisons are False (no looser bound)."""
    rng = np.random.default_rng(3)
    n_hours = 50
    specs = random_specs(rng, n_hours, ["chp", "ev_v2g"])
    point = _point(rng, n_hours)
    point[[7, 30], 0] = np.nan
    sets = [s.sets(with_vertices=False) for s in specs]
    bound = SupportBound(point, specs, sets)
    assert not bound.finite
    whole = _one_shot_bound(point, specs, sets, unit_directions(64))
    assert_array_equal(bound.largest_hours(), np.argmax(whole, axis=0))
    assert bound.largest_hours()[0] == 7
    level = np.full(64, 1e9)
    assert_array_equal(bound.below(unit_directions(64), level), np.all(whole < level, axis=1))
    reach = whole.max(axis=1) / np.cos(np.pi / 64)
    assert_array_equal(bound.reach_above(0.0), np.flatnonzero(reach > 0.0))
    assert not {7, 30} & set(bound.reach_above(0.0).tolist())


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    spread=st.sampled_from([0.0, 0.5, 20.0]),
    n_directions=st.sampled_from([4, 16, 64]),
    seed_every=st.sampled_from([0, 7, 97]),
)
def test_shared_bound_gives_the_standalone_and_handwritten_hull(
    seed, kinds, spread, n_directions, seed_every
):
    """The yearly hull with a shared SupportBound, without one, and by the steps written
    out over the whole bound: the same geometry, vertex for vertex."""
    rng = np.random.default_rng(seed)
    n_hours = 300
    specs = random_specs(rng, n_hours, kinds)
    point = _point(rng, n_hours, spread)
    sets = [s.sets(with_vertices=False) for s in specs]
    bound = SupportBound(point, specs, sets)
    shared = yearly_envelope_pruned(
        point, specs, sets, n_directions=n_directions, seed_every=seed_every, bound=bound
    )
    alone = yearly_envelope_pruned(point, specs, n_directions=n_directions, seed_every=seed_every)
    by_hand = _old_pruned(point, specs, n_directions, seed_every)
    assert shapely.equals_exact(shared, alone, tolerance=0.0)
    assert shapely.equals_exact(shared, by_hand, tolerance=0.0)
    full = yearly_envelope(point, minkowski_sum([s.sets().vertices for s in specs]))
    assert shared.symmetric_difference(full).area <= 1e-9 * max(full.area, 1.0)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    quantile=st.sampled_from([0.0, 0.3, 0.7, 0.99]),
)
def test_shared_bound_gives_the_standalone_and_brute_force_rating_check(seed, kinds, quantile):
    """hours_over_rating with a shared SupportBound (after the yearly hull used it), without
    one, and every polygon checked: the same hours. Low ratings put most hours beyond it by
    their extreme P or Q alone, counted without polygons."""
    rng = np.random.default_rng(seed)
    n_hours = 300
    specs = random_specs(rng, n_hours, kinds)
    point = _point(rng, n_hours)
    sets = [s.sets(with_vertices=False) for s in specs]
    verts = ps_envelope_vertices(point, minkowski_sum([s.sets().vertices for s in specs]))
    brute_s = np.hypot(verts[..., 0], verts[..., 1]).max(axis=1)
    rated = float(np.quantile(brute_s, quantile))
    bound = SupportBound(point, specs, sets)
    yearly_envelope_pruned(point, specs, sets, bound=bound)
    shared = hours_over_rating(point, specs, sets, rated, bound=bound)
    assert_array_equal(shared, hours_over_rating(point, specs, None, rated))
    assert_array_equal(shared, _polygon_check(point, specs, rated))


def test_rating_at_an_extreme_point_by_hand():
    """A 10 MVA CHP at zero output under (30, 0): its envelope reaches P = 30 + 0 and, at
    P = 30, Q = -6 (injection seen from the PS), so |S| = sqrt(30^2 + 6^2) at the vertex,
    but only 30 MW along the P axis: ratings between need the polygon, below 30 not."""
    chp = DerSpec("chp", "chp", "box_disc", np.array([0.0, 0.0]), 10.0, PARAMS[("chp", "MV")])
    point = np.array([[30.0, 0.0], [30.0, 0.0]])
    s_max = np.hypot(30.0, 6.0)
    for rated, expected in (
        (29.0, True),
        (30.5, True),
        (s_max - 1e-6, True),
        (s_max + 1e-6, False),
    ):
        got = hours_over_rating(point, [chp], None, rated)
        assert got.tolist() == [expected, expected], rated


def test_rating_on_the_p_axis_by_hand():
    """Charge-only EV (a segment on the P axis) under (40, 0) MW/Mvar: the envelope is
    P in [40, 40 + d] at Q = 0, so an hour is beyond the rating iff 40 + d > rated, where
    the extreme point alone decides, up to the last digit."""
    ev = DerSpec("ev", "ev/charge", "ev_charge", np.array([2.0, 3.0]))
    point = np.array([[40.0, 0.0], [40.0, 0.0]])
    cases = {41.999: [True, True], 42.0: [False, True], 42.001: [False, True], 43.0: [False, False]}
    for rated, expected in cases.items():
        assert hours_over_rating(point, [ev], None, rated).tolist() == expected, rated
        assert _polygon_check(point, [ev], rated).tolist() == expected, rated


def test_a_bound_of_another_ps_is_refused():
    rng = np.random.default_rng(0)
    specs = random_specs(rng, 20, ["pv", "chp"])
    point = _point(rng, 20)
    wrong_hours = SupportBound(
        point[:10],
        [DerSpec(s.technology, s.label, s.kind, s.series[:10], s.sn_mva, s.params) for s in specs],
    )
    wrong_groups = SupportBound(point, specs[:1])
    for bound in (wrong_hours, wrong_groups):
        with pytest.raises(ValueError, match="SupportBound of the same"):
            yearly_envelope_pruned(point, specs, bound=bound)
        with pytest.raises(ValueError, match="SupportBound of the same"):
            hours_over_rating(point, specs, None, 50.0, bound=bound)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 400),
    special=st.sampled_from([None, -0.0, np.nan, np.inf]),
)
def test_unique_points_equals_numpy_unique(seed, n, special):
    """Repeated points, negative values, and the special values numpy's sort handles."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(-4, 4, (n, 2)) * rng.choice([1.0, 0.37, 1e-300, 1e300])
    pts[rng.uniform(size=n) < 0.5] += rng.normal(size=2)
    if special is not None:
        pts[rng.integers(0, n), rng.integers(0, 2)] = special
    assert_array_equal(unique_points(pts), np.unique(pts, axis=0), strict=True)
