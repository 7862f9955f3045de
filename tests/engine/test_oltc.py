"""Tap changers over a voltage-dependent load (METHOD.md, "Beyond the seed paper"): the
gross load from the measured point and the reference scenario's production, the band's
figures by hand, the same set in every scenario, off unless a band is given."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from atlas.engine.capability import oltc_set
from atlas.inputs.study import OltcSection
from atlas.pipeline import run_study

OLTC = '\n[oltc]\ndv_down = 0.1\ndv_up = 0.05\nkp = 1.0\nkq = 2.0\nps_ids = ["001"]\n'


def test_tap_changer_figures_by_hand(make_study, tiny):
    """PS 001: P_L = P + as-is production (4 MW PV, 10 MW CHP at their profiles), Q_L = Q;
    -10 % gives up P_L x 0.1 and Q_L x 0.19; +5 % gives down P_L x 0.05, Q_L x 0.1025
    (where P_L, Q_L > 0). Only PS 001 has it, in both scenarios alike."""
    run = run_study(make_study(toml=lambda t: t + OLTC), workers=1)
    h = run.hourly
    p, q = tiny.load_pq(0)
    gross_p = p + 4.0 * tiny.profiles["pv"] + 10.0 * tiny.profiles["chp"]
    assert (gross_p > 0).all() and (q > 0).all()
    for scenario in ("as-is", "2030"):
        rows = h[(h["scenario"] == scenario) & (h["ps_id"] == "001")]
        assert_allclose(rows["p_up_mw_oltc"], 0.1 * gross_p, rtol=1e-12)
        assert_allclose(rows["p_down_mw_oltc"], 0.05 * gross_p, rtol=1e-12)
        assert_allclose(rows["q_up_mvar_oltc"], (1 - 0.81) * q, rtol=1e-12)
        assert_allclose(rows["q_down_mvar_oltc"], (1.05**2 - 1) * q, rtol=1e-12)
    others = h[h["ps_id"] != "001"]
    assert (others[[c for c in h.columns if c.endswith("_oltc")]].to_numpy() == 0).all()


def test_the_figures_add_to_the_others(make_study, tmp_path):
    base = run_study(make_study(folder=tmp_path / "base"), workers=1).hourly
    study = make_study(folder=tmp_path / "oltc", toml=lambda t: t + OLTC)
    with_oltc = run_study(study, workers=1).hourly
    for fig in ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar"):
        assert_allclose(with_oltc[fig] - base[fig], with_oltc[f"{fig}_oltc"], rtol=0, atol=1e-9)


def test_off_unless_a_band_is_given():
    assert OltcSection().band("SUD") is None
    assert OltcSection(dv_down=0.05, dv_up=0.05).band("SUD") == (0.05, 0.05)
    with pytest.raises(ValueError, match="give both dv_down and dv_up"):
        OltcSection(dv_down=0.05)


def test_reverse_flow_turns_the_figures():
    """A PS exporting (P_L < 0): a lower voltage reduces the export, a downward deviation."""
    flex = oltc_set(np.array([-50.0]), np.array([0.0]), 0.1, 0.1, 1.0, 2.0)
    assert flex.p_up[0] == pytest.approx(5.0) and flex.p_down[0] == pytest.approx(5.0)
    assert flex.q_up[0] == 0.0 and flex.q_down[0] == 0.0
