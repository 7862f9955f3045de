"""The sets of the seed paper's future work (METHOD.md, "Beyond the seed paper") against a
direct construction of their definition: a battery's box and disc, a STATCOM's segment, a
tap changer's hull; and a battery's state of energy against the hourly recursion by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from atlas.engine.capability import (
    MAX_ARC_STEP_DEG,
    OLTC_SAMPLES,
    EnergyLimitError,
    bess_energy,
    bess_limits,
    bess_set,
    oltc_curve,
    oltc_set,
    statcom_set,
)
from atlas.engine.envelope import shoelace_area


def recursion(p0, energy_mwh, e_init, eta_c, eta_d):
    """e(t) by the hourly recursion of METHOD.md, one hour after the other."""
    e = [e_init * energy_mwh]
    for p in p0:
        e.append(e[-1] - max(p, 0.0) / eta_d + max(-p, 0.0) * eta_c)
    return np.array(e)


def feasible_schedule(pu, sn, energy_mwh, e_init, eta_c, eta_d):
    """A schedule from wished per-unit powers, each cut to what the battery can do."""
    e, out = e_init * energy_mwh, []
    for x in pu:
        p = min(max(x * sn, -(energy_mwh - e) / eta_c), eta_d * e)
        out.append(p)
        e = e - max(p, 0.0) / eta_d + max(-p, 0.0) * eta_c
    return np.array(out)


def extents(geom) -> np.ndarray:
    """p_up, p_down, q_up, q_down of a set in the deviation plane."""
    x0, y0, x1, y1 = geom.bounds
    return np.array([x1, -x0, y1, -y0])


# ---- battery: state of energy ------------------------------------------------------------


def test_state_of_energy_is_the_recursion_bit_for_bit():
    rng = np.random.default_rng(7)
    p0 = feasible_schedule(rng.uniform(-1, 1, 500), 10.0, 20.0, 0.5, 0.93, 0.96)
    by_hand = recursion(p0, 20.0, 0.5, 0.93, 0.96)
    assert (by_hand < 0).any()  # the schedule empties it, some hours a few 1e-16 below 0
    assert (bess_energy(p0, 20.0, 0.5, 0.93, 0.96) == np.clip(by_hand, 0.0, 20.0)).all()


def test_limits_at_empty_and_full_by_hand():
    """10 MW / 20 MWh from half charge, efficiencies 0.95: discharge 9.5 MW empties it in
    an hour (10 MWh / 0.95 x 0.95); then it can give nothing more but take 10 MW; charge
    10, 10 and 1/0.95 MW fills it (9.5 + 9.5 + 1 MWh); then it can take nothing more but
    give 10 MW (0.95 x 20 = 19 MWh would allow more, the converter does not)."""
    p0 = np.array([9.5, 0.0, -10.0, -10.0, -1.0 / 0.95, 0.0])
    e = bess_energy(p0, 20.0)
    assert_allclose(e, [10.0, 0.0, 0.0, 9.5, 19.0, 20.0, 20.0], atol=1e-12)
    p_min, p_max = bess_limits(10.0, 20.0, e[:-1])
    assert_allclose(p_max, [9.5, 0.0, 0.0, 9.025, 10.0, 10.0], atol=1e-12)
    assert_allclose(p_min, [-10.0, -10.0, -10.0, -10.0, -1.0 / 0.95, 0.0], atol=1e-12)
    flex = bess_set(10.0, 20.0, p0, e[:-1], with_vertices=False)
    # empty (hour 1): no upward active flexibility; full (hour 5): no downward
    assert flex.p_up[1] == 0.0 and flex.p_down[1] == 10.0
    assert flex.p_down[5] == 0.0 and flex.p_up[5] == 10.0
    # at the schedule's own limit the deviation that way is zero
    assert flex.p_up[0] == pytest.approx(0.0, abs=1e-12)
    assert flex.p_down[2] == pytest.approx(0.0, abs=1e-12)
    assert flex.p_down[4] == pytest.approx(0.0, abs=1e-12)


def test_idle_battery_at_half_charge():
    """The issue's case: 10 MW / 20 MWh idle at half charge: 9.5 MW up (energy-limited),
    10 MW down (converter-limited), 10 Mvar each way, every hour."""
    p0 = np.zeros(8760)
    flex = bess_set(10.0, 20.0, p0, bess_energy(p0, 20.0)[:-1])
    for got, want in (
        (flex.p_up, 9.5),
        (flex.p_down, 10.0),
        (flex.q_up, 10.0),
        (flex.q_down, 10.0),
    ):
        assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("p0", "hour", "side"),
    [([5.0, 5.0, 5.0], 1, "below 0"), ([0.0, -10.0, -10.0], 2, "above its 20 MWh")],
)
def test_a_schedule_leaving_the_battery_names_the_first_hour(p0, hour, side):
    """From 10 MWh, 0.95: 5 MW twice takes 10.53 MWh (empty after hour 1); 10 MW of charge
    twice adds 19 MWh (over 20 after hour 2)."""
    with pytest.raises(EnergyLimitError, match=side) as info:
        bess_energy(np.array(p0), 20.0)
    assert info.value.hour == hour


def test_rounding_at_the_limits_is_not_an_excursion():
    p0 = np.full(10, 0.95 * 20.0 / 10)  # ten hours to empty, exactly in real numbers
    e = bess_energy(p0, 20.0, e_init=1.0)
    assert e[-1] == pytest.approx(0.0, abs=1e-12) and (e >= 0).all()


# ---- battery: the set ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    sn=st.sampled_from([0.5, 10.0, 37.0]),
    energy=st.sampled_from([0.05, 20.0, 150.0]),
    e_init=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1),
    eta_c=st.sampled_from([1.0, 0.95, 0.8]),
    eta_d=st.sampled_from([1.0, 0.95, 0.85]),
    pu=st.lists(st.floats(-1, 1) | st.sampled_from([-1.0, 0.0, 1.0]), min_size=6, max_size=6),
)
# found by hypothesis: 1.1e-16 MWh stored, the right arc's points computed beyond p_max
@example(
    sn=0.5,
    energy=0.05,
    e_init=0.0,
    eta_c=1.0,
    eta_d=1.0,
    pu=[0, 0, 0, 0, -2.220446049250313e-16, 0],
)
def test_battery_set_is_the_box_cut_from_the_disc(sn, energy, e_init, eta_c, eta_d, pu):
    p0 = feasible_schedule(pu, sn, energy, e_init, eta_c, eta_d)
    e = bess_energy(p0, energy, e_init, eta_c, eta_d)
    flex = bess_set(sn, energy, p0, e[:-1], eta_c, eta_d)
    disc = shapely.Point(0.0, 0.0).buffer(sn, quad_segs=512)
    step = math.radians(MAX_ARC_STEP_DEG)
    deficit = 72 * 0.5 * sn * sn * (step - math.sin(step))  # chords of <= 5 degree arcs
    for h in range(len(p0)):
        p_max = min(sn, eta_d * e[h])
        p_min = -min(sn, (energy - e[h]) / eta_c)
        exact = shapely.affinity.translate(
            shapely.box(p_min, -2 * sn, p_max, 2 * sn).intersection(disc), -p0[h], 0.0
        )
        mine = np.array([flex.p_up[h], flex.p_down[h], flex.q_up[h], flex.q_down[h]])
        assert_allclose(mine, extents(exact), rtol=0, atol=1e-9)
        v = flex.vertices[h]
        assert_allclose(
            [v[:, 0].max(), -v[:, 0].min(), v[:, 1].max(), -v[:, 1].min()], mine, atol=1e-9
        )
        polygon = shapely.Polygon(v)
        assert shoelace_area(v) >= -1e-12  # counter-clockwise
        if exact.area > 1e-9:
            assert polygon.is_valid
            assert exact.buffer(1e-5 * sn).covers(polygon)  # vertices on the circle
            assert exact.area - polygon.area <= deficit + 1e-9 * sn * sn


# ---- STATCOM ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("sn", "q0"), [(15.0, 0.0), (15.0, 4.0), (15.0, -15.0), (0.0, 0.0)])
def test_statcom_is_the_segment(sn, q0):
    flex = statcom_set(sn, 4, q0)
    exact = shapely.LineString([(0.0, -sn - q0), (0.0, sn - q0)])
    for h in range(4):
        mine = [flex.p_up[h], flex.p_down[h], flex.q_up[h], flex.q_down[h]]
        assert_allclose(mine, extents(exact), atol=1e-12)
        assert shapely.LineString(flex.vertices[h]).equals(exact) or sn == 0.0


def test_statcom_set_point_beyond_the_rating():
    with pytest.raises(ValueError, match="beyond the rating"):
        statcom_set(10.0, 2, q0_mvar=12.0)


# ---- tap changer -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    p_l=st.lists(st.floats(-80, 250) | st.sampled_from([0.0, 120.0]), min_size=4, max_size=4),
    q_l=st.lists(st.floats(-30, 60) | st.sampled_from([0.0, 25.0]), min_size=4, max_size=4),
    band=st.tuples(st.sampled_from([0.0, 0.05, 0.1]), st.sampled_from([0.0, 0.05, 0.1])),
    k=st.tuples(st.sampled_from([0.0, 0.7, 1.0, 1.5, 2.0]), st.sampled_from([0.0, 1.0, 2.5, 4.0])),
)
def test_tap_changer_set_is_the_hull_of_its_curve(p_l, q_l, band, k):
    dv_down, dv_up = band
    kp, kq = k
    p_l, q_l = np.array(p_l), np.array(q_l)
    flex = oltc_set(p_l, q_l, dv_down, dv_up, kp, kq)
    sampled = oltc_curve(p_l, q_l, dv_down, dv_up, kp, kq)
    volts = np.linspace(1 - dv_down, 1 + dv_up, 4001)
    for h in range(len(p_l)):
        # the figures: the extremes of the curve itself (sampled densely here)
        dense = np.stack([-p_l[h] * (volts**kp - 1), -q_l[h] * (volts**kq - 1)], axis=1)
        want = [max(dense[:, 0].max(), 0), -min(dense[:, 0].min(), 0)]
        want += [max(dense[:, 1].max(), 0), -min(dense[:, 1].min(), 0)]
        mine = [flex.p_up[h], flex.p_down[h], flex.q_up[h], flex.q_down[h]]
        assert_allclose(mine, want, rtol=0, atol=1e-9)
        assert min(mine) >= 0.0
        # the polygon: the hull of the sampled curve, counter-clockwise
        hull = shapely.MultiPoint(sampled[h]).convex_hull
        v = flex.vertices[h]
        assert v.shape == (2 * OLTC_SAMPLES + 1, 2)
        assert shoelace_area(v) >= -1e-9 * max(1.0, hull.area)
        assert abs(shoelace_area(v) - hull.area) <= 1e-9 * max(1.0, hull.area)
        if hull.area > 1e-9:
            polygon = shapely.Polygon(v)
            assert polygon.is_valid
            assert shapely.area(shapely.symmetric_difference(polygon, hull)) <= 1e-9 * hull.area


def test_tap_changer_by_hand():
    """120 MW, 30 Mvar, +-10 %, kp = 1, kq = 2: lowering the voltage 10 % sheds 12 MW and
    30 x (1 - 0.81) = 5.7 Mvar; raising it adds 12 MW and 30 x 0.21 = 6.3 Mvar."""
    flex = oltc_set(np.array([120.0]), np.array([30.0]), 0.1, 0.1, 1.0, 2.0)
    assert_allclose([flex.p_up[0], flex.p_down[0]], [12.0, 12.0], atol=1e-12)
    assert_allclose([flex.q_up[0], flex.q_down[0]], [5.7, 6.3], atol=1e-12)
