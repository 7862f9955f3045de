"""The seed paper's figures for every PS of a run, and the static HTML report.

Everything here works on what a run computed (the hourly arrays, the envelopes, the
screening); nothing is recomputed from the study. Figures go to ``figures/<name>/`` under the
output folder, ``<name>`` a safe, unique folder name made from the PS id
(:func:`atlas.files.safe_names`), and ``report.html`` links them.

Figure levels (``atlas run --figures``):

``none``
    no figure;
``summary``
    per PS the yearly envelopes over the as-is cloud (paper Fig. 7) and the monthly box
    plots (Fig. 11): what a batch over hundreds of PS can afford;
``all``
    every figure of :data:`FIGURES`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from atlas.analysis.stats import (
    ARRAY_COLUMNS,
    DIRECTIONS,
    HourlyArrays,
    daily_maxima,
    hourly_arrays,
    local_calendar,
    month_hour_means,
    monthly_boxes,
)
from atlas.conventions import TECHNOLOGIES, TECHNOLOGY_NAMES
from atlas.engine.capability import (
    DeviationSet,
    bess_set,
    box_disc_set,
    ev_set,
    oltc_set,
    statcom_set,
)
from atlas.engine.compute import StudyInputs, der_specs
from atlas.engine.envelope import yearly_envelope_pruned
from atlas.present import figures as fg
from atlas.present.credits import data_credits

if TYPE_CHECKING:
    from atlas.runfolder import Run

#: Figure levels of ``atlas run --figures``.
FIGURE_LEVELS = ("none", "summary", "all")

#: Every figure per PS: file stem -> (seed paper figure, what it shows). ``{tech}`` and
#: ``{day}`` are filled in per PS.
FIGURES: dict[str, tuple[str, str]] = {
    "fig02_ps_cloud": ("Fig. 2", "hourly P and Q of the PS with trend; as-is P-Q cloud"),
    "fig03_capability_{tech}": (
        "Fig. 3-6",
        "capability set of a technology and its flexibility over the PS cloud",
    ),
    "fig07_envelopes": ("Fig. 7", "yearly envelope of each scenario over the as-is cloud"),
    "fig08_normal_p": ("Fig. 8", "distribution of P up and P down with the normal fit"),
    "fig09_trend": ("Fig. 9", "hourly trend of the four figures"),
    "fig10_daily_maxima": ("Fig. 10", "daily maxima in daylight and at night"),
    "fig11_monthly_boxes": ("Fig. 11", "monthly box plots of the four figures"),
    "fig12_day_{day}": ("Fig. 12", "hourly trend and spread on the sample day"),
    "availability_heatmap": ("-", "month x hour share of hours at or above threshold"),
}


@dataclass(frozen=True)
class TechView:
    """One technology at one PS, for its figure (paper Fig. 3-6).

    Attributes
    ----------
    technology : str
        Its readable name.
    curves : list of (label, vertices, operating point)
        Capability sets in the DER's P-Q plane, generator convention, (n, 2) each, and the
        operating point (p0, q0) they are drawn for.
    curve_unit : str
        ``"p.u. of Sn"`` (synchronous and PV units) or ``"MW"`` (EV charging).
    envelopes : dict
        ``{scenario: geometry}``: the PS's yearly envelope with this technology alone
        (load convention). [MW, Mvar]
    key : str
        Its short name (pv, chp, biomass, hydro, ev), used in the file name.
    """

    technology: str
    curves: list[tuple[str, np.ndarray, tuple[float, float] | None]]
    curve_unit: str
    envelopes: dict[str, object]
    key: str = ""


@dataclass
class RunFigureData:
    """What the figures of a run are drawn from.

    Attributes
    ----------
    arrays : HourlyArrays
        The hourly figures, (n_scenarios, n_ps, 4, n_hours), with ``daylight``.
    load : numpy.ndarray
        (n_ps, n_hours, 2) measured PS point, load convention. [MW, Mvar]
    timezone : str
    envelopes : dict
        ``{(scenario, ps_id, kind): geometry}`` from the run.
    thresholds : dict
        ``{figure: (threshold, unit)}``.
    sample_day : str
        ``MM-DD``.
    names, rated_mva : dict
        By ps_id.
    tech_views : dict
        ``{ps_id: [TechView, ...]}`` (only needed for level ``all``).
    only : frozenset of str, optional
        Draw only the figures of these file stems (default every figure of the level).
    scenario : str, optional
        The scenario of the figures of one scenario (Fig. 8 to 12, the heatmap): the run's
        :func:`~atlas.runfolder.default_scenario`; default the last of ``arrays``.
    """

    arrays: HourlyArrays
    load: np.ndarray
    timezone: str
    envelopes: dict
    thresholds: dict[str, tuple[float, str]]
    sample_day: str
    names: dict[str, str]
    rated_mva: dict[str, float]
    tech_views: dict[str, list[TechView]] = field(default_factory=dict)
    only: frozenset[str] | None = None
    scenario: str = ""

    def __post_init__(self) -> None:
        a = self.arrays
        self.calendar = local_calendar(a.time, self.timezone)
        local = a.time.tz_convert(self.timezone)
        start = local[0].normalize().replace(month=1, day=1)
        if local[0] < start:  # the axis starts before the local year (west of UTC)
            start = start.replace(year=start.year - 1)
        self.day_of_year = np.asarray((local - start) / pd.Timedelta(days=1), dtype=float)
        starts = np.flatnonzero(np.r_[True, np.diff(self.calendar["day"]) != 0])
        self.day_start = np.floor(self.day_of_year[starts])
        self.local_date = local.strftime("%m-%d").to_numpy()
        if not self.scenario:
            self.scenario = a.scenarios[-1]
        if self.scenario not in a.scenarios:
            raise ValueError(f"scenario {self.scenario!r} is not one of {a.scenarios}")


def _heatmap(data: RunFigureData, k: int) -> dict[str, np.ndarray]:
    """Month x hour shares at or above threshold of PS k in the figure scenario, (12, 24)."""
    s = data.arrays.scenarios.index(data.scenario)
    v = data.arrays.values[s, k]  # (4, n)
    thr = np.array([data.thresholds[d][0] for d in DIRECTIONS])[:, None]
    cm, ch, share = month_hour_means(v >= thr, data.calendar["month"], data.calendar["hour"])
    out = {}
    for f, name in enumerate(DIRECTIONS):
        grid = np.full((12, 24), np.nan)
        grid[cm - 1, ch] = share[f]
        out[name] = grid
    return out


def ps_figures(data: RunFigureData, k: int, folder: Path, level: str) -> list[Path]:
    """Draw the figures of the k-th PS into ``folder`` (see :data:`FIGURES`).

    Returns
    -------
    list of pathlib.Path
        The PNGs written.
    """
    a = data.arrays
    ps_id = a.ps_ids[k]
    name = data.names.get(ps_id) or ps_id
    label = f"{name} ({ps_id})" if name != ps_id else ps_id
    p, q = data.load[k, :, 0], data.load[k, :, 1]
    first = a.scenarios[0]
    hulls = {
        kind: data.envelopes.get((first, ps_id, kind)) for kind in ("cloud_convex", "cloud_concave")
    }
    envelopes = {s: data.envelopes.get((s, ps_id, "year")) for s in a.scenarios}
    s_fig = a.scenarios.index(data.scenario)
    values = {d: a.values[s_fig, k, f] for f, d in enumerate(DIRECTIONS)}
    thresholds = {d: data.thresholds[d][0] for d in DIRECTIONS}
    _, boxes = monthly_boxes(a.values[:, k], data.calendar["month"])  # (n_sc, 4, 12, 5)

    def want(stem: str) -> bool:
        return data.only is None or stem in data.only

    written = []
    if want("fig07_envelopes"):
        written.append(
            fg.plot_envelopes(
                p,
                q,
                hulls,
                envelopes,
                f"{label}: yearly P-Q envelopes over the as-is cloud",
                folder / "fig07_envelopes.png",
                data.rated_mva.get(ps_id),
            )
        )
    if want("fig11_monthly_boxes"):
        written.append(
            fg.plot_monthly_boxes(
                {s: boxes[i] for i, s in enumerate(a.scenarios)},
                thresholds,
                f"{label}: monthly distribution of the hourly flexibility",
                folder / "fig11_monthly_boxes.png",
            )
        )
    if level != "all":
        return written
    if data.only is not None:  # the figures of the "all" level that are asked for
        if want("availability_heatmap"):
            written.append(
                fg.plot_availability_heatmap(
                    _heatmap(data, k),
                    data.thresholds,
                    f"{label}: hours at or above the relief threshold in {data.scenario}",
                    folder / "availability_heatmap.png",
                )
            )
        return written
    sc = data.scenario
    written.append(
        fg.plot_ps_cloud(
            data.day_of_year,
            p,
            q,
            hulls,
            f"{label}: measured PS exchange (as-is)",
            folder / "fig02_ps_cloud.png",
        )
    )
    for view in data.tech_views.get(ps_id, []):
        written.append(
            fg.plot_capability(
                view.technology,
                view.curves,
                view.curve_unit,
                view.envelopes,
                p,
                q,
                hulls,
                f"{label}: {view.technology}",
                folder / f"fig03_capability_{view.key}.png",
                basis=CAPABILITY_BASIS.get(view.key, CAPABILITY_BASIS["pv"]),
            )
        )
    written.append(
        fg.plot_normal(
            {"p_up": values["p_up"], "p_down": values["p_down"]},
            "MW",
            f"{label}: active flexibility in {sc}, hourly distribution and normal fit",
            folder / "fig08_normal_p.png",
        )
    )
    written.append(
        fg.plot_trend(
            data.day_of_year,
            values,
            f"{label}: hourly flexibility in {sc}",
            folder / "fig09_trend.png",
        )
    )
    day_max, night_max = daily_maxima(
        a.values[s_fig, k],
        a.daylight[k] if a.daylight is not None else True,
        data.calendar["day"],
    )
    written.append(
        fg.plot_daily_maxima(
            data.day_start,
            {d: day_max[f] for f, d in enumerate(DIRECTIONS)},
            {d: night_max[f] for f, d in enumerate(DIRECTIONS)},
            f"{label}: daily maxima in {sc}, daylight (sun above the horizon at the PS) and night",
            folder / "fig10_daily_maxima.png",
        )
    )
    on_day = data.local_date == data.sample_day
    written.append(
        fg.plot_day(
            data.calendar["hour"][on_day],
            {d: v[on_day] for d, v in values.items()},
            f"{_day_label(data.sample_day, data.arrays.time, data.timezone)}, scenario {sc}",
            f"{label}: the sample day",
            folder / f"fig12_day_{data.sample_day}.png",
        )
    )
    written.append(
        fg.plot_availability_heatmap(
            _heatmap(data, k),
            data.thresholds,
            f"{label}: hours at or above the relief threshold in {sc}",
            folder / "availability_heatmap.png",
        )
    )
    return written


_WORKER_DATA: tuple | None = None


def _figures_in_worker(chunk: list[int]) -> list[tuple[int, list[Path]]]:
    from threadpoolctl import threadpool_limits

    assert _WORKER_DATA is not None, "set before the workers start"
    data, folders, level = _WORKER_DATA
    with threadpool_limits(limits=1):  # the processes share the cores
        return [(k, ps_figures(data, k, folders[k], level)) for k in chunk]


class FigureJob:
    """Figures being drawn in worker processes while the caller goes on (:func:`start_figures`).

    :meth:`wait` returns ``{ps_id: [png paths]}``; with one worker (or no ``fork`` start
    method) the figures are drawn in this process when :meth:`wait` is called.
    """

    def __init__(self, data, folders, level, chosen, workers):
        self.data, self.folders, self.level, self.chosen = data, folders, level, chosen
        self.pool, self.futures = None, []
        import multiprocessing

        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            from concurrent.futures import ProcessPoolExecutor

            global _WORKER_DATA
            _WORKER_DATA = (data, folders, level)  # inherited by the forked workers
            self.pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"))
            size = max(1, len(chosen) // (4 * workers))
            self.futures = [
                self.pool.submit(_figures_in_worker, chosen[i : i + size])
                for i in range(0, len(chosen), size)
            ]

    def wait(self) -> dict[str, list[Path]]:
        ids = self.data.arrays.ps_ids
        try:
            if self.pool is None:
                results = [
                    (k, ps_figures(self.data, k, self.folders[k], self.level)) for k in self.chosen
                ]
            else:
                results = [pair for f in self.futures for pair in f.result()]
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
                global _WORKER_DATA
                _WORKER_DATA = None
        return {ids[k]: paths for k, paths in results}


def start_figures(
    data: RunFigureData,
    out_dir: Path,
    level: str = "summary",
    ps_ids: list[str] | None = None,
    workers: int = 1,
    folder_names: dict[str, str] | None = None,
) -> FigureJob:
    """Start drawing the figures of every PS (or of ``ps_ids``) under ``out_dir/figures``.

    Parameters
    ----------
    data : RunFigureData
    out_dir : pathlib.Path
    level : {"none", "summary", "all"}
    ps_ids : list of str, optional
        Only these PS (default all).
    workers : int, default 1
        Processes drawing PS in parallel, started now (``fork``); the caller can write
        other outputs meanwhile and collect the figures with :meth:`FigureJob.wait`.
    folder_names : dict, optional
        ``{ps_id: folder under figures/}`` (default :func:`atlas.files.safe_names` of the
        PS in ``data``).

    Returns
    -------
    FigureJob
    """
    from atlas.files import safe_names

    if level not in FIGURE_LEVELS:
        raise ValueError(f"figures level {level!r}, expected one of {FIGURE_LEVELS}")
    all_ids = data.arrays.ps_ids
    names = folder_names or safe_names(all_ids)
    chosen = [] if level == "none" else [all_ids.index(p) for p in (ps_ids or all_ids)]
    folders = {
        k: Path(out_dir) / "figures" / names[all_ids[k]]
        for k in range(len(all_ids))
        if all_ids[k] in names
    }
    return FigureJob(data, folders, level, chosen, max(1, min(workers, len(chosen))))


def write_figures(
    data: RunFigureData,
    out_dir: Path,
    level: str = "summary",
    ps_ids: list[str] | None = None,
    workers: int = 1,
) -> dict[str, list[Path]]:
    """Draw the figures of every PS (or of ``ps_ids``) and wait for them.

    Returns
    -------
    dict
        ``{ps_id: [png paths]}``; see :func:`start_figures` for the parameters.
    """
    return start_figures(data, out_dir, level, ps_ids, workers).wait()


def _fmt(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or x is pd.NA:
        return "-"
    return f"{x:.{digits}f}"


@functools.cache
def _report_template():
    """``templates/report.html.j2`` in an environment that escapes every value."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("atlas.present", "templates"),
        autoescape=True,  # user text (ids, names, description, credits) never becomes markup
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def report_html(
    study_name: str,
    description: str,
    screening: pd.DataFrame,
    year_stats: pd.DataFrame,
    figures: dict[str, list[Path]],
    out_dir: Path,
    scenario: str,
    credits: list[str] | None = None,
) -> str:
    """The static HTML report: the PS ranked by screening, each with its numbers and figures.

    Parameters
    ----------
    study_name, description : str
        From the study file (escaped by the template, like every user text).
    screening : pandas.DataFrame
        The run's screening table (:data:`atlas.analysis.stats.SCREENING_COLUMNS`).
    year_stats : pandas.DataFrame
        Year-level rows of the statistics table (month and hour <NA>).
    figures : dict
        ``{ps_id: [png paths]}`` (paths under ``out_dir``).
    out_dir : pathlib.Path
        Links are relative to it.
    scenario : str
        The scenario the ranking is by (the last listed by default).
    credits : list of str, optional
        Data sources to credit (:func:`data_credits`), shown at the top.

    Returns
    -------
    str
        A self-contained page (no script, no external resource).

    Notes
    -----
    The page is ``atlas/present/templates/report.html.j2``, rendered by Jinja2 with
    autoescape on. This function prepares plain text only (formatted numbers,
    percent-quoted relative links); the template escapes all of it, and marks nothing safe.
    """
    scr = screening[screening["scenario"] == scenario]
    ranking = (
        scr.assign(ratio=scr["firm"] / scr["threshold"].where(scr["threshold"] > 0))
        .groupby("ps_id", sort=False)
        .agg(met=("meets", "sum"), best=("ratio", "max"), name=("name", "first"))
        .sort_values(["met", "best"], ascending=[False, False], kind="stable")
    )
    anchors = {p: f"ps-{i}" for i, p in enumerate(ranking.index)}
    # each PS's rows found once (filtering the tables per PS grows with the square of the PS)
    by_key = {(x.ps_id, x.direction): x for x in scr.itertuples(index=False)}
    first_row = {x.ps_id: x for x in reversed(list(scr.itertuples(index=False)))}
    ps_rows: dict[str, list] = {}
    for x in screening.itertuples(index=False):  # one pass: per-PS frames cost ms each
        ps_rows.setdefault(x.ps_id, []).append(x)
    year_by_ps: dict[str, dict] = {}
    columns = ("ps_id", "scenario", "figure", "statistic", "value")
    for p, sc, fig, stat, value in zip(*(year_stats[c].tolist() for c in columns), strict=True):
        year_by_ps.setdefault(p, {})[(sc, fig, stat)] = value  # one pass, as the rows above
    rows = []
    for rank, (ps_id, r) in enumerate(ranking.iterrows(), start=1):
        firm = []
        for d in DIRECTIONS:
            x = by_key[(ps_id, d)]
            mark = "yes" if x.meets else "no"
            firm.append({"mark": mark, "value": _fmt(x.firm), "unit": str(x.unit)})
        over = first_row[ps_id].hours_over_rating
        rows.append(
            {
                "rank": rank,
                "anchor": anchors[ps_id],
                "ps_id": str(ps_id),
                "name": str(r["name"]),
                "met": int(r["met"]),
                "firm": firm,
                "over": "-" if pd.isna(over) else int(over),
            }
        )
    sections = []
    for ps_id in ranking.index:
        ps_year = year_by_ps.get(ps_id, {})
        ps_scr = ps_rows.get(ps_id, [])
        table = []
        for x in ps_scr:
            stats = [
                _fmt(ps_year.get((x.scenario, x.direction, name), np.nan))
                for name in ("std", "p10", "p50", "p90", "max")
            ]
            table.append(
                [
                    str(x.scenario),
                    str(x.direction),
                    f"{_fmt(x.firm)} {x.unit}",
                    _fmt(x.mean),
                    f"{x.share_at_or_above:.1%}",
                    "yes" if x.meets else "no",
                    str(x.longest_run_h),
                    *stats,
                ]
            )
        links = []
        for png in figures.get(ps_id, []):
            rel = Path(os.path.relpath(png, out_dir)).as_posix()
            href = "/".join(_quote(part) for part in rel.split("/"))
            links.append({"href": href, "alt": png.stem, "caption": _caption(png.stem)})
        sections.append(
            {
                "anchor": anchors[ps_id],
                "ps_id": str(ps_id),
                "name": str(ps_scr[0].name if ps_scr else ""),
                "rows": table,
                "figures": links,
            }
        )
    rule = ""
    if len(screening):
        any_scr = screening.iloc[0]
        rule = (
            f"Firm value: the level reached in at least {any_scr['availability']:.0%} of the hours. "
            "A PS meets a direction when its firm value is at or above the threshold "
            f"(thresholds: {screening[screening.unit == 'MW']['threshold'].iloc[0]:g} MW, "
            f"{screening[screening.unit == 'Mvar']['threshold'].iloc[0]:g} Mvar). "
        )
    return _report_template().render(
        study_name=study_name,
        description=description,
        credits="; ".join(credits or []) or "as given by the study",
        scenario=scenario,
        rule=rule,
        directions=list(DIRECTIONS),
        ranking=rows,
        sections=sections,
    )


def figure_thresholds(screening: dict) -> dict[str, tuple[float, str]]:
    """``{direction: (threshold, unit)}`` from ``[screening]`` settings. [MW or Mvar]"""
    return {
        d: (screening["threshold_mw" if unit == "MW" else "threshold_mvar"], unit)
        for d, (_, unit) in DIRECTIONS.items()
    }


#: Figures that show the relief thresholds (redrawn when a run is screened again).
THRESHOLD_FIGURES = frozenset({"fig11_monthly_boxes", "availability_heatmap"})


def redraw_threshold_figures(run: Run, folder: Path, workers: int = 1) -> list[Path]:
    """Draw again, into ``folder``, the run's figures that show its thresholds.

    After ``atlas screen`` with new thresholds, Fig. 11 and the availability heatmap of
    every PS that has them are redrawn from the run (its hourly table and envelopes), so the
    figures agree with the screening, the report and the map. Each PNG replaces its file
    (a new file moved into place, never written through a hard link).
    """
    settings = run.screening_settings
    envelopes = {(r.scenario, r.ps_id, r.kind): r.geometry for r in run.envelopes.itertuples()}
    written: list[Path] = []
    # memory bounded by a chunk of PS; the figures' columns only
    for hourly in run.hourly_chunks([*ARRAY_COLUMNS, "p_mw", "q_mvar"]):
        arrays = hourly_arrays(hourly)
        n_ps, n = len(arrays.ps_ids), len(arrays.time)
        first = hourly[hourly["scenario"] == arrays.scenarios[0]]
        data = RunFigureData(
            arrays=arrays,
            load=first[["p_mw", "q_mvar"]].to_numpy(dtype=float).reshape(n_ps, n, 2),
            timezone=run.timezone,
            envelopes=envelopes,
            thresholds=figure_thresholds(settings),
            sample_day=settings["sample_day"],
            names=run.names,
            rated_mva=run.rated_mva,
            only=THRESHOLD_FIGURES,
            scenario=run.default_scenario,
        )
        in_chunk = set(arrays.ps_ids)
        for level in ("summary", "all"):
            ps = [
                p
                for p, rels in run.figures.items()
                if p in in_chunk
                and any(Path(r).stem in THRESHOLD_FIGURES for r in rels)
                and (level == "all") == any(Path(r).stem == "availability_heatmap" for r in rels)
            ]
            if ps:
                dirs = {p: Path(run.figures[p][0]).parent.name for p in ps}
                job = start_figures(data, folder, level, ps, workers, dirs)
                written += [x for paths in job.wait().values() for x in paths]
    return written


def write_report(run: Run, folder: Path) -> Path:
    """Write ``report.html`` of a run into ``folder`` (where the run is being saved).

    The ranking is by the last scenario of the run, with the run's screening and
    year-level statistics; the figures are the run's PNGs, linked relative to ``folder``.
    """
    from atlas.files import write_text_atomic

    folder = Path(folder)
    study = run.manifest["study"]
    import pyarrow.dataset as pads

    year = run.select_statistics(lambda t: t["month"].isna(), pads.field("month").is_null())
    page = report_html(
        str(study.get("name", "")),
        str(study.get("description", "") or ""),
        run.screening,
        year,
        {ps: [folder / rel for rel in rels] for ps, rels in run.figures.items()},
        folder,
        run.default_scenario,
        data_credits(run.manifest),
    )
    return write_text_atomic(folder / "report.html", page)


def _day_label(month_day: str, time: pd.DatetimeIndex, timezone: str) -> str:
    """``"09-04"`` -> ``"4 September 2030"`` (the study's local year)."""
    year = time.tz_convert(timezone)[len(time) // 2].year
    day = pd.Timestamp(f"{year}-{month_day}")
    return f"{day.day} {day.month_name()} {year}"


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="-_.")


def _caption(stem: str) -> str:
    for key, (paper, what) in FIGURES.items():
        prefix = key.split("{")[0]
        if stem == key or ("{" in key and stem.startswith(prefix)):
            return f"{paper}: {what} ({stem})"
    return stem


#: What each technology's capability set rests on, for its figure's title.
CAPABILITY_BASIS = {
    "pv": "CEI 0-16/0-21 parameters",
    "ev": "the seed paper's EV model",
    "bess": "rating, energy, schedule",
    "statcom": "rating",
    "oltc": "band and load exponents",
}


def _first_polygon(deviation: DeviationSet) -> np.ndarray:
    """The first hour's vertices of a set computed with them (``with_vertices=True``)."""
    assert deviation.vertices is not None
    return deviation.vertices[0]


def technology_views(inputs: StudyInputs, ps_id: str) -> list:
    """Each technology at one PS for its figure (paper Fig. 3-6): capability sets and the
    PS's yearly envelope with that technology alone, per scenario.

    Returns
    -------
    list of TechView
        PV, CHP, biomass, hydro and wind with their capability sets in p.u. of Sn at three
        operating points (p0 = 1, 0.6, 0.2); EV with its V2G disc and charge-only segment at
        the PS's peak charging power, in MW; a battery's set (p.u. of its rating) full, half
        charged and empty; a STATCOM's segment. Technologies absent in every scenario are
        left out.
    """
    k = inputs.ps_index(ps_id)
    point = inputs.load[k]
    scenarios = inputs.study.scenarios
    specs = {s: der_specs(inputs, s, ps_id) for s in scenarios}
    views = []
    for tech in TECHNOLOGIES:
        per = {s: [x for x in specs[s] if x.technology == tech] for s in scenarios}
        present = [x for s in scenarios for x in per[s]]
        if not present:
            continue
        envelopes = {s: yearly_envelope_pruned(point, per[s]) for s in scenarios if per[s]}
        curves: list[tuple[str, np.ndarray, tuple[float, float] | None]] = []
        if tech == "ev":
            for spec in {x.kind: x for x in present}.values():
                d = float(np.max(spec.series))
                dev = _first_polygon(ev_set(np.array([d]), v2g=spec.kind == "ev_v2g"))
                what = "V2G disc" if spec.kind == "ev_v2g" else "charge only (adds load)"
                curves.append((f"{what}, at the peak charging {d:.2f} MW", dev, (0.0, 0.0)))
            unit = "MW"
        elif tech == "bess":  # the set held for an hour at three states of energy
            first = present[0]
            hours_of_energy = first.energy_mwh / first.sn_mva  # E / Sn [h]
            for label, share in (("full", 1.0), ("half charged", 0.5), ("empty", 0.0)):
                dev = _first_polygon(
                    bess_set(
                        1.0, hours_of_energy, np.zeros(1), np.array([share * hours_of_energy]),
                        *first.eta,
                    )
                )  # fmt: skip
                curves.append((f"{label} ({hours_of_energy:g} h of energy)", dev, (0.0, 0.0)))
            unit = "p.u. of Sn"
        elif tech == "statcom":
            dev = _first_polygon(statcom_set(1.0, 1))
            curves.append(("-Sn <= q <= Sn, p = 0", dev, (0.0, 0.0)))
            unit = "p.u. of Sn"
        elif tech == "oltc":  # the set at the hours of the largest and smallest gross load
            first = present[0]
            assert first.q_series is not None and first.oltc is not None
            for label, h in (
                ("largest", int(np.argmax(first.series))),
                ("smallest", int(np.argmin(first.series))),
            ):
                flex = oltc_set(first.series[h : h + 1], first.q_series[h : h + 1], *first.oltc)
                curves.append(
                    (f"at the {label} gross load, {first.series[h]:.1f} MW", _first_polygon(flex),
                     (0.0, 0.0))
                )  # fmt: skip
            unit = "MW"
        else:
            params = present[0].params
            assert params is not None  # a box_disc group has parameters
            for p0 in (1.0, 0.6, 0.2):
                dev = _first_polygon(box_disc_set(params, 1.0, np.array([p0])))
                curves.append((f"set at p0 = {p0:g} p.u.", dev + np.array([p0, 0.0]), (p0, 0.0)))

            unit = "p.u. of Sn"
        views.append(TechView(TECHNOLOGY_NAMES[tech], curves, unit, envelopes, tech))
    return views
