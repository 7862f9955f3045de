"""A study in chunks (atlas.batch, atlas.dataset): the same outputs whatever the chunk size, the
number of workers or the engine (processes, a dask cluster on the loopback address), a Parquet
load read chunk by chunk, datasets whose ids stay text."""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest
from map_fixtures import with_register
from test_runfolder import ACCEPT_AGGREGATES, BOUNDARY, REGISTER

from atlas.batch import plan_study
from atlas.dataset import part_files, read_dataset
from atlas.errors import AtlasInputError
from atlas.pipeline import load_inputs, run_study
from atlas.runfolder import HOURLY_PARQUET, STATISTICS_PARQUET, Run


@pytest.fixture(scope="module")
def chunk_study(tmp_path_factory, tiny) -> Path:
    """The tiny study (PS ``001``, ``N``, ``S``) with Voronoi areas from a DER register."""
    folder = tmp_path_factory.mktemp("chunk_study")
    return tiny.write(
        folder,
        toml=lambda t: with_register(t) + ACCEPT_AGGREGATES,
        capacity=False,
        extra={"ders.csv": REGISTER, "boundary.geojson": json.dumps(BOUNDARY)},
    )


def _data_files(folder: Path) -> dict[str, bytes]:
    """Every file of a run folder but run.json (times, engine), by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run.json"
    }


def test_chunk_size_does_not_change_the_run(chunk_study):
    whole = run_study(chunk_study, chunk_size=100)
    for size in (1, 2):
        part = run_study(chunk_study, chunk_size=size)
        assert part.manifest["engine"]["chunks"] == -(-3 // size)
        assert whole.differences(part) == ["manifest"]


def test_one_chunk_equals_the_whole_inputs(chunk_study):
    plan = plan_study(chunk_study)
    whole = load_inputs(chunk_study)
    part = plan.inputs(range(1, 3))
    assert part.ps_ids == ["N", "S"]
    np.testing.assert_array_equal(part.load, whole.load[1:3])
    for tech, p in whole.profiles.items():
        np.testing.assert_array_equal(part.profiles[tech], p[1:3] if p.ndim == 2 else p)
    for s in whole.study.scenarios:
        np.testing.assert_array_equal(part.ev_mw[s], whole.ev_mw[s][1:3])
    assert set(part.capacity["ps_id"]) <= {"N", "S"}


@pytest.fixture(scope="module")
def one_worker(chunk_study, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("w1") / "run"
    run_study(
        chunk_study, out, workers=1, chunk_size=1, formats=("parquet", "csv"), figures="summary"
    )
    return out


def test_two_workers_write_the_same_bytes(chunk_study, one_worker, tmp_path):
    out = tmp_path / "run"
    run = run_study(
        chunk_study, out, workers=2, chunk_size=1, formats=("parquet", "csv"), figures="summary"
    )
    assert run.manifest["engine"] == {
        "engine": "processes",
        "workers": 2,
        "chunk_size": 1,
        "chunks": 3,
    }
    a, b = _data_files(one_worker), _data_files(out)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert "flexibility_hourly.parquet/part-s001-c00002.parquet" in a
    assert sum(k.endswith(".png") for k in a) == 6


def test_the_dask_engine_writes_the_same_bytes(chunk_study, one_worker, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: never a clash with a running cluster
    ) as cluster:
        out = tmp_path / "run"
        run = run_study(
            chunk_study,
            out,
            chunk_size=1,
            formats=("parquet", "csv"),
            figures="summary",
            scheduler=cluster.scheduler_address,
        )
    assert run.manifest["engine"]["engine"] == "dask"
    a, b = _data_files(one_worker), _data_files(out)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_an_unreachable_scheduler_is_one_clear_error(chunk_study, tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with pytest.raises(AtlasInputError, match=re.escape("cannot reach 'tcp://127.0.0.1:1'")):
        run_study(chunk_study, tmp_path / "run", scheduler="tcp://127.0.0.1:1")
    assert not (tmp_path / "run").exists()


def test_datasets_read_back_whole_or_filtered_with_text_ids(one_worker):
    hourly = one_worker / HOURLY_PARQUET
    assert [p.name for p in part_files(hourly)][:2] == [
        "part-s000-c00000.parquet",
        "part-s000-c00001.parquet",
    ]
    table = read_dataset(hourly)
    assert list(pd.unique(table["ps_id"])) == ["001", "N", "S"]
    assert list(pd.unique(table["scenario"])) == ["as-is", "2030"]
    # pandas and pyarrow read the folder as one table, ids as text
    by_pandas = pd.read_parquet(hourly)
    assert by_pandas["ps_id"].iloc[0] == "001" and len(by_pandas) == len(table)
    one = pads.dataset(hourly).to_table(filter=pads.field("ps_id") == "001").to_pandas()
    assert len(one) == 2 * 8760 and set(one["ps_id"]) == {"001"}
    # the statistics: scenario by scenario, PS by PS, and the same as one whole table
    stats = read_dataset(one_worker / STATISTICS_PARQUET)
    blocks = stats[["scenario", "ps_id"]].drop_duplicates().to_numpy().tolist()
    assert blocks == [[s, p] for s in ("as-is", "2030") for p in ("001", "N", "S")]
    pd.testing.assert_frame_equal(Run.load(one_worker).statistics, stats)


def test_a_parquet_load_gives_the_same_run(chunk_study, tiny, tmp_path):
    folder = chunk_study.parent
    frame = tiny.load_frame()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    study = tmp_path / "study"
    study.mkdir()
    for f in folder.iterdir():
        (study / f.name).write_bytes(f.read_bytes())
    frame.to_parquet(study / "load.parquet", row_group_size=8760)
    toml = study / "study.toml"
    toml.write_text(toml.read_text().replace('"load.csv"', '"load.parquet"'))
    a = run_study(chunk_study, chunk_size=2)
    b = run_study(toml, chunk_size=2)
    np.testing.assert_array_equal(a.hourly["p_mw"], b.hourly["p_mw"])
    assert a.differences(b) == ["manifest"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.assign(ps_id=f["ps_id"].replace("N", "X")), "ps_id=X: is not in the"),
        (lambda f: f.drop(index=5), "ps_id=001: missing stamp 2030-01-01T05:00:00Z"),
        (lambda f: f.drop(columns="q_mvar"), "missing ['q_mvar']"),
        (
            lambda f: f.assign(time=f["time"].dt.tz_localize(None)),
            "timestamps without a time zone",
        ),
    ],
)
def test_a_bad_parquet_load_is_named(chunk_study, tiny, tmp_path, edit, message):
    frame = tiny.load_frame()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    study = tmp_path / "study"
    study.mkdir()
    for f in chunk_study.parent.iterdir():
        (study / f.name).write_bytes(f.read_bytes())
    edit(frame).to_parquet(study / "load.parquet")
    toml = study / "study.toml"
    toml.write_text(toml.read_text().replace('"load.csv"', '"load.parquet"'))
    with pytest.raises(AtlasInputError) as err:
        run_study(toml, chunk_size=1)
    assert err.value.path == str(study / "load.parquet")
    assert message in err.value.one_line()


def test_hourly_parts_are_the_frames_rows_in_arrow(chunk_study, tmp_path):
    """The chunk's Arrow parts hold exactly what ``Table.from_pandas`` makes of the hourly
    frame's rows of each scenario (columns, types, values, pandas metadata), so a part
    written from either has the same bytes."""
    import pyarrow as pa

    from atlas._compat import PANDAS_3
    from atlas.dataset import write_part
    from atlas.engine.compute import (
        chunk_daylight,
        chunk_hourly,
        compute_chunk,
        hourly_part_tables,
    )

    inputs = plan_study(chunk_study).inputs(range(0, 3))
    values, _, over = compute_chunk(inputs)
    daylight = chunk_daylight(inputs)
    frame = chunk_hourly(inputs, values, over)
    tables = hourly_part_tables(inputs, values, over, daylight)
    rows = len(frame) // len(tables)
    assert len(tables) == len(inputs.study.scenarios) == 2
    for s, table in enumerate(tables):
        part = frame.iloc[s * rows : (s + 1) * rows]
        expected = pa.Table.from_pandas(part, preserve_index=False)
        if PANDAS_3:
            assert table.equals(expected, check_metadata=True)
        else:  # pandas 2 makes string and ns columns; the part's types do not depend on it
            assert table.equals(expected.cast(table.schema))
        a = write_part(part, tmp_path / "frame", s, 0)
        b = write_part(table, tmp_path / "arrow", s, 0)
        if PANDAS_3:
            assert a.read_bytes() == b.read_bytes()
        else:  # the same rows; pandas 2's frame holds ns stamps, the part us
            import pyarrow.parquet as pq

            assert pq.read_table(a).cast(table.schema).equals(pq.read_table(b))
    np.testing.assert_array_equal(daylight, frame["daylight"].to_numpy()[:rows].reshape(3, -1))
    with pytest.raises(TypeError, match="must be text"):
        write_part(tables[0].set_column(1, "ps_id", pa.array(np.arange(rows))), tmp_path, 0, 1)


def _with_tmy(chunk_study: Path, folder: Path, tmy: str | None) -> Path:
    """The chunk study copied into ``folder``, its PV from a TMY (``tmy``: a file's text,
    None for the shipped one)."""
    import shutil

    shutil.copytree(chunk_study.parent, folder)
    study = folder / chunk_study.name
    pv = '[profiles.pv]\nsource = "tmy"\n' + ('file = "tmy.csv"\n' if tmy is not None else "")
    text = study.read_text().replace('[profiles.pv]\nsource = "file"\nfile = "pv.csv"\n', pv)
    assert 'source = "tmy"' in text
    study.write_text(text)
    if tmy is not None:
        (folder / "tmy.csv").write_text(tmy)
    return study


def test_the_tmy_read_by_a_worker_gives_the_same_run(chunk_study, tmp_path):
    # with worker processes the TMY is read in the first worker (plan_study's executor)
    study = _with_tmy(chunk_study, tmp_path / "study", None)
    one = run_study(study, tmp_path / "w1", workers=1, figures="none", webmap="none")
    two = run_study(study, tmp_path / "w2", workers=2, figures="none", webmap="none")
    a, b = _data_files(tmp_path / "w1"), _data_files(tmp_path / "w2")
    assert [k for k in a if a[k] != b[k]] == [] and sorted(a) == sorted(b)
    assert one.manifest["engine"]["workers"] == 1 and two.manifest["engine"]["workers"] == 2


def test_a_bad_tmy_read_by_a_worker_is_the_same_error(chunk_study, tmp_path):
    study = _with_tmy(chunk_study, tmp_path / "study", "not,a\ntmy,file\n")
    errors = []
    for workers in (1, 2):
        with pytest.raises(AtlasInputError) as info:
            run_study(study, tmp_path / f"w{workers}", workers=workers)
        errors.append(str(info.value))
    assert errors[0] == errors[1], errors
    assert "tmy.csv" in errors[0], errors
    assert not (tmp_path / "w2").exists()


_FAULTS_OF_A_SECOND_ARRAY = """
import resource, sys
import numpy as np
from atlas.batch import keep_chunk_memory
if sys.argv[1] == "keep":
    keep_chunk_memory()
a = np.ones(8_000_000)  # 64 MB, above glibc's largest automatic mmap threshold
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(8_000_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason="keep_chunk_memory tunes glibc's allocator (Linux with glibc only)",
)
def test_a_process_running_chunks_reuses_the_pages_of_the_last_chunk():
    """After keep_chunk_memory, a 64 MB array freed and made again takes its pages from the
    process, not afresh from the kernel: page faults measured in a fresh interpreter
    (4 kB pages: numpy's huge-page advice off)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"}
    faults = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", _FAULTS_OF_A_SECOND_ARRAY, mode],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for mode in ("default", "keep")
    }
    pages = 64_000_000 // 4096
    assert faults["default"] > pages / 2  # every page again from the kernel
    assert faults["keep"] < pages / 20
