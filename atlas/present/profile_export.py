"""The profile commands' outputs: ``atlas profiles export`` (the hourly profiles each PS
uses, as CSV files and PNGs) and ``atlas profiles fit`` (a fitted seasonal polynomial)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS
from atlas.engine.compute import StudyInputs
from atlas.files import safe_names, sha256, write_atomic, write_text_atomic
from atlas.inputs.study import PvDefaultProfile, PvPvgisProfile, PvTmyProfile
from atlas.present.figures import plot_profile_year, plot_seasonal_fit
from atlas.timeseries.pv import DEFAULT_TMY, PVGIS_ATTRIBUTION
from atlas.timeseries.seasonal import (
    DEGREE,
    PolynomialFit,
    fit_polynomial,
    polynomial_profile,
    read_measured,
)


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
    # the technologies with a profile (wind has none unless the study gives a file)
    techs = [t for t in CAPACITY_TECHNOLOGIES if getattr(m.profiles, t).source != "none"]
    for tech in techs:
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
        for tech in techs:
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
        written.append(write_text_atomic(out_dir / f"profiles_{names[ps_id]}.csv", text))
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
            written.append(write_text_atomic(out_dir / f"ev_{names[ps_id]}.csv", ev_text))
    first = inputs.ps_ids[0]
    for tech in techs:
        prof = inputs.profiles[tech]
        series = prof[0] if prof.ndim == 2 else prof
        title = f"{tech} at {first} ({getattr(m.profiles, tech).source}), {series.sum():.0f} full-load hours"
        written.append(
            write_atomic(
                out_dir / f"profile_{tech}.png",
                partial(plot_profile_year, inputs.axis, series, tech, title),
            )
        )
    return written


def write_fit(
    technology: str, measured: Path, out_dir: Path, column: str = "pu", sn_mva: float | None = None
) -> tuple[PolynomialFit, list[Path]]:
    """Fit a measured series and write ``{technology}_coefficients.csv`` and ``_fit.png``.

    Returns
    -------
    fit : PolynomialFit
    written : list of pathlib.Path
    """
    pu = read_measured(Path(measured), column, sn_mva)
    fit = fit_polynomial(pu)
    out_dir = Path(out_dir)
    header = (
        f"# Seasonal polynomial of {technology}: pu(x) = c0 + c1 x + ... + c5 x^5, x = h / 8760\n"
        f"# (h = 0 is 1 January 00:00 UTC of the study axis), clipped to [0, 1] when used.\n"
        f"# Fitted by `atlas profiles fit` to {Path(measured).name} (sha256 {sha256(Path(measured))}),\n"
        f"# column {column}{f' / {sn_mva:g} MVA' if sn_mva else ''}, {fit.n} hours; r2 against that series.\n"
    )
    row = f"{technology}," + ",".join(f"{c:.12g}" for c in fit.coefficients) + f",{fit.r2:.6f}\n"
    text = header + "technology," + ",".join(f"c{k}" for k in range(DEGREE + 1)) + ",r2\n" + row
    written = [write_text_atomic(out_dir / f"{technology}_coefficients.csv", text)]
    fitted = polynomial_profile(fit.coefficients)
    written.append(
        write_atomic(
            out_dir / f"{technology}_fit.png",
            partial(plot_seasonal_fit, pu, fitted, technology, fit.r2),
        )
    )
    return fit, written
