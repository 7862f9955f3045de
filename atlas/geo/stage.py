"""The geodata stage on its own: service areas, the DER join, capacities (``atlas areas``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atlas.geo.join import GeoStage, build_geodata
from atlas.inputs.study import Study, load_study
from atlas.inputs.tables import read_capacity


def build_areas(study: Study | str | Path) -> tuple[Study, GeoStage, pd.DataFrame]:
    """The geodata stage alone: service areas, the DER join and the capacity table."""
    if not isinstance(study, Study):
        study = load_study(study)
    files = study.input_files()
    geo = build_geodata(study, files)
    if geo.capacity is not None:
        return study, geo, geo.capacity
    capacity = read_capacity(files["inputs.capacity"], study.scenarios, list(geo.sites["ps_id"]))
    return study, geo, capacity


def geodata_summary(study: Study, geo: GeoStage) -> dict:
    """Counts of the geodata stage for ``run.json`` and the command line."""
    kind = "none" if geo.areas is None else ("voronoi" if geo.voronoi else "given")
    summary = {
        "substations": len(geo.sites),
        "service_areas": kind,
        "metric_crs": geo.crs.to_string(),
        "slivers_resolved": geo.report.slivers_resolved,
        "sliver_area_m2": round(geo.report.sliver_area_m2, 6),
        "empty_areas": sorted(geo.report.empty_areas),
    }
    summary.update(geo.summary)
    return summary


def write_areas(study: Study | str | Path, out_dir: str | Path) -> tuple[list[Path], dict]:
    """Run the geodata stage and write its files (the API behind ``atlas areas``).

    The folder is written like a run folder, whole (:func:`atlas.runfolder.save_geodata`).
    """
    from atlas.runfolder import save_geodata, tables_from_geo

    study, geo, capacity = build_areas(study)
    summary = geodata_summary(study, geo)
    written = save_geodata(tables_from_geo(geo, capacity), study.scenarios, summary, out_dir)
    return written, summary
