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


BANDS_CSV = """\
ps_id,name,lat,lon,rated_mva,oltc_dv_down,oltc_dv_up
001,Uno,45.46,9.15,120,,
N,Nord,45.50,9.20,200,0.08,0.02
S,Sud,45.42,9.19,376,,
"""


def test_a_substation_rows_band_is_that_ps_s(make_study, tiny, tmp_path):
    """PS N's own band (columns oltc_dv_down, oltc_dv_up) by hand; 001 keeps [oltc]'s; S has
    neither and no tap changer. substations.csv records each PS's band."""
    study = make_study(folder=tmp_path / "s", substations=BANDS_CSV, toml=lambda t: t + OLTC)
    run = run_study(study, workers=1)
    h = run.hourly
    p, q = tiny.load_pq(1)
    gross_p = p + sum(
        tiny.sn("as-is", "N", tech) * tiny.profiles[tech] for tech in ("hydro", "biomass")
    )
    rows = h[(h["scenario"] == "2030") & (h["ps_id"] == "N")]
    assert_allclose(rows["p_up_mw_oltc"], 0.08 * gross_p, rtol=1e-12)
    assert_allclose(rows["p_down_mw_oltc"], 0.02 * gross_p, rtol=1e-12)
    assert_allclose(rows["q_up_mvar_oltc"], (1 - 0.92**2) * q, rtol=1e-12)
    assert_allclose(rows["q_down_mvar_oltc"], (1.02**2 - 1) * q, rtol=1e-12)
    one = h[(h["scenario"] == "2030") & (h["ps_id"] == "001")]
    p1 = tiny.load_pq(0)[0] + 4.0 * tiny.profiles["pv"] + 10.0 * tiny.profiles["chp"]
    assert_allclose(one["p_up_mw_oltc"], 0.1 * p1, rtol=1e-12)
    assert (h.loc[h["ps_id"] == "S", "p_up_mw_oltc"] == 0).all()
    subs = run.substations.set_index("ps_id")
    assert subs.loc["N", ["oltc_dv_down", "oltc_dv_up"]].tolist() == [0.08, 0.02]
    assert subs.loc["001", ["oltc_dv_down", "oltc_dv_up"]].tolist() == [0.1, 0.05]
    assert subs.loc["S", ["oltc_dv_down", "oltc_dv_up"]].isna().all()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace(",oltc_dv_up", "").replace(",0.02", "").replace(",\n", "\n"),
            "header: column 'oltc_dv_down' without 'oltc_dv_up', expected both ends",
        ),
        (
            lambda t: t.replace("0.08,0.02", "0.6,0.02"),
            "substations.csv:3: row 2, column oltc_dv_down: got 0.6, expected the band's end in "
            "[0, 0.5) p.u. or empty",
        ),
        (
            lambda t: t.replace("0.08,0.02", "8%,0.02"),
            "substations.csv:3: row 2, column oltc_dv_down: got '8%', expected",
        ),
        (
            lambda t: t.replace("0.08,0.02", "0.08,"),
            "substations.csv:3: row 2, oltc_dv_down, oltc_dv_up: one end of the tap changers' "
            "band, expected both or neither",
        ),
    ],
)
def test_a_bad_band_names_the_row(make_study, tmp_path, edit, message):
    from atlas.errors import AtlasInputError

    study = make_study(folder=tmp_path / "bad", substations=edit(BANDS_CSV))
    with pytest.raises(AtlasInputError) as err:
        run_study(study, workers=1)
    assert message in str(err.value)


def test_a_layers_band_attributes(tmp_path):
    """A vector layer of substations carries the same optional attributes (NaN = none)."""
    import geopandas as gpd
    import shapely

    from atlas.errors import AtlasInputError
    from atlas.geo.join import read_sites

    gdf = gpd.GeoDataFrame(
        {"ps_id": ["A", "B"], "oltc_dv_down": [0.1, None], "oltc_dv_up": [0.05, None]},
        geometry=[shapely.Point(9.1, 45.4), shapely.Point(9.2, 45.5)],
        crs=4326,
    )
    path = tmp_path / "ps.geojson"
    gdf.to_file(path)
    sites = read_sites(path)
    assert sites["oltc_dv_down"].tolist()[0] == 0.1 and np.isnan(sites["oltc_dv_down"].iloc[1])
    assert sites["oltc_dv_up"].tolist()[0] == 0.05 and np.isnan(sites["oltc_dv_up"].iloc[1])
    gdf.loc[1, "oltc_dv_down"] = 0.2
    gdf.to_file(path)
    with pytest.raises(AtlasInputError, match="one end of the tap changers' band"):
        read_sites(path)
