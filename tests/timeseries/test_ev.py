"""EV charging from daily shapes: energy conserved, holidays, allocation, the study path."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from atlas.conventions import EV_LOCATIONS
from atlas.inputs.timeaxis import hourly_axis
from atlas.timeseries.ev import allocate_energy, charging_power, local_day_types, read_ev_shapes

AXIS = hourly_axis(2030)


def test_energy_is_conserved_exactly():
    shapes = read_ev_shapes()
    hour, working = local_day_types(AXIS, "Europe/Rome")
    energy = np.array([[1000.0, 250.0, 0.0, 3.5], [12.0, 0.0, 7.0, 40_000.0]])
    p = charging_power(energy, hour, working, shapes)
    assert p.shape == (2, 4, 8760) and p.min() >= 0
    assert_allclose(p.sum(axis=2), energy, rtol=1e-9, atol=0)


def test_holiday_shapes_apply_on_holidays_including_sant_ambrogio():
    shapes = read_ev_shapes()
    hour, working = local_day_types(AXIS, "Europe/Rome")
    local = AXIS.tz_convert("Europe/Rome")
    day = pd.Series(local.date)
    for date in (
        "2030-12-07",
        "2030-12-25",
        "2030-04-22",
        "2030-12-01",
    ):  # Sant'Ambrogio, Christmas, Easter Monday, a Sunday
        assert not working[(day == pd.Timestamp(date).date()).to_numpy()].any(), date
    assert working[(day == pd.Timestamp("2030-12-06").date()).to_numpy()].all()  # a Friday
    energy = np.ones((1, 4)) * 8760.0
    p = charging_power(energy, hour, working, shapes)[0]
    j = EV_LOCATIONS.index("work")
    on = (day == pd.Timestamp("2030-12-07").date()).to_numpy()
    before = (day == pd.Timestamp("2030-12-06").date()).to_numpy()
    # hour by hour, the day's profile is the holiday shape, in the ratio of the shipped data
    ratio = p[j, on].sum() / p[j, before].sum()
    assert ratio == pytest.approx(
        shapes.daily["work"]["holiday"] / shapes.daily["work"]["working"], rel=1e-12
    )
    assert_allclose(
        p[j, on] / p[j, on].sum(), shapes.hourly["work"]["holiday"][hour[on]], atol=1e-12
    )
    # without Milan's local holidays, 7 December 2030 (a Saturday) is still not a working day,
    # but 7 December 2029 (a Friday) is one only outside Milan
    axis29 = hourly_axis(2029)
    _, w_mi = local_day_types(axis29, "Europe/Rome", "IT", "MI")
    _, w_it = local_day_types(axis29, "Europe/Rome", "IT", None)
    d29 = pd.Series(axis29.tz_convert("Europe/Rome").date) == pd.Timestamp("2029-12-07").date()
    assert not w_mi[d29.to_numpy()].any() and w_it[d29.to_numpy()].all()


@pytest.mark.parametrize(
    ("year", "timezone", "country", "subdiv"),
    [(2030, "Europe/Rome", "IT", "MI"), (2024, "America/New_York", "US", "NY")],
)
def test_working_days_match_the_calendar_date_by_date(year, timezone, country, subdiv):
    """The vectorised lookup against the holidays calendar asked one local date at a time
    (the UTC year's first or last local hours fall in the year before or after)."""
    import holidays

    axis = hourly_axis(year)
    hour, working = local_day_types(axis, timezone, country, subdiv)
    local = axis.tz_convert(timezone)
    calendar = holidays.country_holidays(country, subdiv=subdiv, years=[year - 1, year, year + 1])
    expected = [d.weekday() < 5 and d not in calendar for d in local.date]
    assert working.tolist() == expected
    assert hour.tolist() == list(local.hour)


def test_allocation_by_location_and_weight():
    shares = {"home": 0.5, "work": 0.3, "b2c": 0.0, "public": 0.2}
    weights = np.array([[1.0, 0.0, 0.0, 0.0], [3.0, 2.0, 0.0, 0.0]])  # no public point anywhere
    e = allocate_energy(1000.0, shares, weights)
    assert e.sum() == pytest.approx(1000.0, rel=1e-12)
    assert_allclose(e[:, 0], [125.0, 375.0])  # home 500 split 1:3
    assert_allclose(e[:, 1], [0.0, 300.0])  # work only where points are
    assert_allclose(e[:, 3], [200.0 * 1 / 6, 200.0 * 5 / 6])  # no public weight: by total points
    with pytest.raises(ValueError, match="every allocation weight is zero"):
        allocate_energy(1.0, shares, np.zeros((2, 4)))


def test_study_with_ev_shapes(tmp_path):
    """A register with charging points and 340 GWh in 2030: energy per scenario conserved."""
    import json

    import shapely

    from atlas.pipeline import load_inputs

    pd.DataFrame(
        {
            "ps_id": ["A", "B"],
            "name": ["a", "b"],
            "lat": [45.45, 45.45],
            "lon": [9.15, 9.25],
            "rated_mva": 100,
        }
    ).to_csv(tmp_path / "substations.csv", index=False)
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": shapely.geometry.mapping(shapely.box(9.1, 45.4, 9.3, 45.5)),
    }
    (tmp_path / "boundary.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    pd.DataFrame(
        {
            "technology": ["pv", "ev", "ev", "ev", "ev"],
            "capacity_kw": [100.0, 11, 11, 22, 7.4],
            "location": ["", "home", "home", "work", "home"],
            "lat": [45.45] * 5,
            "lon": [9.12, 9.12, 9.13, 9.28, 9.27],
        }
    ).to_csv(tmp_path / "ders.csv", index=False)
    stamps = AXIS.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.concat(
        [pd.DataFrame({"time": stamps, "ps_id": p, "p_mw": 40.0, "q_mvar": 5.0}) for p in "AB"]
    ).to_csv(tmp_path / "load.csv", index=False)
    (tmp_path / "study.toml").write_text(
        '[study]\nname = "ev"\nyear = 2030\n[inputs]\nsubstations = "substations.csv"\nboundary = "boundary.geojson"\n'
        'ders = "ders.csv"\nload = "load.csv"\n[profiles.ev]\nsource = "shapes"\nenergy_mwh = { "2030" = 340000.0 }\n'
        '[scenarios]\nnames = ["as-is", "2030"]\n'
    )
    inputs = load_inputs(tmp_path / "study.toml")
    assert inputs.ev_mw["as-is"].sum() == 0.0
    assert inputs.ev_mw["2030"].sum() == pytest.approx(340_000.0, rel=1e-9)
    by_loc = inputs.ev_mw["2030"].sum(axis=2)  # (ps, loc) MWh
    home, work = EV_LOCATIONS.index("home"), EV_LOCATIONS.index("work")
    assert_allclose(
        by_loc[:, home], [0.55 * 340_000 * 2 / 3, 0.55 * 340_000 / 3], rtol=1e-9
    )  # 2 vs 1 home points
    assert_allclose(by_loc[:, work], [0.0, 0.20 * 340_000], rtol=1e-9)
