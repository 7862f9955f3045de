"""One study, end to end: the Python API behind ``atlas run``, ``atlas screen`` and ``atlas map``.

The stages hand each other objects: the inputs (:class:`~atlas.engine.compute.StudyInputs`)
to the engine, the engine's hourly figures and envelopes to the analysis, and the whole
:class:`~atlas.runfolder.Run` to the report and the map.

>>> import atlas
>>> run = atlas.run_study("study.toml", out="outputs")  # doctest: +SKIP
>>> run.screening.head()  # doctest: +SKIP
>>> run = atlas.screen_run(atlas.Run.load("outputs"), threshold_mw=5)  # doctest: +SKIP
>>> atlas.save_run(run, "outputs", redraw=True)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.analysis.stats import (
    ARRAY_COLUMNS,
    analyse,
    rank_screening,
    screening,
    screening_settings,
)
from atlas.batch import (
    CHUNK_SIZE,
    ChunkTask,
    LoadSource,
    ProcessEngine,
    StudyPlan,
    check_load,
    join_csv_parts,
    make_engine,
    peak_rss_mb,
    plan_study,
    release_memory,
    run_chunks,
    with_what_if,
)
from atlas.engine.compute import VALUE_COLUMNS, StudyInputs
from atlas.errors import AtlasInputError
from atlas.geo.stage import geodata_summary
from atlas.inputs.plausibility import load_findings, load_peaks, settle
from atlas.inputs.study import Study
from atlas.present import run_pages
from atlas.runfolder import (
    Run,
    Staging,
    fault_point,
    new_manifest,
    tables_from_geo,
    write_geodata_tables,
    write_manifest,
)
from atlas.timeseries.stage import EvSource, InMemory, ev_table

#: Columns of the hourly table, in order.
HOURLY_COLUMNS = (
    "scenario", "ps_id", "time", "p_mw", "q_mvar", *VALUE_COLUMNS, "over_rating", "daylight",
)  # fmt: skip


#: What the screening ranks the PS with a network by (:func:`run_study`).
FIGURES_BASES = ("blind", "network")


def load_inputs(study: Study | str | Path) -> StudyInputs:
    """Read and check every input of a study: geodata, capacities, load, profiles, EV.

    Every PS's hourly inputs are held in memory; a study of many PS is better run chunk by
    chunk (:func:`run_study` does, through :func:`atlas.batch.plan_study`).

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    plan = plan_study(study)
    t0 = time.perf_counter()
    inputs = plan.inputs()
    inputs.warnings += check_load(inputs)[1]
    inputs.timings_s["read"] += time.perf_counter() - t0
    return inputs


def validate_study(study: Study | str | Path) -> StudyPlan:
    """Read and check every input of a study, computing nothing (``atlas validate``).

    The study is planned (:func:`atlas.batch.plan_study`: every input read and checked,
    a Parquet load's columns and PS) and the measured load is read chunk by chunk for its
    hours and its plausibility (``[checks] load_max_ratio``); no profile is computed.

    Returns
    -------
    StudyPlan
        With the findings the study accepts in ``warnings``.

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    plan = plan_study(study)
    checks = plan.study.model.checks
    peaks = [plan.load.take(slice(c.start, c.stop)) for c in plan.chunks()]
    findings = load_findings(
        np.concatenate([load_peaks(x) for x in peaks]) if peaks else np.empty(0),
        plan.ps_ids,
        plan.substations["rated_mva"].to_numpy(dtype=float),
        plan.study.resolve(plan.study.model.inputs.load),
        checks.load_max_ratio,
        rated_in=plan.study.resolve(plan.study.model.inputs.substations),
    )
    plan.warnings += settle(findings, checks.accept)
    return plan


def plan_from_inputs(inputs: StudyInputs) -> StudyPlan:
    """A plan whose chunks are cut from inputs already in memory."""
    one_d = {t: p for t, p in inputs.profiles.items() if p.ndim == 1}
    return StudyPlan(
        study=inputs.study,
        substations=inputs.substations,
        capacity=inputs.capacity,
        shared_profiles=one_d,
        per_ps_profiles={t: InMemory(p) for t, p in inputs.profiles.items() if p.ndim == 2},
        ev=EvSource(inputs.study.scenarios, len(inputs.ps_ids), arrays=inputs.ev_mw),
        load=LoadSource(
            inputs.study.path, inputs.study.year, None, inputs.ps_ids, array=inputs.load
        ),
        parameters=inputs.parameters,
        v2g_locations=inputs.v2g_locations,
        v2g_share=inputs.v2g_share,
        geo=inputs.geo,
        timings_s=dict(inputs.timings_s),
        warnings=list(inputs.warnings),
        what_if=inputs.what_if,
    )


def run_study(
    study: Study | str | Path | StudyInputs | StudyPlan,
    out: str | Path | None = None,
    *,
    formats: tuple[str, ...] = ("parquet",),
    progress: bool = False,
    workers: int | None = 1,
    figures: str = "summary",
    figures_for: list[str] | None = None,
    webmap: str = "online",
    overrides: dict[str, float | None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    engine: str = "processes",
    scheduler: str | None = None,
    add: list[str] | None = None,
    figures_basis: str = "blind",
) -> Run:
    """Run a study: every PS's hourly flexibility, envelopes, statistics and screening.

    The substations go through profiles, engine, statistics, screening and figures in
    chunks of ``chunk_size`` (:mod:`atlas.batch`), so memory is bounded by a chunk, not by
    the number of PS; the results do not depend on the chunk size, the engine or the
    number of workers.

    Parameters
    ----------
    study : Study, path, StudyInputs or StudyPlan
        The study, or its inputs already read (:func:`load_inputs`,
        :func:`atlas.batch.plan_study`).
    out : path, optional
        The run folder. Each chunk writes its parts into a staging folder beside it as it
        is done, and the folder is moved into place at the end, replacing an earlier run
        whole (:class:`atlas.runfolder.Staging`); the hourly table and the statistics are
        then read back lazily. Without it, the run stays in memory and no figure, report
        or map is made.
    formats : tuple of str
        Hourly table formats (parquet always, ``csv`` too if listed).
    progress : bool
        A progress bar over substations, across every worker.
    workers : int or None
        Processes (or dask workers of a LocalCluster) running chunks (None: one per CPU).
    figures : {"none", "summary", "all"}
        PNG figures per PS (:data:`atlas.present.report.FIGURE_LEVELS`), for the PS in
        ``figures_for`` (default every PS).
    webmap : {"online", "offline", "none"}
        ``map.html``, see :func:`atlas.present.webmap.build_map`.
    overrides : dict, optional
        ``[screening]`` values given on the command line (None: the study's), recorded in
        ``run.json`` under ``overrides``.
    chunk_size : int
        Substations per chunk.
    engine : {"processes", "dask"}
        Where the chunks run (:func:`atlas.batch.make_engine`).
    scheduler : str, optional
        A dask.distributed scheduler's address (implies ``engine="dask"``).
    add : list of str, optional
        What-if additions, ``"SUD:bess=10MW/20MWh"`` (:mod:`atlas.inputs.whatif`): one more
        scenario, the last listed plus them (replacing the study file's
        ``[scenarios] what_if``).
    figures_basis : {"blind", "network"}
        What the screening (and the map, which colours by it) rank the PS with a network
        by: their network-blind figures, or their network-aware ones (``[network]``,
        docs/network.md). PS without a network are screened on their network-blind
        figures either way.

    Returns
    -------
    Run
    """
    t_start = time.perf_counter()
    if figures_basis not in FIGURES_BASES:  # before any work (the study is checked below)
        raise ValueError(f"figures_basis {figures_basis!r}, expected one of {FIGURES_BASES}")
    made_here = not isinstance(study, StudyPlan)
    runner = make_engine(engine, workers, scheduler)
    try:  # the engine's processes or cluster end with the run, however it ends
        if isinstance(study, StudyInputs):
            plan = plan_from_inputs(study)
        elif isinstance(study, StudyPlan):
            plan = study
        else:  # a dask register join ([areas] join = "dask") uses the engine's cluster
            plan = plan_study(
                study,
                getattr(runner, "client", None),
                add=add,
                executor=runner.executor() if isinstance(runner, ProcessEngine) else None,
            )
            add = None
        if add:  # inputs or a plan already read: the what-if on top
            plan = with_what_if(plan, add, "--add")
        return _run_plan(
            plan, out, made_here, runner, t_start, formats=formats, progress=progress,
            workers=workers, figures=figures, figures_for=figures_for, webmap=webmap,
            overrides=overrides, chunk_size=chunk_size, engine=engine, scheduler=scheduler,
            figures_basis=figures_basis,
        )  # fmt: skip
    finally:
        runner.close()


def _load_warnings(plan: StudyPlan, results: list) -> list:
    """The load's plausibility findings over every PS, from the chunks' load peaks (each
    chunk raised any finding the study does not accept)."""
    ids = [p for r in results for p in r.ps_ids]
    if not ids:
        return []
    peaks = np.concatenate([r.load_peak_mva for r in results])
    rated = plan.substations.set_index("ps_id")["rated_mva"].reindex(ids).to_numpy(dtype=float)
    study = plan.study
    return load_findings(
        peaks,
        ids,
        rated,
        study.resolve(study.model.inputs.load),
        study.model.checks.load_max_ratio,
        rated_in=study.resolve(study.model.inputs.substations),
    )


def _run_plan(
    plan: StudyPlan,
    out: str | Path | None,
    made_here: bool,
    runner,
    t_start: float,
    *,
    formats: tuple[str, ...],
    progress: bool,
    workers: int | None,
    figures: str,
    figures_for: list[str] | None,
    webmap: str,
    overrides: dict[str, float | None] | None,
    chunk_size: int,
    engine: str,
    scheduler: str | None,
    figures_basis: str = "blind",
) -> Run:
    """:func:`run_study` once the study is planned (the caller closes ``runner``)."""
    from atlas.files import safe_names

    study, ps_ids = plan.study, plan.ps_ids
    check_figures_basis(study, figures_basis)
    if plan.geo is None:
        raise ValueError("the plan has no geodata stage (a worker's plan cannot be run)")
    # the geodata stage's tables in their run form (the register without its shapely
    # points): the geodata stage itself is not needed any more
    geo_tables = tables_from_geo(plan.geo, plan.capacity)
    summary = geodata_summary(study, plan.geo)
    ev_points = plan.geo.ev_points
    network_section = study.model.network
    if network_section is not None:  # the DERs to place, before the geodata stage goes
        from atlas.network.stage import network_registers, require_network_extra

        require_network_extra("[network]")
        try:
            network_ps = list(network_section.grid_of(ps_ids))
        except ValueError as exc:
            raise AtlasInputError(study.path, "network", str(exc)) from None
        network_input = (network_registers(plan.geo, network_ps), plan.geo.crs)
    if made_here:  # let the geodata stage go before the chunks run
        plan.geo = None
        release_memory()
    unknown = [p for p in figures_for or [] if p not in ps_ids]
    if unknown:
        shown = ", ".join(ps_ids[:20]) + (" ..." if len(ps_ids) > 20 else "")
        raise AtlasInputError(
            study.path, "--figures-for", f"unknown ps_id {unknown[0]!r}, expected one of {shown}"
        )
    settings, given = screening_settings(study.model.screening.model_dump(), overrides)
    stage = Staging(out) if out is not None else None
    with stage or nullcontext():
        folder = stage.path if stage is not None else None
        drawn = figures_for or ps_ids
        folder_names = safe_names(ps_ids)
        task = ChunkTask(
            folder=folder,
            settings=settings,
            formats=tuple(formats),
            figures=figures if folder is not None else "none",
            figure_folders={p: folder_names[p] for p in drawn},
        )
        t0 = time.perf_counter()
        # the geodata stage's tables are written while the chunks compute (this process
        # only waits for the workers' results then)
        with ThreadPoolExecutor(1, thread_name_prefix="atlas-tables") as early:
            tables_job = (
                early.submit(write_geodata_tables, geo_tables, folder)
                if folder is not None
                else None
            )
            results = run_chunks(plan, task, runner, chunk_size, progress)
            t1 = time.perf_counter()
            network = None
            if network_section is not None:  # the network-aware stage, PS by PS
                from atlas.network.stage import run_networks

                pool = runner.executor() if isinstance(runner, ProcessEngine) else None
                network = run_networks(plan, *network_input, executor=pool)
            t_network = time.perf_counter() - t1
            runner.close()  # the workers' memory goes before the report and map are made
            tables_written = tables_job.result() if tables_job is not None else None
        fault_point("computed")
        if folder is not None:
            join_csv_parts(folder, list(HOURLY_COLUMNS))
        manifest = new_manifest(study, study.input_files(), plan.parameters)
        manifest["settings"] |= {"screening": settings, "figures": figures, "map": webmap}
        manifest["settings"]["figures_basis"] = figures_basis
        manifest["settings"]["formats"] = sorted(set(formats))
        manifest["overrides"] = given
        manifest["what_if"] = plan.what_if
        manifest["summary"] = summary
        manifest["warnings"] = [w.as_dict() for w in plan.warnings + _load_warnings(plan, results)]
        pngs = {p: paths for r in results for p, paths in r.figures.items()}
        manifest["figures"] = {p: pngs[p] for p in ps_ids if pngs.get(p)}
        manifest["figures_written"] = sum(len(v) for v in manifest["figures"].values())
        timings = dict(plan.timings_s)
        timings["chunks"] = t1 - t0
        if network is not None:
            timings["network"] = t_network
            manifest["network"] = network[2]
        for r in results:  # CPU time of every chunk, summed over the workers
            for step, sec in r.seconds.items():
                timings[f"chunks_{step}"] = timings.get(f"chunks_{step}", 0.0) + sec
        manifest["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        manifest["engine"] = {
            "engine": "dask" if scheduler or engine == "dask" else engine,
            "workers": workers or os.cpu_count() or 1,
            "chunk_size": chunk_size,
            "chunks": len(results),
        }
        energy = {
            s: np.concatenate([r.ev_energy_mwh[i] for r in results])
            for i, s in enumerate(study.scenarios)
        }
        scenarios = study.scenarios
        run = Run(
            manifest=manifest,
            ev=ev_table(scenarios, ps_ids, energy, ev_points),
            envelopes=pd.DataFrame(
                [row for r in results for row in r.envelopes],
                columns=["scenario", "ps_id", "kind", "geometry"],
            ),
            screening=with_basis(
                rank_screening(
                    pd.concat([r.screening for r in results], ignore_index=True),
                    scenarios,
                    ps_ids,
                ),
                network[0] if network is not None else None,
                figures_basis,
                settings,
                dict(zip(plan.substations["ps_id"], plan.substations["name"], strict=True)),
                scenarios,
                ps_ids,
            ),
            hourly_table=None if folder is not None else _in_order(results, "hourly", scenarios),
            statistics_table=None
            if folder is not None
            else _in_order(results, "statistics", scenarios),
            folder=folder,
            placement=network[1] if network is not None else None,
            network_table=network[0] if network is not None else None,
            **geo_tables,
        )
        if folder is not None:
            run.write_into(folder, views=run_pages(run), tables_written=tables_written)
            memory = {"main_peak_rss_mb": round(peak_rss_mb(), 1)}
            memory["worker_peak_rss_mb"] = round(max(r.peak_rss_mb for r in results), 1)
            run.manifest["memory"] = memory
            run.manifest["timings_s"]["total"] = round(time.perf_counter() - t_start, 4)
            write_manifest(run.manifest, folder)
    if out is not None:
        run.folder = Path(out)
    return run


def _in_order(results, attr: str, scenarios: list[str]) -> pd.DataFrame:
    """The chunks' tables in table order: scenario by scenario, chunk by chunk."""
    parts = []
    for s in scenarios:
        for r in results:
            table = getattr(r, attr)
            parts.append(table[table["scenario"] == s])
    return pd.concat(parts, ignore_index=True)


def save_run(run: Run, folder: str | Path, redraw: bool = False) -> Path:
    """Save a run with its report and map into ``folder``, replacing it whole.

    Files the run does not change (the hourly table, the figures) are hard-linked from
    the run's folder, not copied. With ``redraw`` (after :func:`screen_run`), the figures
    that show the thresholds are drawn again.
    """
    return run.save(folder, views=run_pages(run, redraw))


def check_figures_basis(study: Study, figures_basis: str) -> None:
    """Refuse an unknown basis, or ``network`` for a study without ``[network]``."""
    if figures_basis not in FIGURES_BASES:
        raise ValueError(f"figures_basis {figures_basis!r}, expected one of {FIGURES_BASES}")
    if figures_basis == "network" and study.model.network is None:
        raise AtlasInputError(
            study.path,
            "--figures-basis",
            "network, but the study has no [network] section: expected the MV networks of "
            "its PS there (docs/network.md)",
        )


def with_basis(
    table: pd.DataFrame,
    network_hourly: pd.DataFrame | None,
    figures_basis: str,
    settings: dict,
    names: dict[str, str],
    scenarios: list[str],
    ps_ids: list[str],
) -> pd.DataFrame:
    """The screening on the chosen basis: with ``"network"``, the rows of each PS with a
    network screened again on its network-aware figures (``{figure}_net``); their
    ``hours_over_rating`` stays the network-blind envelope's. Other rows as they are."""
    if figures_basis != "network" or network_hourly is None or not len(network_hourly):
        return table
    from atlas.conventions import FIGURES

    frame = network_hourly[["scenario", "ps_id", "time", *(f"{f}_net" for f in FIGURES)]]
    frame = frame.rename(columns={f"{f}_net": f for f in FIGURES})
    rows = screening(
        frame, names, settings["threshold_mw"], settings["threshold_mvar"], settings["availability"]
    )
    key = ["scenario", "ps_id", "direction"]
    blind = table.set_index(key)["hours_over_rating"]
    rows["hours_over_rating"] = blind.reindex(pd.MultiIndex.from_frame(rows[key])).array
    kept = table[~table["ps_id"].isin(set(rows["ps_id"]))]
    return rank_screening(pd.concat([kept, rows], ignore_index=True), scenarios, ps_ids)


def screen_run(
    run: Run,
    threshold_mw: float | None = None,
    threshold_mvar: float | None = None,
    availability: float | None = None,
    figures_basis: str | None = None,
) -> Run:
    """Screen a run again: its ``[screening]`` settings unless given here (recorded as
    overrides); returns a new :class:`Run` with every scenario, direction and PS screened.

    ``figures_basis`` (default the run's): ``"network"`` screens the PS with a network on
    their network-aware figures (:func:`run_study`); it needs a run with ``[network]``.

    The hourly table is read chunk by chunk; the statistics that depend on the thresholds
    are computed again when the run is saved (or on first use of ``run.statistics``).
    """
    given = {"threshold_mw": threshold_mw, "threshold_mvar": threshold_mvar}
    settings, overrides = screening_settings(
        run.screening_settings, given | {"availability": availability}
    )
    basis = figures_basis or run.settings.get("figures_basis", "blind")
    if basis not in FIGURES_BASES:
        raise ValueError(f"figures_basis {basis!r}, expected one of {FIGURES_BASES}")
    if basis == "network" and run.network_hourly is None:
        raise AtlasInputError(
            run.folder,
            "--figures-basis",
            "network, but the run has no network-aware figures: expected a run of a study "
            "with [network] (docs/network.md)",
        )
    manifest = copy.deepcopy(run.manifest)
    manifest["settings"]["screening"] = settings
    manifest["settings"]["figures_basis"] = basis
    manifest["overrides"] = manifest.get("overrides", {}) | overrides
    names, rated = run.names, run.rated_mva
    t_mw, t_mvar, avail = (
        settings["threshold_mw"],
        settings["threshold_mvar"],
        settings["availability"],
    )
    parts = [
        screening(hourly, names, t_mw, t_mvar, avail, rated)
        for hourly in run.hourly_chunks(ARRAY_COLUMNS)
    ]
    table = rank_screening(pd.concat(parts, ignore_index=True), run.scenarios, run.ps_ids)
    table = with_basis(table, run.network_hourly, basis, settings, names, run.scenarios, run.ps_ids)
    in_memory = run.hourly_table is not None
    stats = (
        analyse(run.hourly_table, settings, run.timezone, names, rated)[0] if in_memory else None
    )
    return dataclasses.replace(
        run, manifest=manifest, statistics_table=stats, screening=table, restate=not in_memory
    )
