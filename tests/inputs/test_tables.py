"""Readers of the tabular inputs: values on the study axis, and errors naming file, row and line."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from atlas.conventions import EV_LOCATIONS
from atlas.errors import AtlasInputError
from atlas.inputs.tables import read_capacity, read_ev, read_load, read_profile, read_substations
from atlas.inputs.timeaxis import hourly_axis
from atlas.pipeline import load_inputs


def _error(path, **overrides) -> AtlasInputError:
    """The AtlasInputError of loading the tiny study with ``overrides`` (see conftest)."""
    with pytest.raises(AtlasInputError) as err:
        load_inputs(path(**overrides))
    return err.value


def _append(row: str):
    return lambda text: text + row + "\n"


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


# ---- substations ---------------------------------------------------------------------------


def test_substations_keep_ids_as_text(tiny_study_path):
    table = read_substations(tiny_study_path.parent / "substations.csv")
    assert list(table["ps_id"]) == ["001", "N", "S"]
    assert list(table.columns) == [
        "ps_id", "name", "lat", "lon", "rated_mva", "oltc_dv_down", "oltc_dv_up",
    ]  # fmt: skip
    assert_allclose(table["rated_mva"], [120, 200, 376])
    assert table[["oltc_dv_down", "oltc_dv_up"]].isna().all().all()  # no band columns


def test_substations_duplicate_ps_id(make_study, tiny):
    exc = _error(make_study, substations=_append("N,Nord bis,45.51,9.21,50"))
    assert exc.path.endswith("substations.csv")
    text = open(exc.path).read()
    assert "duplicate ps_id 'N'" in exc.one_line()
    assert exc.line == tiny.line_of(text, "Nord bis") == 5
    assert exc.where == "row 4, ps_id"


# ---- load ----------------------------------------------------------------------------------


def test_load_values_are_on_the_axis_in_ps_order(tiny_inputs, tiny):
    assert tiny_inputs.load.shape == (3, 8760, 2)
    for k in range(3):
        p, q = tiny.load_pq(k)
        assert_array_equal(tiny_inputs.load[k, :, 0], p)
        assert_array_equal(tiny_inputs.load[k, :, 1], q)


def test_load_row_order_and_offsets_do_not_matter(tmp_path, tiny):
    frame = tiny.load_frame().sample(frac=1.0, random_state=1)  # shuffled rows
    # the same instant written with a +01:00 offset
    i = frame.index[frame["time"] == "2030-06-01T12:00:00Z"][0]
    frame.loc[i, "time"] = "2030-06-01T13:00:00+01:00"
    path = tmp_path / "load.csv"
    frame.to_csv(path, index=False)
    out = read_load(path, 2030, tiny.ps_ids)
    for k in range(3):
        assert_array_equal(out[k, :, 0], tiny.load_pq(k)[0])


@pytest.mark.parametrize(
    ("ps_id", "stamp"),
    [
        ("N", "2030-01-05T03:00:00Z"),
        ("001", "2030-01-01T00:00:00Z"),
        ("S", "2030-12-31T23:00:00Z"),
        ("S", "2030-03-31T01:00:00Z"),  # the spring DST change is nothing special in UTC
    ],
)
def test_load_gap_names_the_ps_and_the_missing_stamp(make_study, ps_id, stamp):
    exc = _error(
        make_study,
        load=lambda t: "".join(
            ln for ln in t.splitlines(keepends=True) if not ln.startswith(f"{stamp},{ps_id},")
        ),
    )
    assert exc.path.endswith("load.csv")
    assert f"ps_id={ps_id}" in exc.one_line()
    assert f"missing stamp {stamp}" in exc.one_line()


def test_load_ps_missing_altogether(make_study):
    exc = _error(
        make_study, load=lambda t: "".join(ln for ln in t.splitlines(True) if ",S," not in ln)
    )
    assert "ps_id=S" in exc.one_line()
    assert "no row for this substation, expected its 8760 hours of 2030" in exc.one_line()


def test_load_duplicate_stamp_names_it_and_its_line(make_study, tiny):
    # hour 5 of N rewritten as hour 4: N has hour 4 twice (and no hour 5)
    exc = _error(make_study, load=_replace("2030-01-01T05:00:00Z,N,", "2030-01-01T04:00:00Z,N,"))
    line = 1 + 8760 + 5 + 1  # header, the 8760 rows of 001, then N's hours 0..5
    assert exc.line == line
    assert exc.one_line().startswith(f"{exc.path}:{line}: ")
    assert "ps_id=N" in exc.where and f"row {line - 1}" in exc.where
    assert "duplicate stamp 2030-01-01T04:00:00Z" in exc.one_line()


def test_load_duplicate_extra_row(make_study):
    exc = _error(make_study, load=_append("2030-06-01T00:00:00Z,S,1.0,1.0"))
    assert exc.line == 1 + 3 * 8760 + 1
    assert "ps_id=S" in exc.where
    assert "duplicate stamp 2030-06-01T00:00:00Z" in exc.one_line()


@pytest.mark.parametrize(
    ("new", "expect"),
    [
        ("2030-01-01T05:00:00", "expected an ISO 8601 UTC stamp"),  # naive
        ("2030-01-01 05:00", "expected an ISO 8601 UTC stamp"),  # naive
        ("5 January", "expected an ISO 8601 UTC stamp"),
        ("", "expected an ISO 8601 UTC stamp"),
        ("2030-01-01T05:30:00Z", "not an hour of the 2030 axis"),  # off the hour
        ("2031-01-01T05:00:00Z", "not an hour of the 2030 axis"),  # another year
    ],
    ids=["naive", "naive-space", "text", "empty", "half-hour", "other-year"],
)
def test_load_bad_stamp_names_row_and_line(make_study, new, expect):
    exc = _error(make_study, load=_replace("2030-01-01T05:00:00Z,N,", f"{new},N,"))
    line = 1 + 8760 + 5 + 1
    assert exc.line == line
    assert exc.where == f"row {line - 1}, time"
    assert expect in exc.one_line()


def test_load_unknown_ps_id(make_study):
    exc = _error(make_study, load=_append("2030-06-01T00:00:00Z,X9,1.0,1.0"))
    assert exc.line == 1 + 3 * 8760 + 1
    assert "'X9' is not in the substations file" in exc.one_line()


def test_load_non_numeric_value(make_study):
    exc = _error(make_study, load=_replace("2030-01-01T05:00:00Z,N,", "2030-01-01T05:00:00Z,N,abc"))
    assert exc.line == 1 + 8760 + 5 + 1
    assert "p_mw" in exc.where


def _write_load(path, stamps, tiny):
    """A load file with P = position i of the given stamps and Q = -i for every PS."""
    i = np.arange(len(stamps), dtype=float)
    frame = pd.concat(
        [
            pd.DataFrame({"time": stamps, "ps_id": ps, "p_mw": i + 1000 * k, "q_mvar": -i})
            for k, ps in enumerate(tiny.ps_ids)
        ]
    )
    frame.to_csv(path, index=False)


def test_load_year_redates_position_by_position(make_study, tiny):
    stamps = hourly_axis(2022).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = make_study(
        # the load counts the hours (checkable positions), beyond any PS's rating: accepted
        toml=lambda t: (
            _replace('load = "load.csv"', 'load = "load.csv"\nload_year = 2022')(t)
            + '\n[checks]\naccept = ["load_max_ratio"]\n'
        ),
        load="",
    )
    _write_load(path.parent / "load.csv", stamps, tiny)
    inputs = load_inputs(path)
    assert inputs.study.year == 2030
    for k in range(3):
        assert_array_equal(inputs.load[k, :, 0], np.arange(8760) + 1000 * k)  # row i -> hour i
        assert_array_equal(inputs.load[k, :, 1], -np.arange(8760))
    assert inputs.axis[0] == pd.Timestamp("2030-01-01T00:00Z")


def test_load_year_stamps_must_be_that_years(make_study, tiny):
    path = make_study(toml=_replace('load = "load.csv"', 'load = "load.csv"\nload_year = 2022'))
    with pytest.raises(AtlasInputError, match="not an hour of the 2022 axis") as err:
        load_inputs(path)
    assert err.value.line == 2  # the first data row, a 2030 stamp


def test_leap_load_year_without_29_february(tmp_path, tiny):
    axis = hourly_axis(2024)
    assert not ((axis.month == 2) & (axis.day == 29)).any()
    path = tmp_path / "load.csv"
    _write_load(path, axis.strftime("%Y-%m-%dT%H:%M:%SZ"), tiny)
    out = read_load(path, 2030, tiny.ps_ids, load_year=2024)
    study_axis = hourly_axis(2030)
    for stamp in ("03-01T00:00", "02-28T23:00", "12-31T23:00", "07-04T12:00"):
        i = study_axis.get_loc(pd.Timestamp(f"2030-{stamp}Z"))
        assert out[0, i, 0] == axis.get_loc(pd.Timestamp(f"2024-{stamp}Z"))
    assert_array_equal(out[2, :, 0], np.arange(8760) + 2000)


def test_leap_load_year_with_29_february_is_an_error(tmp_path, tiny):
    stamps = pd.date_range("2024-01-01", "2024-12-31 23:00", freq="h", tz="UTC")
    assert len(stamps) == 8784
    path = tmp_path / "load.csv"
    _write_load(path, stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), tiny)
    with pytest.raises(AtlasInputError) as err:
        read_load(path, 2030, tiny.ps_ids, load_year=2024)
    first = 59 * 24  # 2024-02-29T00:00Z is row 1417 of PS 001
    assert err.value.line == first + 2
    assert "2024-02-29T00:00:00Z" in err.value.one_line()
    assert "29 February" in err.value.one_line()


def test_leap_study_year(make_study, tiny):
    # a 2028 study: the load is the 2028 axis (no 29 February); a 29 February stamp is an error
    path = make_study(
        toml=_replace("year = 2030", "year = 2028"),
        load=tiny.load_frame(2028).to_csv(index=False),
        ev=lambda t: t.replace(",2030-", ",2028-"),
    )
    inputs = load_inputs(path)
    assert (inputs.axis == hourly_axis(2028)).all()
    assert_array_equal(inputs.load[1, :, 0], tiny.load_pq(1)[0])
    h = inputs.axis.get_loc(pd.Timestamp("2028-07-15T19:00Z"))
    assert inputs.ev_mw["2030"][0, EV_LOCATIONS.index("home"), h] == 3.0
    text = path.parent.joinpath("load.csv").read_text()
    path.parent.joinpath("load.csv").write_text(
        text.replace("2028-03-01T00:00:00Z,N,", "2028-02-29T00:00:00Z,N,", 1)
    )
    with pytest.raises(AtlasInputError, match="2028-02-29T00:00:00Z") as err:
        load_inputs(path)
    assert err.value.line == 1 + 8760 + 59 * 24 + 1


def test_compressed_load(make_study, tiny):
    path = make_study(toml=_replace('"load.csv"', '"load.csv.gz"'), load=False)
    tiny.load_frame().to_csv(path.parent / "load.csv.gz", index=False)
    inputs = load_inputs(path)
    assert_array_equal(inputs.load[2, :, 1], tiny.load_pq(2)[1])


# ---- capacity ------------------------------------------------------------------------------


def test_capacity_values(tiny_inputs, tiny):
    cap = tiny_inputs.capacity
    assert list(cap.columns) == [
        "scenario", "ps_id", "technology", "level", "capacity_mw", "energy_mwh",
    ]  # fmt: skip
    assert cap["energy_mwh"].isna().all()  # no battery
    assert len(cap) == len(tiny.capacity_rows)
    for (s, p, t, lv, mw), row in zip(tiny.capacity_rows, cap.itertuples(), strict=True):
        assert (row.scenario, row.ps_id, row.technology, row.level) == (s, p, t, lv or "MV")
        assert row.capacity_mw == mw


@pytest.mark.parametrize(
    "row",
    ["2030,001,chp,1,MV", "2030,001,chp,1,mv", "2030,001,chp,1,", "2030,001, CHP ,1,MV"],
    ids=["same", "lower-case-level", "empty-level", "padded-tech"],
)
def test_capacity_duplicate_key_is_an_error_with_its_line(make_study, row):
    # the default file has "2030,001,chp,12," (empty level = MV) on line 8
    exc = _error(make_study, capacity=_append(row))
    assert exc.path.endswith("capacity.csv")
    assert exc.line == 14  # header, the 12 default rows, then the new row
    assert "duplicate key (2030, 001, chp, MV)" in exc.one_line()


def test_capacity_level_defaults_to_mv(tmp_path, tiny):
    path = tmp_path / "capacity.csv"
    path.write_text("scenario,ps_id,technology,capacity_mw\nas-is,001,pv,4\n2030,N,hydro,1.5\n")
    cap = read_capacity(path, tiny.scenarios, tiny.ps_ids)
    assert list(cap["level"]) == ["MV", "MV"]
    path.write_text(
        "scenario,ps_id,technology,capacity_mw,level\nas-is,001,pv,4,\n2030,N,hydro,1.5, \n"
    )
    cap = read_capacity(path, tiny.scenarios, tiny.ps_ids)
    assert list(cap["level"]) == ["MV", "MV"]
    assert_allclose(cap["capacity_mw"], [4.0, 1.5])
    assert list(cap["ps_id"]) == ["001", "N"]


@pytest.mark.parametrize(
    ("row", "where", "expect"),
    [
        ("2030,001,ev,1,MV", "row 13, technology", "'ev' expected one of"),
        ("2040,001,pv,1,MV", "row 13, scenario", "'2040' not a scenario of the study"),
        ("2030,1,pv,1,MV", "row 13, ps_id", "'1' not in the substations file"),
        ("2030,S,pv,1,HV", "row 13, level", "'HV' expected one of ['MV', 'LV']"),
        ("2030,S,pv,-1,MV", "row 13, column capacity_mw", "expected a finite number >= 0"),
        ("2030,S,pv,,MV", "row 13, column capacity_mw", "expected a finite number >= 0"),
        ("2030,S,pv,5kW,MV", "row 13, column capacity_mw", "expected a finite number >= 0"),
    ],
    ids=["ev", "unknown-scenario", "unknown-ps", "level", "negative", "empty", "unit"],
)
def test_capacity_errors_name_row_and_line(make_study, row, where, expect):
    exc = _error(make_study, capacity=_append(row))
    assert exc.path.endswith("capacity.csv")
    assert exc.line == 14
    assert exc.where == where
    assert expect in exc.one_line()


def test_capacity_negative_value_is_shown_as_written(make_study):
    exc = _error(make_study, capacity=_append("2030,S,pv,-1,MV"))
    assert "np.float64" not in exc.one_line()
    assert "got -1" in exc.one_line() or "got '-1'" in exc.one_line()


# ---- profiles ------------------------------------------------------------------------------


def test_profiles_are_read_exactly(tiny_inputs, tiny):
    for tech in ("pv", "chp", "hydro", "biomass"):
        assert tiny_inputs.profiles[tech].shape == (8760,)
        assert_array_equal(tiny_inputs.profiles[tech], tiny.profiles[tech])


def test_profile_with_8759_rows(make_study):
    exc = _error(make_study, pv=lambda t: "".join(t.splitlines(True)[:-1]))
    assert exc.path.endswith("pv.csv")
    assert "8759 rows, expected 8760" in exc.one_line()


@pytest.mark.parametrize("value", ["1.2", "-0.1", "nan", "x"])
def test_profile_value_out_of_range_names_row_and_line(make_study, value):
    def edit(text):
        lines = text.splitlines(True)
        lines[100] = f"{value}\n"  # file line 101 = data row 100
        return "".join(lines)

    exc = _error(make_study, chp=edit)
    assert exc.path.endswith("chp.csv")
    assert exc.line == 101
    assert exc.where == "row 100, column pu"
    assert "expected a finite number >= 0.0 and <= 1.0" in exc.one_line()


def test_profile_without_pu_column(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("value\n" + "0.5\n" * 8760)
    with pytest.raises(AtlasInputError, match="missing column 'pu'") as err:
        read_profile(path)
    assert err.value.line == 1


# ---- EV charging ---------------------------------------------------------------------------


def test_ev_missing_rows_are_zero(tiny_inputs, tiny):
    ev = tiny_inputs.ev_mw
    assert set(ev) == {"as-is", "2030"}
    for scenario in tiny.scenarios:
        assert ev[scenario].shape == (3, 4, 8760)
        for k, ps in enumerate(tiny.ps_ids):
            for j, loc in enumerate(EV_LOCATIONS):
                assert_array_equal(ev[scenario][k, j], tiny.ev_mw(scenario, ps, loc))
    assert np.count_nonzero(ev["2030"]) == 5
    assert np.count_nonzero(ev["as-is"]) == 1
    h = tiny.hour("2030-01-01T09:00:00Z")
    assert ev["2030"][0, EV_LOCATIONS.index("work"), h] == 2.0
    assert ev["2030"][0, EV_LOCATIONS.index("home"), h] == 1.5
    assert ev["2030"][2, EV_LOCATIONS.index("public"), h] == 1.25


def test_ev_scenario_without_rows_is_all_zero(tmp_path, tiny):
    path = tmp_path / "ev.csv"
    path.write_text("scenario,time,ps_id,location,p_mw\n2030,2030-01-01T00:00:00Z,N,work,1\n")
    ev = read_ev(path, tiny.scenarios, tiny.ps_ids, 2030)
    assert not ev["as-is"].any()
    assert ev["2030"].sum() == 1.0 and ev["2030"][1, 1, 0] == 1.0


@pytest.mark.parametrize(
    ("row", "where", "expect"),
    [
        ("2040,2030-01-01T11:00:00Z,001,work,1", "row 7, scenario", "'2040' is not a scenario"),
        ("2030,2030-01-01T11:00:00Z,001,garage,1", "row 7, location", "'garage' expected one of"),
        ("2030,2030-01-01T11:00:00Z,001,work,-1", "row 7, column p_mw", ">= 0.0"),
        ("2030,2030-01-01T11:00:00Z,Z,work,1", "row 7, ps_id", "'Z' is not in the substations"),
        ("2030,2030-01-01T11:00:00,001,work,1", "row 7, time", "expected an ISO 8601 UTC stamp"),
        ("2030,2030-01-01T09:00:00Z,001,work,3", "row 7", "duplicate (2030, 2030-01-01T09:00:00Z"),
    ],
    ids=["scenario", "location", "negative", "ps", "naive-stamp", "duplicate"],
)
def test_ev_errors_name_row_and_line(make_study, row, where, expect):
    exc = _error(make_study, ev=_append(row))
    assert exc.path.endswith("ev.csv")
    assert exc.line == 8
    assert exc.where == where
    assert expect in exc.one_line()
