"""A Parquet load with timestamps is placed on the axis as instants: the same array as text
stamps, and the same errors, the stamps shown in UTC."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from atlas.errors import AtlasInputError
from atlas.inputs.tables import read_load, read_load_parquet


def _stamped(tiny, year=None, tz="UTC"):
    """The tiny load with timestamps (in the time zone ``tz``) instead of text."""
    frame = tiny.load_frame(year)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(tz)
    return frame


def _error(call) -> AtlasInputError:
    with pytest.raises(AtlasInputError) as err:
        call()
    return err.value


@pytest.mark.parametrize("tz", ["UTC", "Europe/Rome", "-03:30"])
def test_timestamps_give_the_array_of_text_stamps(tmp_path, tiny, tz):
    text = tiny.load_frame().sample(frac=1.0, random_state=2)  # shuffled rows
    text.to_csv(tmp_path / "load.csv", index=False)
    text.to_parquet(tmp_path / "text.parquet")
    stamped = text.assign(time=pd.to_datetime(text["time"], utc=True).dt.tz_convert(tz))
    stamped.to_parquet(tmp_path / "load.parquet", row_group_size=5000)
    want = read_load(tmp_path / "load.csv", 2030, tiny.ps_ids)
    for name in ("text.parquet", "load.parquet"):
        got = read_load(tmp_path / name, 2030, tiny.ps_ids)
        assert got.tobytes() == want.tobytes()  # bit for bit
    some = read_load_parquet(tmp_path / "load.parquet", 2030, ["S", "001"])
    assert some.tobytes() == want[[2, 0]].tobytes()


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_any_timestamp_unit(tmp_path, tiny, unit):
    frame = _stamped(tiny)
    frame["time"] = frame["time"].dt.as_unit(unit)
    frame.to_parquet(tmp_path / "load.parquet")
    out = read_load(tmp_path / "load.parquet", 2030, tiny.ps_ids)
    assert_array_equal(out[1, :, 0], tiny.load_pq(1)[0])


def test_load_year_timestamps(tmp_path, tiny):
    _stamped(tiny, 2022).to_parquet(tmp_path / "load.parquet")
    out = read_load(tmp_path / "load.parquet", 2030, tiny.ps_ids, load_year=2022)
    assert_array_equal(out[2, :, 1], tiny.load_pq(2)[1])
    exc = _error(lambda: read_load(tmp_path / "load.parquet", 2030, tiny.ps_ids))
    assert exc.where == "row 1, time" and exc.line == 2
    assert exc.problem == (
        "stamp '2022-01-01T00:00:00Z' is not an hour of the 2030 axis "
        "(UTC, on the hour, 29 February excluded)"
    )


def _edited(tmp_path, tiny, edit, tz="UTC"):
    frame = _stamped(tiny, tz=tz)
    path = tmp_path / "load.parquet"
    edit(frame).to_parquet(path)
    return path


def _at(frame, ps, stamp):
    return frame.index[(frame["ps_id"] == ps) & (frame["time"] == pd.Timestamp(stamp))][0]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Rome"])
@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("2030-03-03T03:30Z", "stamp '2030-03-03T03:30:00Z' is not an hour of the 2030 axis"),
        ("2031-01-01T00:00Z", "stamp '2031-01-01T00:00:00Z' is not an hour of the 2030 axis"),
        (None, "got NaT, expected an ISO 8601 UTC stamp such as 2030-01-01T00:00:00Z"),
    ],
    ids=["half-hour", "other-year", "NaT"],
)
def test_a_bad_timestamp_names_its_row_in_utc(tmp_path, tiny, tz, new, problem):
    def edit(frame):
        i = _at(frame, "N", "2030-03-03T03:00Z")
        frame["time"] = frame["time"].astype(object)
        frame.loc[i, "time"] = None if new is None else pd.Timestamp(new).tz_convert(tz)
        frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(tz)
        return frame

    path = _edited(tmp_path, tiny, edit, tz)
    exc = _error(lambda: read_load(path, 2030, tiny.ps_ids))
    row = 8760 + 61 * 24 + 3  # 0-based: N's rows follow 001's, 3 March is day 61
    assert exc.where == f"row {row + 1}, time" and exc.line == row + 2
    assert exc.problem.startswith(problem)


def test_29_february_is_not_on_a_leap_axis(tmp_path, tiny):
    frame = _stamped(tiny, 2028)
    frame.loc[_at(frame, "S", "2028-03-01T00:00Z"), "time"] = pd.Timestamp("2028-02-29T00:00Z")
    frame.to_parquet(tmp_path / "load.parquet")
    exc = _error(lambda: read_load(tmp_path / "load.parquet", 2028, tiny.ps_ids))
    assert "stamp '2028-02-29T00:00:00Z' is not an hour of the 2028 axis" in exc.problem


def test_duplicate_and_missing_stamps_are_named_in_utc(tmp_path, tiny):
    def moved(frame):
        frame.loc[_at(frame, "N", "2030-01-01T05:00Z"), "time"] = pd.Timestamp(
            "2030-01-01T04:00Z"
        ).tz_convert("Europe/Rome")
        return frame

    path = _edited(tmp_path, tiny, moved, "Europe/Rome")
    exc = _error(lambda: read_load(path, 2030, tiny.ps_ids))
    assert exc.one_line() == (
        f"{path}: ps_id=N: duplicate stamp 2030-01-01T04:00:00Z, expected each hour once per PS"
    )
    path = _edited(tmp_path, tiny, lambda f: f.drop(index=_at(f, "S", "2030-07-07T07:00Z")))
    exc = _error(lambda: read_load(path, 2030, tiny.ps_ids))
    assert exc.one_line() == (
        f"{path}: ps_id=S: missing stamp 2030-07-07T07:00:00Z, expected all 8760 hours of 2030"
    )


def test_values_are_checked_before_stamps(tmp_path, tiny):
    def edit(frame):
        frame.loc[_at(frame, "N", "2030-03-03T03:00Z"), "time"] = pd.Timestamp("2030-03-03T03:30Z")
        frame.loc[_at(frame, "S", "2030-02-02T02:00Z"), "q_mvar"] = np.nan
        return frame

    path = _edited(tmp_path, tiny, edit)
    exc = _error(lambda: read_load(path, 2030, tiny.ps_ids))
    assert exc.where == f"row {2 * 8760 + 32 * 24 + 2 + 1}, column q_mvar"
    assert exc.problem.startswith("got empty") and "expected a finite number" in exc.problem


def test_naive_timestamps_and_unknown_ps(tmp_path, tiny):
    path = _edited(tmp_path, tiny, lambda f: f.assign(time=f["time"].dt.tz_localize(None)))
    for read in (read_load, read_load_parquet):
        exc = _error(lambda read=read: read(path, 2030, tiny.ps_ids))
        assert exc.where == "time"
        assert exc.problem.startswith("timestamps without a time zone")
    path = _edited(tmp_path, tiny, lambda f: f.assign(ps_id=f["ps_id"].replace("N", "X")))
    exc = _error(lambda: read_load(path, 2030, tiny.ps_ids))
    assert exc.one_line() == (
        f"{path}: ps_id=X: is not in the substations file, expected a known ps_id"
    )


def test_check_load_parquet_reads_ids_as_used(tmp_path):
    """The id check reads text ids as dictionaries: it names an unknown id a row uses,
    ignores a dictionary entry no row uses, and checks integer ids as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from atlas.inputs.tables import check_load_parquet

    stamps = pa.array(pd.date_range("2030-01-01", periods=4, freq="h", tz="UTC"))
    values = pa.array([1.0, 2.0, 3.0, 4.0])

    def write(ps_id: pa.Array, name: str, store_schema: bool = True):
        path = tmp_path / name
        table = pa.table({"time": stamps, "ps_id": ps_id, "p_mw": values, "q_mvar": values})
        pq.write_table(table, path, row_group_size=2, store_schema=store_schema)
        return path

    used = pa.DictionaryArray.from_arrays(pa.array([0, 0, 2, 2], pa.int32()), ["A", "ZZZ", "B"])
    for store_schema, kind in ((True, pa.types.is_dictionary), (False, pa.types.is_string)):
        path = write(used, "dict.parquet", store_schema)  # read back as dictionary, or text
        assert kind(pq.ParquetFile(path).schema_arrow.field("ps_id").type)
        check_load_parquet(path, ["A", "B"])  # ZZZ is in a dictionary, in no row
        exc = _error(lambda path=path: check_load_parquet(path, ["A"]))
        assert exc.one_line() == (
            f"{path}: ps_id=B: is not in the substations file, expected a known ps_id"
        )
    path = write(pa.array(["A", "A", None, "A"]), "null.parquet")
    exc = _error(lambda: check_load_parquet(path, ["A"]))
    assert exc.where == "row group 1, ps_id"
    path = write(pa.array([7, 7, 7, 8]), "int.parquet")
    check_load_parquet(path, ["7", "8"])
    exc = _error(lambda: check_load_parquet(path, ["7"]))
    assert exc.where == "ps_id=8"
