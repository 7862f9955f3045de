"""The ``atlas`` command: a thin layer over :mod:`atlas.pipeline`.

A user error (:class:`~atlas.errors.AtlasInputError`) prints one line
``path[:line]: key or row: what is wrong, what is expected`` and exits with code 2.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from atlas import __version__
from atlas.errors import AtlasInputError


def _user_errors(func):
    """Turn an AtlasInputError into one line on stderr and exit code 2.

    A command with an output folder (``--out``, :data:`out_option`) first checks that it
    may write there (:func:`atlas.files.check_writable`); an OSError naming a path in that
    folder, or a write error naming none (a full disk, :data:`atlas.files.WRITE_ERRORS`),
    is such an error too: ``error: FOLDER: cannot write into it (REASON), expected ...``.
    (A run folder's own errors come from :class:`atlas.runfolder.Staging`.)
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from atlas.files import WRITE_ERRORS, check_writable, error_path, folder_error

        out = kwargs.get("out_dir")
        # "choose another --out", or "another folder" for an argument (atlas init FOLDER)
        ctx = click.get_current_context(silent=True)
        option = ctx is not None and any(
            isinstance(p, click.Option) for p in ctx.command.params if p.name == "out_dir"
        )
        named_by = "--out" if option else "folder"
        try:
            if out is not None:
                try:
                    check_writable(out)
                except OSError as exc:
                    raise folder_error(out, exc, "write into it", named_by=named_by) from None
            return func(*args, **kwargs)
        except AtlasInputError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            sys.exit(2)
        except OSError as exc:  # a write into the output folder that failed (a full disk)
            path = error_path(exc)
            if out is None:
                raise
            top = Path(out).absolute()
            if path is None and exc.errno not in WRITE_ERRORS:
                raise
            if path is not None and not (path == top or top in path.parents):
                raise  # another file's error (an input's)
            error = folder_error(out, exc, "write into it", named_by=named_by)
            click.echo(f"error: {error.one_line()}", err=True)
            sys.exit(2)

    return wrapper


#: Options shared by the commands, defined once.
config_option = click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="Study file (TOML). Default: the embedded Milan demo.",
)


def figures_basis_option(default_text: str):
    """``--figures-basis`` of ``atlas run`` and ``atlas screen`` (None: ``default_text``)."""
    return click.option(
        "--figures-basis",
        "figures_basis",
        type=click.Choice(["blind", "network"]),
        default=None,
        help="Screen (and colour the map of) the PS with an MV network by their network-blind "
        "or network-aware figures ([network], docs/network.md); other PS are screened "
        f"network-blind. Default: {default_text}.",
    )


out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),  # a folder that may be written: checked by _user_errors
    default=Path("outputs"),
    show_default=True,
    help="Output folder.",
)


def _echo_warnings(warnings: list[dict]) -> None:
    """Print the plausibility findings a study accepts and the DERs left outside every
    area, one ``warning:`` line each."""
    from atlas.inputs.study import CHECK_NAMES

    for w in warnings:
        where = f"{w['file']}:{w['line']}" if w.get("line") else w["file"]
        accepted = " (accepted)" if w["check"] in CHECK_NAMES else ""
        click.echo(f"warning: {where}: {w['where']}: {w['problem']}{accepted}", err=True)


def _echo_summary(summary: dict) -> None:
    """Print the geodata stage's counts (service areas, the DER join)."""
    click.echo(
        f"{summary['substations']} substations, service areas: {summary['service_areas']} "
        f"(metric CRS {summary['metric_crs']})"
    )
    if summary["slivers_resolved"]:
        click.echo(
            f"  {summary['slivers_resolved']} sliver overlaps resolved ({summary['sliver_area_m2']:.3g} m2 in all)"
        )
    if summary["empty_areas"]:
        click.echo(f"  empty service areas: {', '.join(summary['empty_areas'])}")
    if "ders_total" in summary:
        click.echo(
            f"{summary['ders_total']} DERs: {summary['ders_in_areas']} in service areas, "
            f"{summary['ders_snapped']} snapped within {summary['snap_distance_m']:g} m, "
            f"{summary['ders_unassigned']} outside every area ({summary['capacity_unassigned_mw']:.3f} MW, "
            "listed in unassigned_ders.csv)"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="atlas")
def main() -> None:
    """The flexibility atlas: hourly P-Q flexibility of DERs at each primary substation."""


@main.command()
@click.argument("study_file", type=click.Path(path_type=Path))
@_user_errors
def validate(study_file: Path) -> None:
    """Check a study file and every input it names, without computing."""
    from atlas.pipeline import validate_study

    plan = validate_study(study_file)
    _echo_warnings([w.as_dict() for w in plan.warnings])
    click.echo(
        f"{study_file}: ok: study {plan.study.name!r}, year {plan.study.year}, "
        f"{len(plan.ps_ids)} substations, scenarios {plan.study.scenarios}, "
        f"{len(plan.capacity)} capacity rows"
    )


@main.command()
@config_option
@out_option
@click.option(
    "--format",
    "formats",
    type=click.Choice(["parquet", "csv"]),
    multiple=True,
    default=("parquet",),
    show_default=True,
    help="Hourly table format; repeat for both (parquet is always written).",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Progress bar over substations.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes (or dask workers of a local cluster) running chunks of substations; "
    "0 for one per CPU. Outputs do not depend on it.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Substations per chunk: memory grows with it, not with the number of PS "
    "(docs/scale.md). Outputs do not depend on it.",
)
@click.option(
    "--engine",
    type=click.Choice(["processes", "dask"]),
    default="processes",
    show_default=True,
    help="Where chunks run: processes of this machine, or a dask.distributed cluster (a "
    "LocalCluster unless --scheduler is given; needs pip install 'flexibility-atlas[dask]').",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="A dask.distributed scheduler (tcp://host:8786) to run the chunks on; its workers "
    "must reach the study's files and --out at the same paths (implies --engine dask).",
)
@click.option(
    "--figures",
    type=click.Choice(["none", "summary", "all"]),
    default="summary",
    show_default=True,
    help="PNG figures per PS: none; summary (yearly envelopes, monthly boxes); all (every "
    "figure of the seed paper, docs/figures.md).",
)
@click.option(
    "--map",
    "webmap",
    type=click.Choice(["online", "offline", "none"]),
    default="online",
    show_default=True,
    help="map.html: online (Leaflet from a CDN, a basemap); offline (one file that needs no "
    "network, no basemap); none.",
)
@click.option(
    "--figures-for",
    "figures_for",
    multiple=True,
    metavar="PS_ID",
    help="Draw figures only for this PS (repeat for several; default every PS).",
)
@click.option(
    "--add",
    "add",
    multiple=True,
    metavar="PS:TECH=RATING[/ENERGY]",
    help="What-if: a resource added at a PS, e.g. SUD:bess=10MW/20MWh or SUD:statcom=15Mvar "
    "(repeat for several). One more scenario, the last listed plus these, screened beside "
    "it; replaces the study file's [scenarios] what_if.",
)
@figures_basis_option("blind")
@_user_errors
def run(
    config: Path | None,
    out_dir: Path,
    formats: tuple[str, ...],
    progress: bool,
    workers: int,
    chunk_size: int,
    engine: str,
    scheduler: str | None,
    figures: str,
    webmap: str,
    figures_for: tuple[str, ...],
    add: tuple[str, ...],
    figures_basis: str | None,
) -> None:
    """Run a study and write its outputs (default: the embedded Milan demo into ./outputs).

    The output folder is replaced whole at the end: an earlier run in it is replaced, a
    folder holding anything else is refused.
    """
    from atlas.workerserver import start_server

    t0 = time.perf_counter()
    if engine == "processes" and scheduler is None and (workers or os.cpu_count() or 1) > 1:
        start_server()  # its imports run on another core while this process does its own

    from atlas.demo import demo_study_path
    from atlas.pipeline import run_study

    if config is None:
        config = demo_study_path()
        click.echo(f"no --config given: running the embedded Milan demo ({config})")
    result = run_study(
        config,
        out_dir,
        formats=formats,
        progress=progress,
        workers=workers or None,
        figures=figures,
        figures_for=list(figures_for) or None,
        webmap=webmap,
        chunk_size=chunk_size,
        engine=engine,
        scheduler=scheduler,
        add=list(add) or None,
        figures_basis=figures_basis or "blind",
    )
    files = [*result.manifest["outputs"], "run.json"]
    click.echo(f"wrote {len(files)} files to {out_dir} in {time.perf_counter() - t0:.1f} s:")
    for name in files:
        click.echo(f"  {name}")
    if result.manifest.get("figures_written"):
        click.echo(
            f"  figures/ ({result.manifest['figures_written']} PNG, linked from report.html)"
        )
    _echo_summary(result.manifest["summary"])
    _echo_network(result.manifest.get("network"))
    _echo_warnings(result.manifest.get("warnings", []))


def _echo_network(network: dict | None) -> None:
    """One line per PS with a network: placement, binding hours, AC checks; its notes."""
    for ps_id, info in (network or {}).get("ps", {}).items():
        placed = info["placed"]
        click.echo(
            f"network {ps_id} ({info['source']}, {info['buses']} buses): DERs on buses "
            f"{placed['given']} given, {placed['nearest']} nearest, {placed['far']} too far "
            f"(not placed, network_placement.csv), {info['seconds']:.1f} s"
        )
        for scenario, sc in info["scenarios"].items():
            bound = ", ".join(f"{f} {n} h" for f, n in sc["hours_bound"].items() if n)
            checks = sc.get("ac_checks") or {}
            beyond = sum(
                len(v["violations"])
                for k, v in checks.items()
                if isinstance(v, dict) and "violations" in v
            )
            click.echo(
                f"  {scenario}: a network limit binds in {bound or 'no hour'}; AC check of "
                f"{len(checks.get('hours', []))} hours: {beyond} beyond tolerance"
            )
        for note in info["notes"]:
            click.echo(f"  note: {note}")


@main.command()
@config_option
@out_option
@_user_errors
def areas(config: Path | None, out_dir: Path) -> None:
    """Build the service areas, join the DER register, write the capacity per PS."""
    from atlas.demo import demo_study_path
    from atlas.geo.stage import write_areas

    written, summary = write_areas(config or demo_study_path(), out_dir)
    _echo_summary(summary)
    click.echo(f"wrote {', '.join(p.name for p in written)} to {out_dir}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--scenario", default=None, help="Print only this scenario (default: all).")
@click.option(
    "--direction",
    type=click.Choice(["p_up", "p_down", "q_up", "q_down"]),
    default=None,
    help="Print only this direction.",
)
@click.option(
    "--threshold-mw",
    type=click.FloatRange(min=0),
    default=None,
    help="Relief threshold, active power [MW] (default: the run's [screening]).",
)
@click.option(
    "--threshold-mvar",
    type=click.FloatRange(min=0),
    default=None,
    help="Relief threshold, reactive power [Mvar] (default: the run's [screening]).",
)
@click.option(
    "--availability",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=None,
    help="Share of hours the firm value must be reached in (default: the run's).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="What to print.",
)
@figures_basis_option("the run's")
@_user_errors
def screen(
    run_dir: Path,
    scenario,
    direction,
    threshold_mw,
    threshold_mvar,
    availability,
    fmt,
    figures_basis,
) -> None:
    """Screen the PS of a run again and rank them by firm flexibility.

    A PS meets a direction when its firm value (reached in at least AVAILABILITY of the hours)
    is at or above the threshold. The run's own [screening] settings apply unless an option
    overrides them (recorded in run.json). screening.csv and statistics.parquet are rewritten
    whole (every scenario, direction and PS), and report.html and map.html with them;
    --scenario and --direction only filter what is printed.
    """
    from atlas.pipeline import save_run, screen_run
    from atlas.runfolder import Run, check_run_folder

    loaded = Run.load(run_dir)
    check_run_folder(run_dir)  # before any work: a folder it may not rewrite is refused now
    if scenario is not None and scenario not in loaded.scenarios:
        raise AtlasInputError(
            None,
            "--scenario",
            f"{scenario!r} is not in the run, expected one of {loaded.scenarios}",
        )
    run = screen_run(loaded, threshold_mw, threshold_mvar, availability, figures_basis)
    table = run.screening
    save_run(run, run_dir, redraw=run.screening_settings != loaded.screening_settings)
    if scenario is not None:
        table = table[table["scenario"] == scenario]
    if direction is not None:
        table = table[table["direction"] == direction]
    if fmt == "csv":
        click.echo(table.to_csv(index=False, float_format="%.6g"), nl=False)
    elif fmt == "json":
        click.echo(table.to_json(orient="records", indent=1))
    else:
        _echo_screening(table, run.screening_settings["availability"])
        click.echo(
            f"rewrote {run_dir}: screening.csv, statistics.parquet, report.html"
            + (", map.html" if (run_dir / "map.html").is_file() else "")
        )


def _echo_screening(table, availability: float) -> None:
    """The screening as a table as wide as the terminal (names get what is left)."""
    import shutil

    import pandas as pd

    width = shutil.get_terminal_size((80, 24)).columns
    id_w = int(min(max(table["ps_id"].str.len().max() if len(table) else 5, 5), 16))
    longest = int(table["name"].astype(str).str.len().max()) if len(table) else 4
    name_w = max(8, min(longest, width - id_w - 50))  # what the names need, within the width
    for (sc, d), g in table.groupby(["scenario", "direction"], sort=False):
        unit = g["unit"].iloc[0]
        click.echo(
            f"\n{sc} {d}: threshold {g['threshold'].iloc[0]:g} {unit}, availability {availability:g}"
        )
        click.echo(
            f"  {'ps_id':<{id_w}} {'name':<{name_w}} {'firm':>8} {'mean':>8} {'share':>6} "
            f"{'run h':>6} {'over':>5}  meets"
        )
        for r in g.itertuples(index=False):
            mark = click.style("yes", fg="green", bold=True) if r.meets else "no"
            over = "-" if pd.isna(r.hours_over_rating) else int(r.hours_over_rating)
            over = (
                click.style(f"{over:>5}", fg="red", bold=True)
                if over not in (0, "-")
                else f"{over:>5}"
            )
            name = str(r.name)
            name = name if len(name) <= name_w else name[: name_w - 1] + "…"
            click.echo(
                f"  {str(r.ps_id)[:id_w]:<{id_w}} {name:<{name_w}} {r.firm:8.2f} {r.mean:8.2f} "
                f"{r.share_at_or_above:6.1%} {r.longest_run_h:6d} {over}  {mark}"
            )
    click.echo(
        "\nfirm: the level reached in at least the availability's share of the hours;\n"
        "share: hours at or above the threshold; run h: the longest run of such hours;\n"
        "over: hours in which a point of the PS envelope exceeds the PS rating."
    )


@main.command("map")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--scenario", default=None, help="Scenario to colour by (default: the last listed).")
@click.option(
    "--offline",
    is_flag=True,
    help="Inline Leaflet and every script and style, no basemap: one file that opens without "
    "a network (an air-gapped control room).",
)
@_user_errors
def map_command(run_dir: Path, scenario: str | None, offline: bool) -> None:
    """Rebuild RUN_DIR/map.html from the run in RUN_DIR (docs/map.md).

    The choice (online or offline, the scenario) is recorded in run.json, so a later
    `atlas screen` rebuilds the same map.
    """
    from atlas.pipeline import save_run
    from atlas.runfolder import Run

    run = Run.load(run_dir)  # an unknown --scenario is refused by the map, before the swap
    run.settings["map"] = "offline" if offline else "online"
    run.settings["map_scenario"] = scenario
    save_run(run, run_dir)
    path = run_dir / "map.html"
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB{', offline' if offline else ''})")


@main.group()
def profiles() -> None:
    """Hourly profiles: fit the seasonal polynomial to measured data."""


@profiles.command("fit")
@click.argument("technology", type=click.Choice(["chp", "hydro"]))
@click.argument("measured", type=click.Path(path_type=Path))
@out_option
@click.option("--column", default="pu", show_default=True, help="Column of MEASURED to fit.")
@click.option(
    "--sn-mva",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Divide the column by this installed capacity [MVA] to get per unit.",
)
@_user_errors
def profiles_fit(
    technology: str, measured: Path, out_dir: Path, column: str, sn_mva: float | None
) -> None:
    """Fit the fifth-degree seasonal polynomial to a measured hourly series.

    MEASURED is a CSV of 8760 rows (row i = hour i of the study axis, empty cells for gaps)
    with a per-unit column (or MW with --sn-mva). Writes TECHNOLOGY_coefficients.csv (the
    format of profiles/seasonal_coefficients.csv) and TECHNOLOGY_fit.png.
    """
    from atlas.present.profile_export import write_fit

    fit, written = write_fit(technology, measured, out_dir, column=column, sn_mva=sn_mva)
    click.echo(
        f"{technology}: c0..c5 = {', '.join(f'{c:.6g}' for c in fit.coefficients)} (x = h / 8760)"
    )
    click.echo(
        f"R2 = {fit.r2:.5f} over {fit.n} hours; wrote {', '.join(p.name for p in written)} to {out_dir}"
    )


@profiles.command("export")
@config_option
@out_option
@_user_errors
def profiles_export(config: Path | None, out_dir: Path) -> None:
    """Write the hourly profiles of every PS (CSV with a metadata header) and a PNG of each."""
    from atlas.demo import demo_study_path
    from atlas.pipeline import load_inputs
    from atlas.present.profile_export import export_profiles

    written = export_profiles(load_inputs(config or demo_study_path()), out_dir)
    click.echo(f"wrote {len(written)} files to {out_dir}")


@main.command("init")
@click.argument("out_dir", metavar="FOLDER", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the starter's files if FOLDER has them.")
@_user_errors
def init_command(out_dir: Path, force: bool) -> None:
    """Write a small SYNTHETIC starter study into FOLDER, to edit into your own.

    FOLDER is created if missing; a folder that already holds one of the starter's files is
    refused unless --force. The starter runs offline in a few seconds.
    """
    import shlex

    from atlas.inputs.starter import init_study

    written = init_study(out_dir, force=force)
    click.echo(f"wrote a SYNTHETIC starter study ({len(written)} files) to {out_dir}:")
    for p in written:
        click.echo(f"  {p.name}")
    study = shlex.quote(str(out_dir / "study.toml"))
    click.echo("next (then edit study.toml and replace the inputs with your own data):")
    click.echo(f"  atlas validate {study}")
    click.echo(f"  atlas run --config {study} --out results")


@main.group("import")
def import_group() -> None:
    """Write an atlas study from an external data set (a SimBench grid)."""


@import_group.command("simbench")
@click.argument("code")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write the study into (created if missing).",
)
@click.option("--force", is_flag=True, help="Overwrite the study's files if --out has them.")
@_user_errors
def import_simbench(code: str, out_dir: Path, force: bool) -> None:
    """Write an atlas study of SimBench's MV grid CODE (e.g. 1-MV-semiurb--0-sw).

    One PS (the grid's HV/MV transformers), its generators' capacity by technology and
    level, their 2016 profiles as hourly means, and the PS load from an AC power flow of
    every hour (docs/network.md). Needs the network extra: pip install
    'flexibility-atlas[network]'. SimBench's data are under the Open Database License.
    """
    try:
        import simbench  # noqa: F401

        from atlas.network.simbench import write_study
    except ImportError:
        raise AtlasInputError(
            None,
            "atlas import simbench",
            "needs pandapower and simbench, expected them installed: "
            "pip install 'flexibility-atlas[network]'",
        ) from None
    written = write_study(code, out_dir, force=force)
    click.echo(f"wrote an atlas study of SimBench {code} ({len(written)} files) to {out_dir}:")
    for p in written:
        click.echo(f"  {p.name}")
    click.echo(f"next: atlas run --config {out_dir / 'study.toml'} --out results")


@main.command("synth")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--n-ps", type=click.IntRange(min=1), required=True, help="Number of primary substations."
)
@click.option(
    "--ders-per-ps",
    type=click.IntRange(min=1),
    default=680,
    show_default=True,
    help="DER points per PS on average (the register has N x this many).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=2030, show_default=True, help="Random seed."
)
@click.option("--year", type=int, default=2030, show_default=True, help="Year of the hourly axis.")
@click.option(
    "--register-format",
    type=click.Choice(["csv", "geoparquet"]),
    default="csv",
    show_default=True,
    help="ders.csv (lat/lon) or ders.parquet (GeoParquet points, EPSG:4326).",
)
@click.option(
    "--load-format",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="load.parquet (streamed, one row group per 16 PS) or load.csv.",
)
@click.option("--force", is_flag=True, help="Overwrite the study's files if OUT_DIR has them.")
@_user_errors
def synth_command(
    out_dir: Path,
    n_ps: int,
    ders_per_ps: int,
    seed: int,
    year: int,
    register_format: str,
    load_format: str,
    force: bool,
) -> None:
    """Write a SYNTHETIC national-scale study of Italy into OUT_DIR (docs/scale.md).

    N invented primary substations in an approximate outline of Italy (Voronoi service
    areas), a DER register with the Milan demo's mix, N x 8760 hours of invented load. The
    same arguments give the same bytes; nothing in it is real data.
    """
    import shlex

    from atlas.synth import write_synthetic_study

    t0 = time.perf_counter()
    study = write_synthetic_study(
        out_dir,
        n_ps,
        ders_per_ps=ders_per_ps,
        seed=seed,
        year=year,
        register_format=register_format,
        load_format=load_format,
        force=force,
    )
    click.echo(
        f"wrote a SYNTHETIC study to {out_dir}: {n_ps} PS, {n_ps * ders_per_ps} DER points, "
        f"{n_ps * 8760} load rows ({time.perf_counter() - t0:.1f} s)"
    )
    click.echo(f"next: atlas validate {shlex.quote(str(study))}")


def entry(argv: list[str] | None = None) -> NoReturn:
    """The ``atlas`` console command: :func:`main`, then a quick exit.

    Once the command is done, its exit handlers have run, every other thread has ended and
    its output is flushed, the process ends at once (``os._exit``) with the command's exit
    code instead of tearing the interpreter down (0.4 to 1 s with pandas, pyarrow and
    geopandas loaded, and nothing left to do). Where that cannot be done safely (an exit
    handler API missing, a child process still alive) it exits as usual. A traceback is
    printed as usual; :func:`main` stays the click group a test or a script calls.
    """
    import atexit
    import multiprocessing
    import os
    import threading

    try:
        main.main(args=argv, prog_name="atlas")  # standalone mode ends in SystemExit
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # as Python does with a message as the code
        print(code, file=sys.stderr)
        code = 1
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    if run_exit_handlers is None or multiprocessing.active_children():
        sys.exit(code)
    run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
