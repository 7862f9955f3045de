"""Wind (METHOD.md, "Beyond the seed paper"): a static converter like PV, 0 <= p <= p0, its
reactive range and circle from PV's row of the table, its profile from a file."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from atlas.engine.capability import box_disc_set, default_parameters
from atlas.errors import AtlasInputError
from atlas.pipeline import load_inputs, run_study

WIND_TOML = '\n[profiles.wind]\nsource = "file"\nfile = "wind.csv"\n'


def wind_pu() -> np.ndarray:
    i = np.arange(8760)
    return 0.35 + 0.3 * np.sin(2 * np.pi * i / 97.0)  # gusty, within [0.05, 0.65]


def test_wind_rows_are_pv_rows():
    params = default_parameters()
    for level in ("MV", "LV"):
        wind, pv = params[("wind", level)], params[("pv", level)]
        assert wind.shape_key()[1:] == pv.shape_key()[1:]


def test_wind_figures_by_hand(make_study, tiny):
    """8 MW of wind at PS N in 2030 on a given profile: p_up 0 (curtail only), p_down p0,
    q 0.4359 Sn each way (pf 0.9); the other technologies' figures as before."""
    pu = wind_pu()
    study = make_study(
        toml=lambda t: t + WIND_TOML,
        capacity=lambda t: t + "2030,N,wind,8,MV\n",
        extra={"wind.csv": "pu\n" + "".join(f"{float(x)!r}\n" for x in pu)},
    )
    run = run_study(study, workers=1)
    h = run.hourly
    n = h[(h["scenario"] == "2030") & (h["ps_id"] == "N")]
    q = 8.0 * np.sqrt(1 - 0.81)
    assert_allclose(n["p_up_mw_wind"], 0.0, atol=1e-12)
    assert_allclose(n["p_down_mw_wind"], 8.0 * pu, atol=1e-9)
    assert_allclose(n["q_up_mvar_wind"], q, atol=1e-9)
    assert_allclose(n["q_down_mvar_wind"], q, atol=1e-9)
    want = box_disc_set(default_parameters()[("wind", "MV")], 8.0, pu)
    assert_allclose(n["p_down_mw_wind"], want.p_down, atol=1e-12)
    # no wind elsewhere, and nothing else moved
    other = h[(h["scenario"] != "2030") | (h["ps_id"] != "N")]
    assert (other[["p_up_mw_wind", "p_down_mw_wind", "q_up_mvar_wind"]].to_numpy() == 0).all()
    base = run_study(make_study(folder=study.parent.parent / "base"), workers=1).hourly
    for col in [c for c in base.columns if c.startswith(("p_", "q_")) and "wind" not in c]:
        delta = n[col].to_numpy() - base.loc[n.index, col].to_numpy()
        if col in ("p_down_mw", "q_up_mvar", "q_down_mvar"):
            extra = {"p_down_mw": 8.0 * pu, "q_up_mvar": q, "q_down_mvar": q}[col]
            assert_allclose(delta, extra, atol=1e-9)
        elif col not in ("p_mw", "q_mvar"):
            assert_allclose(delta, 0.0, atol=1e-9)


def test_wind_capacity_without_a_profile_is_an_error(make_study):
    study = make_study(capacity=lambda t: t + "2030,S,wind,3,MV\n")
    with pytest.raises(AtlasInputError, match=r"capacity\.csv") as info:
        load_inputs(study)
    message = str(info.value)
    assert "wind capacity (3 MW under PS 'S' in scenario '2030') without a wind profile" in message
    assert '[profiles.wind] source = "file"' in message
