"""Wind, batteries and STATCOMs in every output of a run the README lists (issue 13): the
hourly table, capacity_by_ps.csv, service_areas.geojson, der_register.csv, the figures, the
report and the map, from a register with one of each near PS 001 (Voronoi areas)."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from map_fixtures import BOUNDARY, with_register

from atlas.pipeline import run_study

REGISTER = (
    "der_id,technology,capacity_kw,energy_kwh,level,scenario,lat,lon\n"
    "P1,pv,800,,MV,,45.461,9.151\n"
    "W1,wind,3000,,MV,2030,45.462,9.152\n"
    "B1,bess,2000,4000,MV,2030,45.462,9.150\n"
    "S1,statcom,5000,,MV,2030,45.463,9.151\n"
)
NEW = ("wind", "bess", "statcom")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny):
    folder = tmp_path_factory.mktemp("new_techs")
    i = np.arange(8760)
    wind = 0.35 + 0.3 * np.sin(2 * np.pi * i / 97.0)
    study = tiny.write(
        folder / "study",
        toml=lambda t: with_register(t) + '\n[profiles.wind]\nsource = "file"\nfile = "wind.csv"\n',
        capacity=False,
        extra={
            "ders.csv": REGISTER,
            "boundary.geojson": json.dumps(BOUNDARY),
            "wind.csv": "pu\n" + "".join(f"{float(x)!r}\n" for x in wind),
        },
    )
    out = folder / "run"
    run_study(study, out, workers=1, formats=("parquet", "csv"), figures="all", webmap="offline")
    return out


def test_hourly_columns(run_dir):
    h = pd.read_parquet(run_dir / "flexibility_hourly.parquet")
    one = h[(h["scenario"] == "2030") & (h["ps_id"] == "001")]
    assert (one["p_down_mw_wind"] > 0).all() and (one["q_up_mvar_statcom"] == 5.0).all()
    assert (one["p_up_mw_bess"] > 0).all() and (one["bess_soe_mwh"] == 2.0).all()  # half of 4
    assert (h.loc[h["scenario"] == "as-is", [f"q_up_mvar_{t}" for t in NEW]] == 0).all().all()


def test_capacity_register_and_areas(run_dir):
    cap = pd.read_csv(run_dir / "capacity_by_ps.csv", dtype={"ps_id": str})
    rows = cap[(cap["scenario"] == "2030") & cap["technology"].isin(NEW)]
    got = sorted(rows[["ps_id", "technology", "capacity_mw"]].itertuples(index=False))
    assert [tuple(r) for r in got] == [
        ("001", "bess", 2.0),
        ("001", "statcom", 5.0),
        ("001", "wind", 3.0),
    ]
    assert rows.loc[rows["technology"] == "bess", "energy_mwh"].tolist() == [4.0]
    reg = pd.read_csv(run_dir / "der_register.csv", dtype={"ps_id": str})
    assert set(NEW) <= set(reg["technology"])
    assert reg.loc[reg["technology"] == "bess", "energy_mwh"].tolist() == [4.0]
    areas = gpd.read_file(run_dir / "service_areas.geojson").set_index("ps_id")
    assert areas.loc["001", "cap_2030_wind_mw"] == 3.0
    assert areas.loc["001", "cap_2030_bess_mw"] == 2.0
    assert areas.loc["001", "cap_2030_bess_mwh"] == 4.0
    assert areas.loc["001", "cap_2030_statcom_mw"] == 5.0
    assert areas.loc["001", "cap_as-is_wind_mw"] == 0.0


def test_figures_and_report(run_dir):
    pngs = {p.stem for p in (run_dir / "figures" / "001").glob("*.png")}
    assert {f"fig03_capability_{t}" for t in NEW} <= pngs
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    for t in NEW:
        assert f"figures/001/fig03_capability_{t}.png" in report


def test_map_popups_and_legend(run_dir):
    text = (run_dir / "map.html").read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="atlas-data">(.*?)</script>', text, re.S)
    data = json.loads(m.group(1))
    techs = data["cap"]["techs"]
    assert set(NEW) <= set(techs)
    k = data["ps"]["id"].index("001")
    row = data["cap"]["data"]["2030"][k]
    assert [row[techs.index(t)] for t in NEW] == [3.0, 2.0, 5.0]
    assert set(NEW) <= {d["tech"] for d in data["der"]}  # the DER layers of the legend
