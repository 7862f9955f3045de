"""The pruned yearly envelope against the hull of all hourly vertices, and its support bound."""

import numpy as np
import pytest
from engine_cases import KINDS, PARAMS, random_specs
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from atlas.engine.capability import DerSpec
from atlas.engine.envelope import (
    envelope_support_bound,
    hours_over_rating,
    minkowski_sum,
    ps_envelope_vertices,
    yearly_envelope,
    yearly_envelope_pruned,
)


def _all_vertices(point, specs):
    return minkowski_sum([s.sets().vertices for s in specs])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
    spread=st.sampled_from([0.0, 0.5, 20.0]),
    n_directions=st.sampled_from([4, 16, 64]),
    seed_every=st.sampled_from([0, 7, 97]),
)
def test_pruned_equals_full_hull(seed, kinds, spread, n_directions, seed_every):
    rng = np.random.default_rng(seed)
    n_hours = 300
    specs = random_specs(rng, n_hours, kinds)
    point = np.column_stack(
        [50 + spread * rng.standard_normal(n_hours), 10 + spread * rng.standard_normal(n_hours) / 3]
    )
    full = yearly_envelope(point, _all_vertices(point, specs))
    pruned = yearly_envelope_pruned(point, specs, n_directions=n_directions, seed_every=seed_every)
    assert pruned.geom_type == full.geom_type
    assert_allclose(pruned.area, full.area, rtol=1e-9, atol=1e-12)
    assert pruned.symmetric_difference(full).area <= 1e-9 * max(full.area, 1.0)
    assert_allclose(pruned.bounds, full.bounds, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6)
)
def test_support_bound_is_an_upper_bound(seed, kinds):
    rng = np.random.default_rng(seed)
    n_hours = 50
    specs = random_specs(rng, n_hours, kinds)
    point = rng.uniform(-20, 80, (n_hours, 2))
    verts = ps_envelope_vertices(point, _all_vertices(point, specs))  # (n_hours, V, 2)
    ang = rng.uniform(0, 2 * np.pi, 37)
    dirs = np.column_stack([np.cos(ang), np.sin(ang)])
    bound = envelope_support_bound(point, specs, [s.sets(with_vertices=False) for s in specs], dirs)
    actual = np.einsum("tvk,dk->tvd", verts, dirs).max(axis=1)
    assert np.all(bound >= actual - 1e-9)


def test_no_der_gives_the_hull_of_the_points():
    point = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0], [5.0, 2.0]])
    hull = yearly_envelope_pruned(point, [])
    assert hull.area == pytest.approx(50.0)


def test_constant_point_and_segment_is_degenerate():
    """One charge-only EV group under a constant PS point: the envelope is a segment."""
    d = np.array([0.0, 2.0, 1.0, 3.0])
    spec = DerSpec("ev", "ev/charge", "ev_charge", d)
    point = np.tile([40.0, 5.0], (4, 1))
    hull = yearly_envelope_pruned(point, [spec])
    # load convention: charging adds load, P goes from 40 up to 43
    assert hull.geom_type == "LineString"
    assert_allclose(sorted(hull.bounds), sorted([40.0, 5.0, 43.0, 5.0]))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=0, max_size=6),
    n_directions=st.sampled_from([4, 16, 64]),
)
def test_hours_over_rating_equals_every_polygon_checked(seed, kinds, n_directions):
    """Brute force: build every hour's envelope polygon and test each vertex's |S|."""
    rng = np.random.default_rng(seed)
    n_hours = 300
    specs = random_specs(rng, n_hours, kinds)
    point = np.column_stack(
        [40 + 10 * rng.standard_normal(n_hours), 5 + 5 * rng.standard_normal(n_hours)]
    )
    if specs:
        verts = ps_envelope_vertices(point, _all_vertices(point, specs))
    else:
        verts = point[:, None, :]
    s_max = np.hypot(verts[..., 0], verts[..., 1]).max(axis=1)
    rated = float(np.quantile(s_max, 0.7))  # about 30 % of the hours beyond
    got = hours_over_rating(point, specs, None, rated, n_directions=n_directions)
    assert np.array_equal(got, s_max > rated)
    assert not hours_over_rating(point, specs, None, float("nan")).any()


def test_hours_over_rating_by_hand():
    """A 10 MVA CHP under a PS at (30, 0) MW/Mvar, at zero and at full output."""
    pu = np.array([0.0, 1.0])
    chp = DerSpec("chp", "chp", "box_disc", pu, 10.0, PARAMS[("chp", "MV")])
    point = np.array([[30.0, 0.0], [30.0, 0.0]])
    q_max = 10.0 * np.sin(np.arccos(0.8))  # 6 Mvar injected at p = 0 (condenser operation)
    # hour 0, p0 = 0: dp in [0, 10], the PS moves to P in [20, 30]; farthest (30, -6)
    # hour 1, p0 = 10: dp in [-10, 0], P in [30, 40]; farthest (40, -6) (p = 0, q = 6)
    s0, s1 = np.hypot(30.0, q_max), np.hypot(40.0, q_max)
    assert hours_over_rating(point, [chp], None, s0 - 1e-6).tolist() == [True, True]
    assert hours_over_rating(point, [chp], None, s0 + 1e-6).tolist() == [False, True]
    assert hours_over_rating(point, [chp], None, s1 - 1e-6).tolist() == [False, True]
    assert hours_over_rating(point, [chp], None, s1 + 1e-6).tolist() == [False, False]
