"""``atlas profiles export``: the hourly profiles each PS uses, as CSV files and PNGs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS
from atlas.engine.compute import StudyInputs
from atlas.files import safe_names, write_atomic
from atlas.inputs.study import PvDefaultProfile, PvPvgisProfile, PvTmyProfile
from atlas.present.figures import plot_profile_year
from atlas.timeseries.pv import DEFAULT_TMY, PVGIS_ATTRIBUTION


def export_profiles(inputs: StudyInputs, out_dir: str | Path) -> list[Path]:
    """Write the hourly profiles each PS uses (the API behind ``atlas profiles export``).

    ``profiles_{ps_id}.csv``: ``#`` metadata lines (units, sources, parameters), then
    ``time`` (UTC), ``ps_id``, ``technology``, ``pu`` for pv, chp, hydro, biomass;
    ``ev_{ps_id}.csv`` (an id that is not a safe file name is made one,
    :func:`atlas.files.safe_names`) (when the study has EV charging): ``scenario, time, ps_id, location,
    p_mw``; and ``profile_{technology}.png``, a year of each technology at the first PS.
    """

    out_dir = Path(out_dir)
    names = safe_names(inputs.ps_ids)
    m = inputs.study.model
    stamps = inputs.axis.strftime("%Y-%m-%dT%H:%M:%SZ")
    header = [
        f"# atlas profiles of study {inputs.study.name!r} ({inputs.study.path.name}), year {inputs.study.year}",
        "# time: hour start, UTC; pu: output per unit of installed capacity (PV: of the AC rating), generator convention",
    ]
    for tech in CAPACITY_TECHNOLOGIES:
        header.append(f"# {tech}: {getattr(m.profiles, tech).model_dump_json()}")
    pv_spec = m.profiles.pv
    if isinstance(pv_spec, PvTmyProfile | PvDefaultProfile):
        weather = pv_spec.file.name if pv_spec.file is not None else DEFAULT_TMY
        if pv_spec.file is None:
            weather += f" (shipped; {PVGIS_ATTRIBUTION})"
        header.append(f"# pv weather: {weather}")
    elif isinstance(pv_spec, PvPvgisProfile):
        header.append(f"# pv weather: PVGIS hourly PV, online ({PVGIS_ATTRIBUTION})")
    written = []
    for k, ps_id in enumerate(inputs.ps_ids):
        frames = []
        for tech in CAPACITY_TECHNOLOGIES:
            prof = inputs.profiles[tech]
            series = prof[k] if prof.ndim == 2 else prof
            frames.append(
                pd.DataFrame({"time": stamps, "ps_id": ps_id, "technology": tech, "pu": series})
            )
        table = pd.concat(frames, ignore_index=True)
        text = (
            "\n".join(header)
            + "\n"
            + table.to_csv(index=False, float_format="%.6g", lineterminator="\n")
        )
        written.append(
            write_atomic(
                out_dir / f"profiles_{names[ps_id]}.csv",
                lambda p, t=text: p.write_text(t, encoding="utf-8"),
            )
        )
        ev_rows = []
        for scenario in inputs.study.scenarios:
            ev = inputs.ev_mw[scenario][k]
            for j, loc in enumerate(EV_LOCATIONS):
                if ev[j].any():
                    ev_rows.append(
                        pd.DataFrame(
                            {
                                "scenario": scenario,
                                "time": stamps,
                                "ps_id": ps_id,
                                "location": loc,
                                "p_mw": ev[j],
                            }
                        )
                    )
        if ev_rows:
            ev_text = f"# EV charging power of {ps_id} [MW], hour start UTC; {m.profiles.ev.model_dump_json()}\n"
            ev_text += pd.concat(ev_rows).to_csv(
                index=False, float_format="%.6g", lineterminator="\n"
            )
            written.append(
                write_atomic(
                    out_dir / f"ev_{names[ps_id]}.csv",
                    lambda p, t=ev_text: p.write_text(t, encoding="utf-8"),
                )
            )
    first = inputs.ps_ids[0]
    for tech in CAPACITY_TECHNOLOGIES:
        prof = inputs.profiles[tech]
        series = prof[0] if prof.ndim == 2 else prof
        title = f"{tech} at {first} ({getattr(m.profiles, tech).source}), {series.sum():.0f} full-load hours"
        written.append(
            write_atomic(
                out_dir / f"profile_{tech}.png",
                lambda p, s=series, t=title, tech=tech: plot_profile_year(
                    inputs.axis, s, tech, t, p
                ),
            )
        )
    return written
