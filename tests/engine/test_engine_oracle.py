"""The engine against hand-computed figures and the brute-force shapely oracle."""

import math
from dataclasses import replace

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from atlas.conventions import TECHNOLOGIES
from atlas.engine.capability import (
    bess_energy,
    bess_set,
    box_disc_set,
    box_set,
    default_parameters,
    ev_set,
    oltc_set,
    statcom_set,
)
from atlas.engine.envelope import DerGroup, ps_flexibility, shoelace_area
from atlas.testing import bruteforce_extents, bruteforce_minkowski

P = default_parameters()
Q09 = math.sqrt(1 - 0.9**2)  # 0.43589: PV reactive limit per unit of Sn
Q08 = 0.6  # sin(acos(0.8))
Q098 = math.sqrt(1 - 0.98**2)  # 0.19900


@pytest.mark.parametrize(
    ("tech", "sn", "pu", "expected"),
    [
        # PV: p_up 0, p_down = p0, |q| <= 0.4359 Sn at any hour, night included
        ("pv", 10.0, 0.0, (0.0, 0.0, 10 * Q09, 10 * Q09)),
        ("pv", 10.0, 0.5, (0.0, 5.0, 10 * Q09, 10 * Q09)),
        ("pv", 10.0, 1.0, (0.0, 10.0, 10 * Q09, 10 * Q09)),
        # CHP dispatch 0..Sn: p_up = Sn - p0, p_down = p0, q_up = 0.6 Sn, q_down = 0.199 Sn
        ("chp", 27.0, 0.5, (13.5, 13.5, 27 * Q08, 27 * Q098)),
        ("biomass", 2.0, 0.9, (0.2, 1.8, 2 * Q08, 2 * Q098)),
        # run-of-river hydro: no extra active power
        ("hydro", 0.42, 0.7, (0.0, 0.294, 0.42 * Q08, 0.42 * Q098)),
    ],
)
def test_hand_computed_figures(tech, sn, pu, expected):
    s = box_disc_set(P[(tech, "MV")], sn, np.array([pu]))
    got = (s.p_up[0], s.p_down[0], s.q_up[0], s.q_down[0])
    assert_allclose(got, expected, atol=1e-12)


def test_pv_without_night_reactive():
    params = replace(P[("pv", "MV")], q_at_night=False)
    s = box_disc_set(params, 10.0, np.array([0.0, 0.3]))
    assert_allclose(s.q_up, [0.0, 10 * Q09])
    assert_allclose(s.q_down, [0.0, 10 * Q09])


def test_p_min_above_operating_point():
    """CHP with p_min 0.4 Sn at p0 = 0.3 Sn: no downward active flexibility, range from p0."""
    params = replace(P[("chp", "MV")], p_min_pu=0.4)
    s = box_disc_set(params, 10.0, np.array([0.3]))
    assert s.p_down[0] == 0.0
    assert s.p_up[0] == pytest.approx(7.0)
    assert s.q_up[0] == pytest.approx(min(6.0, math.sqrt(100 - 9)))


def test_circle_binds_the_reactive_cap():
    """p_min 0.9 Sn: at p = 0.9 Sn the circle allows only sqrt(1 - 0.81) Sn = 0.436 Sn < 0.6 Sn."""
    params = replace(P[("chp", "MV")], p_min_pu=0.9)
    s = box_disc_set(params, 1.0, np.array([0.95]))
    assert s.q_up[0] == pytest.approx(math.sqrt(1 - 0.81))
    assert s.q_down[0] == pytest.approx(Q098)


@pytest.mark.parametrize(
    ("v2g", "expected"), [(True, (3.0, 3.0, 3.0, 3.0)), (False, (0.0, 3.0, 0.0, 0.0))]
)
def test_ev_figures(v2g, expected):
    s = ev_set(np.array([3.0]), v2g=v2g)
    assert_allclose((s.p_up[0], s.p_down[0], s.q_up[0], s.q_down[0]), expected)


def test_hand_computed_sum_area():
    """Charge-only segment of length 2 plus a V2G 72-gon of radius 1: the sum's area is the
    72-gon's (36 sin 5 deg) plus the swept rectangle 2 x 2."""
    segment = DerGroup("ev", "charge", ev_set(np.array([2.0]), v2g=False))
    disc = DerGroup("ev", "v2g", ev_set(np.array([1.0]), v2g=True))
    flex = ps_flexibility([segment, disc], 1)
    assert shoelace_area(flex.vertices)[0] == pytest.approx(
        36 * math.sin(math.radians(5)) + 4.0, rel=1e-12
    )
    assert_allclose(
        [flex.figures[k][0] for k in ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar")],
        [1, 3, 1, 1],
    )


TECHS = ["pv", "chp", "biomass", "hydro"]


@st.composite
def groups(draw):
    n_hours = 6
    out = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from([*TECHS, "ev_v2g", "ev_charge", "bess", "statcom", "oltc"]))
        values = draw(
            st.lists(
                st.sampled_from([0.0, 1.0, 0.25, 0.5, 0.731, 0.999]) | st.floats(0, 1),
                min_size=n_hours,
                max_size=n_hours,
            )
        )
        arr = np.array(values)
        if kind in TECHS:
            params = P[(kind, draw(st.sampled_from(["MV", "LV"])))]
            params = replace(
                params,
                pf_inject=draw(st.sampled_from([params.pf_inject, 0.0, 0.5, 0.95, 1.0])),
                pf_absorb=draw(st.sampled_from([params.pf_absorb, 0.0, 0.7, 1.0])),
                p_min_pu=draw(st.sampled_from([0.0, 0.0, 0.3, 0.9]))
                if params.active_range != "curtail"
                else 0.0,
                q_at_night=draw(st.booleans()),
            )
            sn = draw(st.sampled_from([0.0, 0.42, 5.0, 27.0, 50.0]))
            out.append(DerGroup(kind, kind, box_disc_set(params, sn, arr)))
        elif kind == "bess":  # a schedule the battery can follow, from the drawn values
            sn = draw(st.sampled_from([0.0, 2.0, 10.0]))
            energy = draw(st.sampled_from([0.5, 20.0]))
            e, p0 = 0.5 * energy, []
            for x in 2.0 * arr - 1.0:
                p = min(max(x * sn, -(energy - e) / 0.95), 0.95 * e)
                p0.append(p)
                e = e - max(p, 0.0) / 0.95 + max(-p, 0.0) * 0.95
            p0 = np.array(p0)
            state = bess_energy(p0, energy)[:-1]
            out.append(DerGroup("bess", kind, bess_set(sn, energy, p0, state)))
        elif kind == "statcom":
            sn = draw(st.sampled_from([0.0, 15.0]))
            q0 = draw(st.sampled_from([0.0, 5.0, -15.0])) if sn else 0.0
            out.append(DerGroup("statcom", kind, statcom_set(sn, n_hours, q0)))
        elif kind == "oltc":  # gross load from -40 (export) to 160 MW
            q_l = draw(st.sampled_from([0.0, 30.0, -10.0])) * np.ones(n_hours)
            k = draw(st.sampled_from([(1.0, 2.0), (1.5, 3.2), (0.0, 0.0)]))
            out.append(DerGroup("oltc", kind, oltc_set(200.0 * arr - 40.0, q_l, 0.1, 0.05, *k)))
        else:
            out.append(DerGroup("ev", kind, ev_set(20.0 * arr, v2g=kind == "ev_v2g")))
    return out


@settings(max_examples=80, deadline=None)
@given(groups())
def test_vectorised_agrees_with_bruteforce_oracle(groups):
    n_hours = 6
    flex = ps_flexibility(groups, n_hours)
    oracle = bruteforce_minkowski([g.sets.vertices for g in groups])
    areas = shoelace_area(flex.vertices)
    for h, geom in enumerate(oracle):
        ext = bruteforce_extents(geom)
        for name, value in ext.items():
            assert abs(value - flex.figures[name][h]) <= 1e-9, name
        want = geom.area
        assert abs(areas[h] - want) <= 1e-9 * max(want, 1e-3)
        poly_ext = (
            flex.vertices[h, :, 0].max(),
            -flex.vertices[h, :, 0].min(),
            flex.vertices[h, :, 1].max(),
            -flex.vertices[h, :, 1].min(),
        )
        assert_allclose(
            poly_ext,
            [flex.figures[k][h] for k in ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar")],
            atol=1e-9,
        )
        if want > 1e-6:
            mine = shapely.Polygon(flex.vertices[h])
            assert (
                shapely.area(shapely.symmetric_difference(shapely.make_valid(mine), geom))
                <= 1e-9 * want
            )


def test_oracle_sum_of_a_thin_polygon_with_itself_is_its_double():
    """A + A = 2A for a convex A: area 4 area(A). The tap changer's thin polygon that
    hypothesis found, whose pairwise vertex sums (each sum but the doubles twice) GEOS 3.14
    hulled wrongly before the oracle gave it each point once."""
    t = np.arange(-8, 9) / 16.0  # p from -0.5 to 1 MW, 8 steps on each side of 0
    p = np.where(t < 0, t, 2.0 * t)
    q = np.array([1.025, 0.89414062, 0.7640625, 0.63476562, 0.50625, 0.37851562, 0.2515625,
                  0.12539063, 0.0, -0.2484375, -0.49375, -0.7359375, -0.975, -1.2109375,
                  -1.44375, -1.6734375, -1.9])  # fmt: skip
    a = np.column_stack([p, q])
    assert shoelace_area(a[None])[0] > 0.05  # counter-clockwise, convex, thin
    total = bruteforce_minkowski([a[None], a[None]])[0]
    assert total.is_valid
    assert total.area == pytest.approx(4.0 * shapely.Polygon(a).area, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(groups())
def test_figures_add_up(groups):
    flex = ps_flexibility(groups, 6)
    for name, attr in (
        ("p_up_mw", "p_up"),
        ("p_down_mw", "p_down"),
        ("q_up_mvar", "q_up"),
        ("q_down_mvar", "q_down"),
    ):
        assert_allclose(flex.figures[name], sum(getattr(g.sets, attr) for g in groups), atol=1e-12)
        per_tech = sum(flex.by_technology[f"{name}_{t}"] for t in TECHNOLOGIES)
        assert_allclose(flex.figures[name], per_tech, atol=1e-12)
        assert np.all(flex.figures[name] >= 0)


@settings(max_examples=80, deadline=None)
@given(groups())
def test_each_hours_envelope_contains_the_operating_point(groups):
    """E(t), the PS's deviation set (generator convention), holds its own operating point,
    the origin, every hour: no deviation is needed to stay where the PS is. Checked by the
    edges (each turns left of the origin, or through it) and by shapely where E(t) has area."""
    flex = ps_flexibility(groups, 6)
    origin = shapely.Point(0.0, 0.0)
    for h, v in enumerate(flex.vertices):
        scale = max(1.0, float(np.abs(v).max()))
        assert v[:, 0].min() <= 1e-9 * scale and v[:, 0].max() >= -1e-9 * scale
        assert v[:, 1].min() <= 1e-9 * scale and v[:, 1].max() >= -1e-9 * scale
        edge = np.roll(v, -1, axis=0) - v
        cross = edge[:, 0] * (0.0 - v[:, 1]) - edge[:, 1] * (0.0 - v[:, 0])
        assert (cross >= -1e-9 * scale**2).all(), h
        if len(np.unique(v, axis=0)) >= 3:  # a polygon, not a point or a segment
            polygon = shapely.Polygon(v)
            if polygon.is_valid and polygon.area > 1e-9:
                assert polygon.buffer(1e-9 * scale).covers(origin), h


def test_no_group_is_the_origin():
    flex = ps_flexibility([], 3)
    assert flex.vertices.shape == (3, 1, 2) and np.all(flex.vertices == 0)
    assert all(np.all(v == 0) for v in flex.figures.values())


def test_box_set_drops_only_the_circle():
    """The box variant (for pandapower's OPF): p_min 0.9 Sn as above, the reactive cap
    0.6 Sn no longer cut by the circle; vertices counter-clockwise from (dp_lo, dq_lo)."""
    params = replace(P[("chp", "MV")], p_min_pu=0.9)
    s = box_set(params, 1.0, np.array([0.95]))
    assert_allclose((s.p_up[0], s.p_down[0]), (0.05, 0.05), atol=1e-12)
    assert_allclose((s.q_up[0], s.q_down[0]), (0.6, Q098), atol=1e-12)
    assert_allclose(
        s.vertices[0], [[-0.05, -Q098], [0.05, -Q098], [0.05, 0.6], [-0.05, 0.6]], atol=1e-12
    )
    disc = box_disc_set(params, 1.0, np.array([0.95]))
    assert disc.q_up[0] < s.q_up[0]  # the circle binds there
