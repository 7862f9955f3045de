"""Presentation: figures, the report page and the interactive map, all made from a Run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas.runfolder import Run


def run_pages(run: Run, redraw: bool = False) -> dict[str, Callable[[Run, Path], Any]]:
    """The pages of a run as ``{file name: writer(run, folder)}`` (:meth:`Run.write_into`):
    ``report.html``, and ``map.html`` unless the run's map setting is ``none`` (online or
    offline, coloured by the run's ``map_scenario`` setting or its last scenario). With
    ``redraw``, first the figures that show the thresholds, drawn again
    (:func:`atlas.present.report.redraw_threshold_figures`)."""
    import os

    from atlas.present.report import redraw_threshold_figures, write_report
    from atlas.present.webmap import write_map

    pages: dict[str, Callable[[Run, Path], Any]] = {}
    if redraw and run.figures:

        def figures(r: Run, folder: Path) -> None:
            redraw_threshold_figures(r, folder, os.cpu_count() or 1)

        pages["figures/"] = figures
    pages["report.html"] = write_report
    kind = run.settings.get("map", "online")
    if kind != "none":
        scenario = run.settings.get("map_scenario")

        def page(r: Run, folder: Path) -> Path:
            return write_map(r, folder, scenario, kind == "offline")

        pages["map.html"] = page
    return pages
