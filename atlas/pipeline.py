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
from contextlib import nullcontext
from pathlib import Path

from atlas.analysis.stats import analyse, screening_settings
from atlas.engine.capability import default_parameters, override_parameters
from atlas.engine.compute import StudyInputs, compute
from atlas.errors import AtlasInputError
from atlas.geo.join import build_geodata
from atlas.geo.stage import geodata_summary
from atlas.inputs.study import Study, load_study
from atlas.inputs.tables import read_capacity, read_load
from atlas.inputs.timeaxis import hourly_axis
from atlas.present import run_pages
from atlas.runfolder import (
    Run,
    Staging,
    conform_hourly,
    fault_point,
    new_manifest,
    substations_table,
    tables_from_geo,
    write_hourly,
)
from atlas.timeseries.stage import ev_power, ev_summary, technology_profiles, v2g_shares


def load_inputs(study: Study | str | Path) -> StudyInputs:
    """Read and check every input of a study: geodata, capacities, load, profiles, EV.

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    t0 = time.perf_counter()
    files = study.input_files()
    axis = hourly_axis(study.year)
    geo = build_geodata(study, files)
    capacity = geo.capacity
    ps_ids = [str(p) for p in geo.sites["ps_id"]]
    if capacity is None:
        capacity = read_capacity(files["inputs.capacity"], study.scenarios, ps_ids)
    v2g_locations = frozenset(study.model.ev.v2g_locations)
    return StudyInputs(
        study=study,
        axis=axis,
        substations=substations_table(geo),
        capacity=capacity,
        load=read_load(files["inputs.load"], study.year, ps_ids, study.model.inputs.load_year),
        profiles=technology_profiles(study, files, axis, geo),
        ev_mw=ev_power(study, files, axis, ps_ids, geo),
        parameters=override_parameters(
            default_parameters(), study.capability_overrides(), study.path
        ),
        v2g_locations=v2g_locations,
        v2g_share=v2g_shares(study.scenarios, ps_ids, v2g_locations, geo.ev_points),
        geo=geo,
        timings_s={"read": time.perf_counter() - t0},
    )


def run_study(
    study: Study | str | Path | StudyInputs,
    out: str | Path | None = None,
    *,
    formats: tuple[str, ...] = ("parquet",),
    progress: bool = False,
    workers: int | None = 1,
    figures: str = "summary",
    figures_for: list[str] | None = None,
    webmap: str = "online",
    overrides: dict[str, float | None] | None = None,
) -> Run:
    """Run a study: every PS's hourly flexibility, envelopes, statistics and screening.

    Parameters
    ----------
    study : Study, path or StudyInputs
        The study, or its inputs already read (:func:`load_inputs`).
    out : path, optional
        The run folder. Results are written into a staging folder beside it as they are
        computed (the hourly table is then read back lazily) and moved into place at the
        end, replacing an earlier run whole (:class:`atlas.runfolder.Staging`). Without it,
        the run stays in memory and no figure, report or map is made.
    formats : tuple of str
        Hourly table formats (parquet always, ``csv`` too if listed).
    progress : bool
        A progress bar over substations.
    workers : int or None
        Processes for the engine and the figures (None: one per CPU).
    figures : {"none", "summary", "all"}
        PNG figures per PS (:data:`atlas.present.report.FIGURE_LEVELS`), for the PS in
        ``figures_for`` (default every PS).
    webmap : {"online", "offline", "none"}
        ``map.html``, see :func:`atlas.present.webmap.build_map`.
    overrides : dict, optional
        ``[screening]`` values given on the command line (None: the study's), recorded in
        ``run.json`` under ``overrides``.

    Returns
    -------
    Run
    """
    from atlas.present.report import start_run_figures

    inputs = study if isinstance(study, StudyInputs) else load_inputs(study)
    study, ps_ids = inputs.study, inputs.ps_ids
    unknown = [p for p in figures_for or [] if p not in ps_ids]
    if unknown:
        shown = ", ".join(ps_ids[:20]) + (" ..." if len(ps_ids) > 20 else "")
        raise AtlasInputError(
            study.path, "--figures-for", f"unknown ps_id {unknown[0]!r}, expected one of {shown}"
        )
    settings, given = screening_settings(study.model.screening.model_dump(), overrides)
    stage = Staging(out) if out is not None else None
    with stage or nullcontext():
        result = compute(inputs, progress=progress, workers=workers)
        fault_point("computed")
        t0 = time.perf_counter()
        hourly = conform_hourly(result.hourly)
        job = None
        if stage is not None and figures != "none":  # drawn in workers while this one goes on
            job = start_run_figures(
                inputs, hourly, result.envelopes, settings, stage.path, figures,
                figures_for or ps_ids, workers or os.cpu_count() or 1,
            )  # fmt: skip
        if stage is not None:  # the hourly table goes to disk now, and is read back lazily
            write_hourly(hourly, stage.path, tuple(formats))
        names = dict(zip(ps_ids, inputs.substations["name"], strict=True))
        rated = dict(zip(ps_ids, inputs.substations["rated_mva"], strict=True))
        t1 = time.perf_counter()
        stats, table = analyse(hourly, settings, study.timezone, names, rated)
        t2 = time.perf_counter()
        manifest = new_manifest(study, study.input_files(), inputs.parameters)
        manifest["settings"] |= {"screening": settings, "figures": figures, "map": webmap}
        manifest["settings"]["formats"] = sorted(set(formats))
        manifest["overrides"] = given
        manifest["summary"] = geodata_summary(study, inputs.geo)
        t3 = time.perf_counter()
        pngs = job.wait() if job is not None else {}
        manifest["figures"] = {
            p: [Path(x).relative_to(stage.path).as_posix() for x in pngs[p]]  # type: ignore[union-attr]
            for p in ps_ids
            if pngs.get(p)
        }
        manifest["figures_written"] = sum(len(v) for v in manifest["figures"].values())
        timings = dict(result.timings_s, table_write=t1 - t0, statistics=t2 - t1)
        timings["figures_wait"] = time.perf_counter() - t3
        manifest["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        run = Run(
            manifest=manifest,
            ev=ev_summary(study.scenarios, ps_ids, inputs.ev_mw, inputs.geo.ev_points),
            envelopes=result.envelopes,
            statistics=stats,
            screening=table,
            hourly_table=None if stage is not None else hourly,
            **tables_from_geo(inputs.geo, inputs.capacity),
        )
        if stage is not None:
            run.write_into(stage.path, views=run_pages(run))
    if out is not None:
        run.folder = Path(out)
    return run


def save_run(run: Run, folder: str | Path, redraw: bool = False) -> Path:
    """Save a run with its report and map into ``folder``, replacing it whole.

    Files the run does not change (the hourly table, the figures) are hard-linked from
    the run's folder, not copied. With ``redraw`` (after :func:`screen_run`), the figures
    that show the thresholds are drawn again.
    """
    return run.save(folder, views=run_pages(run, redraw))


def screen_run(
    run: Run,
    threshold_mw: float | None = None,
    threshold_mvar: float | None = None,
    availability: float | None = None,
) -> Run:
    """Screen a run again: its ``[screening]`` settings unless given here (recorded as
    overrides); returns a new :class:`Run` with every scenario, direction and PS screened."""
    given = {"threshold_mw": threshold_mw, "threshold_mvar": threshold_mvar}
    settings, overrides = screening_settings(
        run.screening_settings, given | {"availability": availability}
    )
    manifest = copy.deepcopy(run.manifest)
    manifest["settings"]["screening"] = settings
    manifest["overrides"] = manifest.get("overrides", {}) | overrides
    stats, table = analyse(run.hourly, settings, run.timezone, run.names, run.rated_mva)
    return dataclasses.replace(run, manifest=manifest, statistics=stats, screening=table)
