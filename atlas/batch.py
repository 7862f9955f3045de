"""A study in chunks of substations: memory bounded by the chunk, chunks run in parallel.

The study is read once into a :class:`StudyPlan`: everything whose size does not grow with
hours x substations (the geodata stage, capacities, each PS's yearly EV energy and PV site),
and how to make one chunk's hourly inputs (load, PV, EV power) on demand. Each chunk of
``chunk_size`` substations then goes through profiles, engine, statistics, screening and
figures on its own (:func:`run_chunk`), writes its part of the hourly and statistics
datasets (:mod:`atlas.dataset`), and hands back only per-PS summaries
(:class:`ChunkResult`). Chunks run in this process, in worker processes
(:class:`ProcessEngine`) or as tasks on a dask.distributed cluster
(:class:`DaskEngine`); the results do not depend on which, nor on the number of workers.

>>> from atlas.batch import plan_study, run_chunk  # doctest: +SKIP
>>> plan = plan_study("study.toml")
>>> inputs = plan.inputs(slice(0, 16))  # the first 16 PS, as the engine sees them
"""

from __future__ import annotations

import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atlas.engine.capability import CapabilityParams, default_parameters, override_parameters
from atlas.engine.compute import (
    FIGURE_COLUMNS,
    StudyInputs,
    chunk_daylight,
    chunk_hourly,
    compute_chunk,
    hourly_part_tables,
)
from atlas.errors import AtlasInputError
from atlas.geo.join import GeoStage, build_geodata
from atlas.inputs.checks import PsIds
from atlas.inputs.plausibility import (
    Finding,
    load_findings,
    load_peaks,
    ps_capacity_findings,
    rating_findings,
    settle,
)
from atlas.inputs.study import Study, load_study
from atlas.inputs.tables import (
    check_load_parquet,
    is_parquet,
    read_capacity,
    read_load,
    read_load_parquet,
)
from atlas.inputs.timeaxis import N_HOURS, hourly_axis
from atlas.timeseries.stage import (
    EvSource,
    PerPs,
    check_batteries,
    check_profiled,
    ev_source,
    study_tmy,
    technology_sources,
    v2g_shares,
)
from atlas.workerserver import start_server, stop_server

#: Substations per chunk unless told otherwise: about 15 MB of hourly results per PS (two
#: scenarios) in memory at once, so a chunk takes about 100-200 MB of a worker; enough
#: chunks that two workers finish together (docs/scale.md).
CHUNK_SIZE = 8


@dataclass
class LoadSource:
    """The measured PS load: a CSV table read whole (``array``), or a Parquet table read
    chunk by chunk (only the chunk's rows)."""

    path: Path
    year: int
    load_year: int | None
    ps_ids: list[str]
    array: np.ndarray | None = None

    def take(self, index) -> np.ndarray:
        """(len(index), 8760, 2) P [MW] and Q [Mvar], load convention."""
        if self.array is not None:
            return self.array[index]
        ids = list(np.asarray(self.ps_ids, dtype=object)[index])
        return read_load_parquet(self.path, self.year, ids, self.load_year)

    def subset(self, index) -> LoadSource:
        """The load of the PS at ``index`` only (a chunk's share, to send to a worker)."""
        return replace(
            self,
            ps_ids=list(np.asarray(self.ps_ids, dtype=object)[index]),
            array=None if self.array is None else self.array[index],
        )


def read_load_source(path: Path, year: int, ps_ids: list[str], load_year: int | None) -> LoadSource:
    """A CSV load table is read (and checked) whole; a Parquet one is checked for its
    columns and PS now, and its hours are read and checked per chunk."""
    if is_parquet(path):
        check_load_parquet(path, ps_ids)
        return LoadSource(path, year, load_year, ps_ids)
    return LoadSource(path, year, load_year, ps_ids, read_load(path, year, ps_ids, load_year))


@dataclass
class StudyPlan:
    """A study read once, whose hourly inputs are made per chunk of substations.

    Attributes
    ----------
    study : Study
    substations : pandas.DataFrame
        ps_id, name, lat, lon, rated_mva, in study order.
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw.
    shared_profiles : dict
        ``{technology: (8760,)}`` profiles shared by every PS. [-]
    per_ps_profiles : dict
        ``{technology: source}``: ``take(index)`` -> ``(len(index), 8760)``. [-]
    ev : EvSource
    load : LoadSource
    parameters : dict
        ``{(technology, level): CapabilityParams}``.
    v2g_locations : frozenset of str
    v2g_share : dict
        ``{scenario: (n_ps, 4)}``. [-]
    geo : GeoStage or None
        The geodata stage (kept in the main process; a worker's plan has none).
    timings_s : dict
    warnings : list of Finding
        Plausibility findings the study accepts (:mod:`atlas.inputs.plausibility`).
    what_if : dict or None
        ``{"scenario", "base", "additions"}`` of a what-if scenario (:func:`with_what_if`).
    """

    study: Study
    substations: pd.DataFrame
    capacity: pd.DataFrame
    shared_profiles: dict[str, np.ndarray]
    per_ps_profiles: dict[str, PerPs]
    ev: EvSource
    load: LoadSource
    parameters: dict[tuple[str, str], CapabilityParams]
    v2g_locations: frozenset[str]
    v2g_share: dict[str, np.ndarray]
    geo: GeoStage | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)
    what_if: dict | None = None

    @property
    def ps_ids(self) -> list[str]:
        return list(self.substations["ps_id"])

    def subset(self, chunk: range) -> StudyPlan:
        """The plan of the PS in ``chunk`` only, without the geodata stage: what a worker
        needs for that chunk (its size grows with the chunk, not with the study)."""
        index = slice(chunk.start, chunk.stop)
        subs = self.substations.iloc[index].reset_index(drop=True)
        keep = self.capacity["ps_id"].isin(set(subs["ps_id"]))
        return replace(
            self,
            substations=subs,
            capacity=self.capacity[keep].reset_index(drop=True),
            per_ps_profiles={t: src.subset(index) for t, src in self.per_ps_profiles.items()},
            ev=self.ev.subset(index),
            load=self.load.subset(index),
            v2g_share={s: a[index] for s, a in self.v2g_share.items()},
            geo=None,
        )

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> list[range]:
        """Consecutive ranges of PS positions, ``chunk_size`` each (the last one shorter)."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size {chunk_size}, expected at least 1")
        n = len(self.substations)
        return [range(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]

    def inputs(self, index: slice | range | np.ndarray = slice(None)) -> StudyInputs:
        """The engine's inputs for the PS at ``index`` (default every PS)."""
        if isinstance(index, range):
            index = slice(index.start, index.stop)
        subs = self.substations.iloc[index].reset_index(drop=True)
        whole = len(subs) == len(self.substations)
        capacity = self.capacity
        if not whole:
            capacity = capacity[capacity["ps_id"].isin(set(subs["ps_id"]))].reset_index(drop=True)
        profiles = dict(self.shared_profiles)
        profiles.update({tech: src.take(index) for tech, src in self.per_ps_profiles.items()})
        return StudyInputs(
            study=self.study,
            axis=hourly_axis(self.study.year),
            substations=subs,
            capacity=capacity,
            load=self.load.take(index),
            profiles=profiles,
            ev_mw=self.ev.take(index),
            parameters=self.parameters,
            v2g_locations=self.v2g_locations,
            v2g_share={s: a[index] for s, a in self.v2g_share.items()},
            geo=self.geo if whole else None,
            timings_s=dict(self.timings_s),
            warnings=list(self.warnings),
            what_if=self.what_if,
        )


def plan_study(
    study: Study | str | Path,
    client: Any = None,
    add: list[str] | None = None,
    executor: Any = None,
) -> StudyPlan:
    """Read and check a study's inputs, keeping per-PS hourly series for later chunks.

    ``client``, a dask.distributed Client, joins a register on its cluster when the study
    asks for it (``[areas] join = "dask"``, :mod:`atlas.geo.dask_join`). ``add``, what-if
    additions (``atlas run --add``, :mod:`atlas.inputs.whatif`), replaces the study file's
    ``[scenarios] what_if``; either makes a what-if scenario (:func:`with_what_if`).

    The TMY is read while the geodata stage runs: in ``executor``, a
    :class:`concurrent.futures.Executor` of worker processes (:meth:`ProcessEngine.executor`),
    else in a thread of this process. In a worker, pvlib's import (about 0.7 s of Python)
    does not compete with the geodata stage for this process's interpreter lock.

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    from atlas.runfolder import substations_table

    if not isinstance(study, Study):
        study = load_study(study)
    t0 = time.perf_counter()
    files = study.input_files()
    axis = hourly_axis(study.year)
    # the TMY (and pvlib's import) in a thread while the geodata stage reads and joins;
    # the errors come in the same order as read one after the other
    with ThreadPoolExecutor(1, thread_name_prefix="atlas-tmy") as early:
        if executor is None:
            tmy_job = early.submit(study_tmy, study, files)
        else:  # from the thread: starting the worker waits for the server's imports
            tmy_job = early.submit(lambda: executor.submit(study_tmy, study, files).result())
        geo = build_geodata(study, files, client)
        capacity = geo.capacity
        ps_ids = PsIds((str(p) for p in geo.sites["ps_id"]), source=files["inputs.substations"])
        if capacity is None:
            capacity = read_capacity(files["inputs.capacity"], study.scenarios, ps_ids)
        check_profiled(study, capacity, files.get("inputs.ders") or files["inputs.capacity"])
        checks = study.model.checks
        sub_path = files["inputs.substations"]
        warnings = geo.warnings + settle(
            rating_findings(
                geo.sites["rated_mva"].to_numpy(dtype=float),
                sub_path,
                checks.ps_rated_mva_max,
                is_csv=sub_path.name.lower().endswith((".csv", ".csv.gz")),
            )
            + ps_capacity_findings(
                capacity,
                geo.sites.set_index("ps_id")["rated_mva"],
                files.get("inputs.ders") or files["inputs.capacity"],
                checks.ps_capacity_max_ratio,
                rated_in=sub_path,
            ),
            checks.accept,
        )
        tmy = tmy_job.result()
    v2g_locations = frozenset(study.model.ev.v2g_locations)
    shared, per_ps = technology_sources(study, files, axis, geo, tmy)
    check_batteries(
        study, capacity, shared, per_ps, list(ps_ids),
        files.get("inputs.ders") or files["inputs.capacity"],
    )  # fmt: skip
    plan = StudyPlan(
        study=study,
        substations=substations_table(geo),
        capacity=capacity,
        shared_profiles=shared,
        per_ps_profiles=per_ps,
        ev=ev_source(study, files, axis, ps_ids, geo),
        load=read_load_source(
            files["inputs.load"], study.year, ps_ids, study.model.inputs.load_year
        ),
        parameters=override_parameters(
            default_parameters(), study.capability_overrides(), study.path
        ),
        v2g_locations=v2g_locations,
        v2g_share=v2g_shares(study.scenarios, ps_ids, v2g_locations, geo.ev_points),
        geo=geo,
        timings_s={"read": time.perf_counter() - t0},
        warnings=warnings,
    )
    texts = add if add else study.model.scenarios.what_if
    if not texts:
        return plan
    if add:
        return with_what_if(plan, texts, "--add")
    return with_what_if(plan, texts, "scenarios.what_if", study.model.scenarios.what_if_name)


def with_what_if(
    plan: StudyPlan, texts: list[str], where: str, name: str | None = None
) -> StudyPlan:
    """The plan with one more scenario: the last listed, plus the additions.

    The new scenario, ``<base>+<addition>+...``, has the base's capacity with the added
    resources, the base's EV charging and V2G shares, and the same load; the study's
    scenarios list it last (the map and the report keep colouring by the base,
    :attr:`atlas.runfolder.Run.default_scenario`).

    Parameters
    ----------
    plan : StudyPlan
    texts : list of str
        ``PS:technology=RATING[/ENERGY]`` each (:func:`atlas.inputs.whatif.parse_addition`).
    where : str
        Where the additions were given, for messages (``--add``, ``scenarios.what_if``).
    name : str, optional
        The new scenario's name (``[scenarios] what_if_name``; default
        :func:`atlas.inputs.whatif.what_if_name`).

    Raises
    ------
    AtlasInputError
        An addition that cannot be read, at an unknown PS, a battery schedule it cannot
        follow, or a what-if name already a scenario.
    """
    from atlas.inputs.whatif import parse_addition, what_if_name

    study = plan.study
    try:
        additions = [parse_addition(t) for t in texts]
    except ValueError as exc:
        raise AtlasInputError(study.path, where, str(exc)) from None
    ps_ids = plan.ps_ids
    for a in additions:
        if a.ps_id not in ps_ids:
            shown = ", ".join(ps_ids[:20]) + (" ..." if len(ps_ids) > 20 else "")
            raise AtlasInputError(
                study.path, where, f"{a.text!r}: unknown ps_id {a.ps_id!r}, expected one of {shown}"
            )
    base = study.scenarios[-1]
    name = name or what_if_name(base, additions)
    if name in study.scenarios:
        raise AtlasInputError(study.path, where, f"the what-if {name!r} is already a scenario")
    model = study.model
    scenarios = model.scenarios.model_copy(update={"names": [*study.scenarios, name]})
    new_study = Study(study.path, model.model_copy(update={"scenarios": scenarios}))
    base_rows = plan.capacity[plan.capacity["scenario"] == base].assign(scenario=name)
    added = pd.DataFrame(
        {
            "scenario": name,
            "ps_id": [a.ps_id for a in additions],
            "technology": [a.technology for a in additions],
            "level": [a.level for a in additions],
            "capacity_mw": [a.capacity_mw for a in additions],
            "energy_mwh": [np.nan if a.energy_mwh is None else a.energy_mwh for a in additions],
        }
    )
    capacity = pd.concat([plan.capacity, base_rows, added], ignore_index=True)
    check_batteries(
        new_study, capacity[capacity["scenario"] == name], plan.shared_profiles,
        plan.per_ps_profiles, ps_ids, study.path,
    )  # fmt: skip
    ev = replace(
        plan.ev, scenarios=[*plan.ev.scenarios, name], aliases={**plan.ev.aliases, name: base}
    )
    return replace(
        plan,
        study=new_study,
        capacity=capacity,
        ev=ev,
        v2g_share={**plan.v2g_share, name: plan.v2g_share[base]},
        what_if={"scenario": name, "base": base, "additions": [a.text for a in additions]},
    )


# ---------------------------------------------------------------------------------------------
# One chunk
# ---------------------------------------------------------------------------------------------


@dataclass
class ChunkTask:
    """What every chunk of a run does besides computing (the same for every chunk).

    Attributes
    ----------
    folder : pathlib.Path or None
        The staging folder to write the chunk's parts into (None: keep them in memory).
    settings : dict
        ``[screening]``: threshold_mw, threshold_mvar, availability, sample_day.
    formats : tuple of str
        Hourly formats (``csv`` too: the chunk's rows go to a CSV part as well).
    figures : {"none", "summary", "all"}
    figure_folders : dict
        ``{ps_id: folder name under figures/}`` of the PS to draw.
    """

    folder: Path | None
    settings: dict
    formats: tuple[str, ...] = ("parquet",)
    figures: str = "none"
    figure_folders: dict[str, str] = field(default_factory=dict)


@dataclass
class ChunkResult:
    """What a chunk hands back: small, per PS.

    Attributes
    ----------
    index : int
    ps_ids : list of str
    envelopes : list of (scenario, ps_id, kind, geometry)
    screening : pandas.DataFrame
        The chunk's rows of :func:`atlas.analysis.stats.screening` (ranked again when merged).
    ev_energy_mwh : numpy.ndarray
        (n_scenarios, n_ps_chunk) yearly EV charging energy. [MWh]
    figures : dict
        ``{ps_id: [PNG paths relative to the run folder]}``.
    seconds : dict
        Time per step. [s]
    peak_rss_mb : float
        Peak resident memory of the process that ran it, so far. [MB]
    hourly : pandas.DataFrame or None
        The chunk's hourly rows, when the task has no folder.
    statistics : pandas.DataFrame or None
        The chunk's statistics, when the task has no folder.
    load_peak_mva : numpy.ndarray or None
        (n_ps_chunk,) largest hourly apparent power of each PS's measured load. [MVA]
    """

    index: int
    ps_ids: list[str]
    envelopes: list[tuple]
    screening: pd.DataFrame
    ev_energy_mwh: np.ndarray
    figures: dict[str, list[str]]
    seconds: dict[str, float]
    peak_rss_mb: float
    hourly: pd.DataFrame | None = None
    statistics: pd.DataFrame | None = None
    load_peak_mva: np.ndarray | None = None


def release_memory() -> None:
    """Give memory freed by this process back to the system: the geodata stage of a national
    study leaves about 1 GB of freed heap that the C library keeps (glibc's
    ``malloc_trim``; Arrow's pool ``release_unused``). Nothing where they do not exist."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


#: glibc's ``mallopt`` parameters (malloc.h): ``M_TRIM_THRESHOLD``, ``M_MMAP_THRESHOLD``.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: Allocations of at most this size come from the heap of a process that runs chunks, and
#: freed memory up to this size stays there for the next chunk (:func:`keep_chunk_memory`).
#: [bytes]
CHUNK_HEAP_BYTES = 1 << 30


def keep_chunk_memory() -> None:
    """Let this process reuse the memory of one chunk for the next (glibc only).

    Every chunk allocates the same large arrays (a few MB to tens of MB each). By default
    glibc maps any allocation above its mmap threshold (32 MB at most) afresh and returns
    it on ``free``, and trims the heap's free top, so each chunk takes every page of those
    arrays from the kernel again, zeroed, one page fault at a time. With both thresholds at
    :data:`CHUNK_HEAP_BYTES` the pages stay in the process and the next chunk reuses them:
    measured on the 200-PS synthetic study, the chunks took 5 % less CPU time
    (benchmarks/RESULTS.md). The process's peak memory is unchanged (a chunk's arrays
    are at their peak either way); its memory between chunks stays at that peak, which a
    process that only runs chunks holds anyway. Nothing where there is no glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not (sys.platform.startswith("linux") and name):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, CHUNK_HEAP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, CHUNK_HEAP_BYTES)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_rss_mb() -> float:
    """This process's peak resident set size so far. [MB]"""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def run_chunk(plan: StudyPlan, index: int, chunk: range, task: ChunkTask) -> ChunkResult:
    """Run one chunk of substations through every stage and write its parts.

    Profiles, engine, statistics, screening and figures of the PS in ``chunk``; the hourly
    rows and the statistics go to the parts ``index`` of the datasets in ``task.folder``
    (:mod:`atlas.dataset`), so the caller gets only per-PS summaries.
    """
    from atlas.analysis.stats import DIRECTIONS, HourlyArrays, screening, statistics
    from atlas.dataset import write_part
    from atlas.runfolder import HOURLY_PARQUET, STATISTICS_PARQUET

    t = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        t.append(time.perf_counter())
        seconds[name] = t[-1] - t[-2]

    inputs = plan.inputs(chunk)
    load_peak, _ = check_load(inputs)  # the caller lists accepted findings once
    lap("profiles")
    values, envelopes, over = compute_chunk(inputs)
    lap("compute")
    daylight = chunk_daylight(inputs)
    # the hourly rows: Arrow tables for the parts, a frame for CSV parts or the caller
    parts = hourly_part_tables(inputs, values, over, daylight) if task.folder is not None else None
    hourly = (
        chunk_hourly(inputs, values, over, daylight)
        if task.folder is None or "csv" in task.formats
        else None
    )
    lap("table")
    arrays = HourlyArrays(  # the table's grid, straight from the engine's arrays
        scenarios=list(plan.study.scenarios),
        ps_ids=inputs.ps_ids,
        time=inputs.axis,
        values=np.stack(
            [values[:, FIGURE_COLUMNS.index(col)] for col, _ in DIRECTIONS.values()], axis=2
        ),
        over_rating=over,
        daylight=daylight,
    )
    del values  # the parts' columns still view it until they are written
    st = task.settings
    subs = inputs.substations
    names = dict(zip(subs["ps_id"], subs["name"], strict=True))
    rated = dict(zip(subs["ps_id"], subs["rated_mva"], strict=True))
    stats = statistics(arrays, plan.study.timezone, st["threshold_mw"], st["threshold_mvar"])
    table = screening(
        arrays, names, st["threshold_mw"], st["threshold_mvar"], st["availability"], rated
    )
    lap("statistics")
    pngs: dict[str, list[str]] = {}
    if task.folder is not None:
        assert parts is not None
        n_sc = len(plan.study.scenarios)
        h_rows, s_rows = len(inputs.ps_ids) * N_HOURS, len(stats) // n_sc
        for s in range(n_sc):  # both tables hold their scenarios one after the other
            write_part(parts[s], task.folder / HOURLY_PARQUET, s, index)
            write_part(
                stats.iloc[s * s_rows : (s + 1) * s_rows],
                task.folder / STATISTICS_PARQUET,
                s,
                index,
            )
            if hourly is not None:  # "csv" in task.formats
                write_csv_part(hourly.iloc[s * h_rows : (s + 1) * h_rows], task.folder, s, index)
        del parts
        lap("write")
        if task.figures != "none":
            pngs = _draw_chunk(inputs, arrays, envelopes, task)
            lap("figures")
    energy = np.stack(
        [inputs.ev_mw[s].sum(axis=(1, 2)) for s in plan.study.scenarios]
    )  # (n_sc, n_ps)
    return ChunkResult(
        index=index,
        ps_ids=inputs.ps_ids,
        envelopes=envelopes,
        screening=table,
        ev_energy_mwh=energy,
        figures=pngs,
        seconds=seconds,
        peak_rss_mb=peak_rss_mb(),
        hourly=hourly if task.folder is None else None,
        statistics=stats if task.folder is None else None,
        load_peak_mva=load_peak,
    )


def check_load(inputs: StudyInputs) -> tuple[np.ndarray, list[Finding]]:
    """Raise the load's plausibility finding (``[checks] load_max_ratio``) unless the study
    accepts it; return each PS's largest hourly apparent power of the load [MVA] and the
    accepted findings."""
    study = inputs.study
    checks = study.model.checks
    peak = load_peaks(inputs.load)
    findings = load_findings(
        peak,
        inputs.ps_ids,
        inputs.substations["rated_mva"].to_numpy(dtype=float),
        study.resolve(study.model.inputs.load),
        checks.load_max_ratio,
        rated_in=study.resolve(study.model.inputs.substations),
    )
    return peak, settle(findings, checks.accept)


#: Hidden folder of a staging folder holding the hourly CSV parts until they are joined.
CSV_PARTS = ".hourly-csv-parts"


def write_csv_part(hourly: pd.DataFrame, folder: Path, s: int, c: int) -> Path:
    """One scenario and chunk of the hourly table as CSV rows without header (joined in
    order by :func:`join_csv_parts`)."""
    from atlas.files import write_atomic
    from atlas.runfolder import csv_text

    csv = hourly.assign(
        time=hourly["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        scenario=csv_text(hourly["scenario"]),
        ps_id=csv_text(hourly["ps_id"]),
    )
    parts = folder / CSV_PARTS
    parts.mkdir(exist_ok=True)
    return write_atomic(
        parts / f"part-s{s:03d}-c{c:05d}.csv",
        lambda p: csv.to_csv(
            p, index=False, header=False, float_format="%.9g", lineterminator="\n"
        ),
    )


def join_csv_parts(folder: Path, columns: list[str]) -> Path | None:
    """Join the CSV parts of a staging folder into ``flexibility_hourly.csv`` (header first,
    parts in name order), then remove them."""
    import shutil

    from atlas.files import write_atomic
    from atlas.runfolder import HOURLY_CSV

    parts_dir = folder / CSV_PARTS
    if not parts_dir.is_dir():
        return None
    parts = sorted(parts_dir.iterdir())

    def write(p: Path) -> None:
        with open(p, "wb") as out:
            out.write((",".join(columns) + "\n").encode())
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)

    path = write_atomic(folder / HOURLY_CSV, write)
    shutil.rmtree(parts_dir)
    return path


def _draw_chunk(inputs: StudyInputs, arrays, envelopes: list[tuple], task: ChunkTask):
    """Draw the figures of the chunk's chosen PS in this process."""
    from threadpoolctl import threadpool_limits

    from atlas.present.report import RunFigureData, figure_thresholds, ps_figures, technology_views
    from atlas.runfolder import default_scenario

    assert task.folder is not None
    subs = inputs.substations
    data = RunFigureData(
        arrays=arrays,
        load=inputs.load,
        timezone=inputs.study.timezone,
        envelopes={(s, p, kind): g for s, p, kind, g in envelopes},
        thresholds=figure_thresholds(task.settings),
        sample_day=task.settings["sample_day"],
        names=dict(zip(subs["ps_id"], subs["name"], strict=True)),
        rated_mva=dict(zip(subs["ps_id"], subs["rated_mva"], strict=True)),
        scenario=default_scenario(list(inputs.study.scenarios), inputs.what_if),
    )
    chosen = [k for k, p in enumerate(inputs.ps_ids) if p in task.figure_folders]
    if task.figures == "all":
        data.tech_views = {
            inputs.ps_ids[k]: technology_views(inputs, inputs.ps_ids[k]) for k in chosen
        }
    out = {}
    with threadpool_limits(limits=1):
        for k in chosen:
            p = inputs.ps_ids[k]
            folder = task.folder / "figures" / task.figure_folders[p]
            paths = ps_figures(data, k, folder, task.figures)
            out[p] = [Path(x).relative_to(task.folder).as_posix() for x in paths]
    return out


# ---------------------------------------------------------------------------------------------
# Engines: where the chunks run
# ---------------------------------------------------------------------------------------------


class LocalEngine:
    """Every chunk in this process, one after the other."""

    def map(self, plan: StudyPlan, chunks: list[range], task: ChunkTask):
        keep_chunk_memory()
        for c, chunk in enumerate(chunks):
            yield run_chunk(plan, c, chunk, task)

    def close(self) -> None:
        pass


def _run_subset(plan: StudyPlan, index: int, task: ChunkTask) -> ChunkResult:
    """Run a chunk whose plan holds only its own PS (:meth:`StudyPlan.subset`)."""
    return run_chunk(plan, index, range(len(plan.substations)), task)


class ProcessEngine:
    """Chunks in worker processes of this machine.

    Workers start from a fresh server process (``forkserver``), not from a copy of this one,
    so they hold only their chunk. The server starts with the engine and imports
    :data:`atlas.workerserver.WORKER_MODULES` while this process reads the study; the first worker is forked
    from it to read the study's TMY (:func:`plan_study`), the others with the first chunks.
    A worker holds nothing of the reading's peak memory, and each task carries its chunk's
    share of the plan (:meth:`StudyPlan.subset`). The workers
    exit when the chunks are done or on any error or interrupt (the pool is shut down).

    However this process ends (a SIGKILL too), its workers end with it: each holds the
    read end of a pipe whose write end only this process holds, and a thread of the worker
    waiting on it ends the worker once it reads the end of the pipe
    (:func:`_exit_with_main`; no cost in the chunks). The server ends when this process
    and the workers are gone (it waits on a pipe they all hold).

    Parameters
    ----------
    workers : int
    method : {"forkserver", "spawn"}, optional
        How workers start (default ``forkserver`` where there is one).
    """

    def __init__(self, workers: int, method: str | None = None):
        import multiprocessing

        self.workers = workers
        self.pool: Any = None
        self.alive: Any = None  # (read end, write end) of the pipe the workers watch
        methods = multiprocessing.get_all_start_methods()
        self.method = method or ("forkserver" if "forkserver" in methods else "spawn")
        if self.method not in ("forkserver", "spawn"):
            raise ValueError(f"start method {self.method!r}, expected 'forkserver' or 'spawn'")
        self.context = multiprocessing.get_context(self.method)
        if self.method == "forkserver":
            # the server imports what a chunk needs while this process reads the study
            # (on another core; the atlas command starts it even earlier); the workers
            # forked from it start with it imported
            start_server()

    def executor(self):
        """The pool (made if not yet): a :class:`concurrent.futures.Executor` whose first
        task starts one worker."""
        if self.pool is None:
            self.start()
        return self.pool

    def start(self) -> None:
        """Make the pool (its workers start with the first task)."""
        from concurrent.futures import ProcessPoolExecutor

        # only the read end goes to the workers (passed as a file descriptor when each
        # starts): a worker forked or spawned later holds no write end
        self.alive = self.context.Pipe(duplex=False)
        self.pool = ProcessPoolExecutor(
            self.workers, self.context, initializer=_start_worker, initargs=(self.alive[0],)
        )

    def map(self, plan: StudyPlan, chunks: list[range], task: ChunkTask):
        from concurrent.futures import FIRST_COMPLETED, wait

        pool = self.executor()
        pending: dict[Any, int] = {}
        todo = list(enumerate(chunks))
        # at most two chunks queued per worker: results are small, but waiting ones are not
        while todo or pending:
            while todo and len(pending) < 2 * self.workers:
                c, chunk = todo.pop(0)
                pending[pool.submit(_run_subset, plan.subset(chunk), c, task)] = c
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                pending.pop(f)
                yield f.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.alive is not None:
            for end in self.alive:
                end.close()
            self.alive = None
        if self.method == "forkserver":
            stop_server()


def _start_worker(alive) -> None:
    """Pool initializer: the worker ends with the main process (:func:`_exit_with_main`)
    and keeps its chunks' memory (:func:`keep_chunk_memory`)."""
    _exit_with_main(alive)
    keep_chunk_memory()


def _exit_with_main(alive) -> None:
    """Pool initializer: end this worker when the process that started the pool is gone.

    ``alive`` is the read end of a pipe whose only write end that process holds: nothing
    is ever written, so a thread waiting on it wakes only when the kernel closes the write
    end, when that process ends however it ends (a SIGKILL too), and then ends this worker
    at once (``os._exit``: its chunk is not needed any more; the part files it was writing
    are in a staging folder that the next command removes). On Linux the parent-death
    signal would not do: a worker's parent is the fork server, not that process. The same
    design as dask.distributed's worker processes (``AsyncProcess``).
    """
    import threading

    def watch() -> None:
        try:
            alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="atlas-exit-with-main", daemon=True).start()


class DaskEngine:
    """Chunks as tasks on a dask.distributed cluster.

    With ``address`` the cluster's scheduler (``tcp://host:8786``); without, a
    LocalCluster of ``workers`` single-threaded worker processes is started and closed
    with the run. Each task carries its chunk's share of the plan (:meth:`StudyPlan.subset`,
    a few kB), writes its parts into the staging folder, which must be on storage that
    every worker can write (the same path), and hands back its per-PS summary.

    If this process dies (a SIGKILL too), the LocalCluster's worker processes end with it
    (dask.distributed's processes watch a pipe from their parent), and a scheduler drops
    the run's tasks when the client's connection closes: a chunk already running finishes
    in its worker's thread, its result dropped (``tests/test_faults.py``).
    """

    def __init__(self, address: str | None = None, workers: int = 1):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise AtlasInputError(
                None,
                "--engine dask",
                "needs dask.distributed, expected it installed: "
                "pip install 'flexibility-atlas[dask]'",
            ) from None
        self.cluster: Any = None
        self.client: Any = None
        if address is None:
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",  # any free port: never a clash with a running cluster
            )
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise AtlasInputError(
                    None,
                    "--scheduler",
                    f"cannot reach {address!r} ({exc}), expected the address of a running "
                    "dask scheduler such as tcp://127.0.0.1:8786",
                ) from None

    def map(self, plan: StudyPlan, chunks: list[range], task: ChunkTask):
        from distributed import as_completed

        futures = [
            self.client.submit(_run_subset, plan.subset(chunk), c, task, pure=False)
            for c, chunk in enumerate(chunks)
        ]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        """Close the client and the LocalCluster started for the run (again: nothing)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


def make_engine(
    engine: str = "processes", workers: int | None = None, scheduler: str | None = None
):
    """The engine to run chunks with.

    Parameters
    ----------
    engine : {"processes", "dask"}
        ``processes``: this machine (in this process for one worker); ``dask``: a
        dask.distributed cluster (a LocalCluster unless ``scheduler`` is given).
    workers : int or None
        Worker processes (None: one per CPU).
    scheduler : str, optional
        A dask scheduler's address; implies ``engine="dask"``.
    """
    n = workers or os.cpu_count() or 1
    if scheduler is not None or engine == "dask":
        return DaskEngine(scheduler, n)
    if engine != "processes":
        raise ValueError(f"engine {engine!r}, expected 'processes' or 'dask'")
    return LocalEngine() if n == 1 else ProcessEngine(n)


def run_chunks(
    plan: StudyPlan, task: ChunkTask, engine, chunk_size: int = CHUNK_SIZE, progress: bool = False
):
    """Run every chunk with ``engine``; returns the results in chunk order.

    One progress bar counts substations across every worker.
    """
    from tqdm.auto import tqdm

    chunks = plan.chunks(chunk_size)
    results: dict[int, ChunkResult] = {}
    bar = tqdm(
        total=len(plan.substations), desc="substations", unit="PS", disable=not progress, delay=1.0
    )
    try:
        for r in engine.map(plan, chunks, task):
            results[r.index] = r
            bar.update(len(r.ps_ids))
    finally:
        bar.close()
        engine.close()
    return [results[c] for c in range(len(chunks))]
