"""Batteries and STATCOMs in a study: read from the capacity table or the register, grouped,
scheduled, and added to the figures; the issue's case on the Milan demo (PS Sud, 2030)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from map_fixtures import BOUNDARY, with_register
from numpy.testing import assert_allclose

from atlas.analysis.stats import firm_value
from atlas.demo import demo_study_path
from atlas.engine.capability import battery_groups, bess_energy
from atlas.engine.compute import FIGURE_COLUMNS, VALUE_COLUMNS, compute_ps, der_specs
from atlas.errors import AtlasInputError
from atlas.pipeline import load_inputs, run_study

FIGS = ["p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar"]


def with_energy(rows: str):
    """An edit of the tiny capacity table: an empty energy_mwh column, then ``rows``."""

    def edit(text: str) -> str:
        text = text.replace("capacity_mw,level\n", "capacity_mw,level,energy_mwh\n")
        return text.replace("\n", ",\n").replace("energy_mwh,\n", "energy_mwh\n") + rows

    return edit


def _column(values: np.ndarray, s: int, name: str) -> np.ndarray:
    return values[s, VALUE_COLUMNS.index(name)]


@pytest.fixture(scope="module")
def demo_inputs():
    return load_inputs(demo_study_path())


def _with_rows(inputs, rows: list[dict]):
    """The inputs with capacity rows added (a new object: its cached groups are rebuilt)."""
    extra = pd.DataFrame(rows)
    capacity = pd.concat([inputs.capacity, extra], ignore_index=True)
    return dataclasses.replace(inputs, capacity=capacity)


def test_the_issue_case_on_the_demo(demo_inputs):
    """An idle 10 MW / 20 MWh battery at half charge (efficiencies 0.95) at PS Sud in 2030:
    p_up +9.5 MW (energy-limited), p_down +10 MW (converter-limited), q_up and q_down +10
    Mvar in all 8760 hours and each firm value by the same; a 15 Mvar STATCOM then adds 15
    Mvar to q_up and q_down and nothing to P. The other scenario does not move."""
    inputs = demo_inputs
    k = inputs.ps_index("SUD")
    s = inputs.study.scenarios.index("2030")
    bess = {"scenario": "2030", "ps_id": "SUD", "technology": "bess", "level": "MV"}
    statcom = {"scenario": "2030", "ps_id": "SUD", "technology": "statcom", "level": "MV"}
    base, _, _ = compute_ps(inputs, k)
    with_bess, _, _ = compute_ps(
        _with_rows(inputs, [bess | {"capacity_mw": 10.0, "energy_mwh": 20.0}]), k
    )
    both, _, _ = compute_ps(
        _with_rows(
            inputs,
            [
                bess | {"capacity_mw": 10.0, "energy_mwh": 20.0},
                statcom | {"capacity_mw": 15.0, "energy_mwh": np.nan},
            ],
        ),
        k,
    )
    gain = {"p_up_mw": 9.5, "p_down_mw": 10.0, "q_up_mvar": 10.0, "q_down_mvar": 10.0}
    for fig, delta in gain.items():
        assert_allclose(_column(with_bess, s, fig) - _column(base, s, fig), delta, atol=1e-9)
        assert_allclose(_column(with_bess, s, f"{fig}_bess"), delta, atol=1e-12)
        assert firm_value(_column(with_bess, s, fig)) - firm_value(
            _column(base, s, fig)
        ) == pytest.approx(delta, abs=1e-9)
        more = 15.0 if fig.startswith("q_") else 0.0
        assert_allclose(_column(both, s, fig) - _column(with_bess, s, fig), more, atol=1e-9)
        assert_allclose(_column(both, s, f"{fig}_statcom"), more, atol=1e-12)
    assert_allclose(_column(with_bess, s, "bess_soe_mwh"), 10.0, atol=1e-12)
    assert (_column(base, s, "bess_soe_mwh") == 0).all()
    other = 1 - s
    assert (both[other] == base[other]).all()
    # the other technologies' columns are bit for bit those without the resources
    kept = [c for c in FIGURE_COLUMNS if c not in FIGS and not c.endswith(("_bess", "_statcom"))]
    for col in kept:
        assert (_column(both, s, col) == _column(base, s, col)).all(), col


def test_batteries_merge_only_with_the_same_energy_per_mw():
    rows = [(10.0, 20.0), (5.0, 10.0), (4.0, 4.0), (0.0, 3.0), (1.0, 1.0)]
    assert battery_groups(rows) == [(15.0, 30.0), (5.0, 5.0)]


def test_a_battery_in_the_register_and_its_schedule(make_study, tmp_path, tiny):
    """Capacity table with batteries on two levels (2 h and 4 h) at PS 001 in 2030, a
    schedule per PS from a file: two groups, each following the schedule per unit of its
    rating; the state of energy summed in bess_soe_mwh equals the recursion by hand."""
    hours = pd.date_range("2030-01-01", periods=8760, freq="h", tz="UTC")
    # discharge by day, charge by night, the losses made up: the same charge every morning
    pu = np.where(np.arange(8760) % 24 < 12, 0.05, -0.05 / 0.95**2)
    schedule = pd.DataFrame(
        {"time": hours.strftime("%Y-%m-%dT%H:%M:%SZ"), "ps_id": "001", "pu": pu}
    ).to_csv(index=False)
    study = make_study(
        toml=lambda t: t + '\n[profiles.bess]\nsource = "file"\nfile = "sched.csv"\ne_init = 0.6\n',
        capacity=with_energy("2030,001,bess,4,MV,8\n2030,001,bess,2,LV,8\n2030,N,statcom,5,MV,\n"),
        extra={"sched.csv": schedule},
    )
    inputs = load_inputs(study)
    specs = [x for x in der_specs(inputs, "2030", "001") if x.technology == "bess"]
    assert sorted((x.sn_mva, x.energy_mwh) for x in specs) == [(2.0, 8.0), (4.0, 8.0)]
    run = run_study(study, workers=1)
    h = run.hourly
    rows = h[(h["scenario"] == "2030") & (h["ps_id"] == "001")]
    want = sum(bess_energy(pu * sn, e, 0.6)[:-1] for sn, e in ((4.0, 8.0), (2.0, 8.0)))
    assert_allclose(rows["bess_soe_mwh"], want, atol=1e-9)
    n = h[(h["scenario"] == "2030") & (h["ps_id"] == "N")]
    assert_allclose(n["q_up_mvar_statcom"], 5.0, atol=1e-12)
    assert_allclose(n["p_up_mw_statcom"], 0.0, atol=1e-12)
    cap = run.capacity
    bess_rows = cap[cap["technology"] == "bess"]
    assert sorted(bess_rows["energy_mwh"]) == [8.0, 8.0]
    assert cap.loc[cap["technology"] != "bess", "energy_mwh"].isna().all()


def test_a_schedule_that_empties_the_battery_names_the_ps_and_hour(make_study):
    """Discharging at full power from half charge empties a 1 h battery within the hour."""
    study = make_study(
        toml=lambda t: t + '\n[profiles.bess]\nsource = "file"\nfile = "sched.csv"\n',
        capacity=with_energy("2030,S,bess,10,MV,10\n"),
        extra={"sched.csv": "time,pu\n" + "".join(f"{t},1\n" for t in _stamps())},
    )
    with pytest.raises(AtlasInputError) as info:
        load_inputs(study)
    assert str(info.value).endswith(
        "sched.csv: ps_id 'S', scenario '2030': the schedule of its 10 MW / 10 MWh battery "
        "takes the state of energy to -5.52632 MWh by the end of the hour starting "
        "2030-01-01T00:00:00Z, below 0 (empty), expected a schedule the battery can follow "
        "from e_init = 0.5 (capacity.csv gives the battery)"
    )


def _stamps() -> list[str]:
    hours = pd.date_range("2030-01-01", periods=8760, freq="h", tz="UTC")
    return list(hours.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_a_schedule_missing_hours(make_study):
    study = make_study(
        toml=lambda t: t + '\n[profiles.bess]\nsource = "file"\nfile = "sched.csv"\n',
        extra={"sched.csv": "time,pu\n" + "".join(f"{t},0\n" for t in _stamps()[:-1])},
    )
    with pytest.raises(AtlasInputError, match=r"sched\.csv: time: 8759 hours, expected every one"):
        load_inputs(study)


def test_a_bess_row_without_energy(make_study):
    study = make_study(capacity=lambda t: t + "2030,S,bess,10,MV\n")
    with pytest.raises(AtlasInputError, match="a bess row without energy_mwh"):
        load_inputs(study)


def test_batteries_and_a_statcom_from_the_register(make_study):
    """Three batteries near PS 001 (Voronoi areas): two of 2 h (one in the as-is scenario
    only), one of 4 h, and a STATCOM: the capacity table keeps one row per energy-per-MW
    group, the engine one group each, and the STATCOM its segment."""
    register = (
        "der_id,technology,capacity_kw,energy_kwh,level,scenario,lat,lon\n"
        "P1,pv,800,,MV,,45.461,9.151\n"
        "B1,bess,2000,4000,MV,,45.462,9.152\n"
        "B2,bess,1000,2000,MV,,45.462,9.150\n"
        "B3,bess,1000,4000,MV,as-is,45.460,9.152\n"
        "S1,statcom,5000,,MV,,45.463,9.151\n"
    )
    study = make_study(
        toml=with_register,
        capacity=False,
        extra={"ders.csv": register, "boundary.geojson": json.dumps(BOUNDARY)},
    )
    inputs = load_inputs(study)
    cap = inputs.capacity
    bess = cap[cap["technology"] == "bess"].sort_values(["scenario", "energy_mwh"])
    rows = list(bess[["scenario", "ps_id", "capacity_mw", "energy_mwh"]].itertuples(index=False))
    assert [tuple(r) for r in rows] == [
        ("2030", "001", 3.0, 6.0),
        ("as-is", "001", 1.0, 4.0),
        ("as-is", "001", 3.0, 6.0),
    ]
    groups = {
        s: sorted((x.sn_mva, x.energy_mwh) for x in der_specs(inputs, s, "001") if x.kind == "bess")
        for s in ("as-is", "2030")
    }
    assert groups == {"as-is": [(1.0, 4.0), (3.0, 6.0)], "2030": [(3.0, 6.0)]}
    statcom = [x for x in der_specs(inputs, "2030", "001") if x.kind == "statcom"]
    assert [x.sn_mva for x in statcom] == [5.0]
    flex = statcom[0].sets(with_vertices=False)
    assert_allclose([flex.q_up[0], flex.q_down[0], flex.p_up[0]], [5.0, 5.0, 0.0])
