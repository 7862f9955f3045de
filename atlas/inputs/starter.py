"""The starter study that ``atlas init`` writes: small, valid, offline, and SYNTHETIC.

A new user's first study: a commented ``study.toml`` showing every section of the study file
(docs/study-file.md), and tiny input tables of an invented town of three primary substations
at the site of the shipped weather file (45.0 N 8.0 E), so that ``atlas run`` needs no network
and takes a few seconds.

The static files live beside this module in ``starter_files/`` (the study file, the
substations, the DER register, the boundary); the load, 8760 hours per substation, is computed
here by :func:`synthetic_load` from a documented shape. Every number in them is invented and
labelled so in the files.
"""

from __future__ import annotations

import gzip
import shutil
import tomllib
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.errors import AtlasInputError
from atlas.files import write_atomic
from atlas.inputs.timeaxis import hourly_axis

#: Folder of the starter's static files (shipped inside the package).
STARTER_FILES = Path(__file__).resolve().parent / "starter_files"

#: Static files copied as they are, in the order they are written.
STATIC_FILES: tuple[str, ...] = ("study.toml", "substations.csv", "ders.csv", "boundary.geojson")

#: The computed load file (named so that nobody takes it for measurements).
LOAD_FILE = "load_synthetic.csv.gz"

#: SYNTHETIC peak active load of each starter substation, keyed by ``ps_id`` in the order of
#: ``starter_files/substations.csv``; invented, below each PS's N-1 rating. [MW]
PEAK_MW: dict[str, float] = {"NORD": 18.0, "CENTRO": 55.0, "SUD": 30.0}

#: SYNTHETIC ratio Q / P of the starter load (power factor about 0.95, lagging). [-]
Q_OVER_P = 0.33


def synthetic_load(year: int, peak_mw: dict[str, float] | None = None) -> pd.DataFrame:
    """A SYNTHETIC hourly PS load in the format of the study's load file.

    Parameters
    ----------
    year : int
        Year of the hourly axis (8760 UTC hours, 29 February dropped).
    peak_mw : dict, optional
        Peak scale ``P_pk`` per ``ps_id`` [MW]; default :data:`PEAK_MW`.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (ISO 8601 UTC text, ``YYYY-MM-DDTHH:MM:SSZ``), ``ps_id``, ``p_mw``
        [MW], ``q_mvar`` [Mvar], load convention (P > 0 flows from transmission into
        distribution, Q > 0 is absorbed by distribution); 8760 rows per PS, PS in the order
        given, values rounded to 1 kW / 1 kvar.

    Notes
    -----
    An invented shape, not a measurement. With ``t`` in Italian standard time (UTC+1, no
    summer time), ``hour`` its hour of the day, ``doy`` its day of the year (1 = 1 January)::

        p_mw   = P_pk * (0.55 + 0.35 * d) * (1 + 0.08 * cos(2 pi (doy - 15) / 365)) * w
        d      = (1 - cos(2 pi (hour - 4) / 24)) / 2      lowest at 04:00, highest at 16:00
        w      = 0.85 on Saturdays and Sundays, else 1
        q_mvar = 0.33 * p_mw                              power factor about 0.95

    So P ranges from 0.43 P_pk (a summer weekend night) to 0.97 P_pk (a January weekday
    afternoon). No holidays, no noise: the output is the same on every machine.
    """
    peak_mw = PEAK_MW if peak_mw is None else peak_mw
    axis = hourly_axis(year)
    local = axis.tz_convert(None) + pd.Timedelta(hours=1)  # Italian standard time, UTC+1
    hour = np.asarray(local.hour, dtype=float)
    doy = np.asarray(local.day_of_year, dtype=float)
    daily = (1.0 - np.cos(2 * np.pi * (hour - 4.0) / 24.0)) / 2.0
    seasonal = 1.0 + 0.08 * np.cos(2 * np.pi * (doy - 15.0) / 365.0)
    weekend = np.where(np.asarray(local.day_of_week) >= 5, 0.85, 1.0)
    shape = (0.55 + 0.35 * daily) * seasonal * weekend  # (8760,) per unit of P_pk
    stamps = axis.strftime("%Y-%m-%dT%H:%M:%SZ")
    frames = []
    for ps_id, pk in peak_mw.items():
        p = np.round(pk * shape, 3)
        frames.append(
            pd.DataFrame(
                {"time": stamps, "ps_id": ps_id, "p_mw": p, "q_mvar": np.round(Q_OVER_P * p, 3)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def starter_file_names() -> list[str]:
    """Names of the files :func:`init_study` writes, in the order it writes them."""
    return [*STATIC_FILES, LOAD_FILE]


def init_study(folder: str | Path, force: bool = False) -> list[Path]:
    """Write the SYNTHETIC starter study into a folder.

    Parameters
    ----------
    folder : str or pathlib.Path
        Where to write; created (with its parents) if missing.
    force : bool, default False
        Overwrite starter files already in ``folder``. Other files are never touched.

    Returns
    -------
    list of pathlib.Path
        The files written: ``study.toml`` (every section of the study file, commented),
        ``substations.csv`` (3 PS), ``ders.csv`` (a register of 22 installations: PV at MV
        and LV, CHP, hydro, biomass, EV charging points, some planned for 2030),
        ``boundary.geojson`` (the study area, Voronoi service areas are clipped to it) and
        ``load_synthetic.csv.gz`` (8760 hours per PS, :func:`synthetic_load`).

    Raises
    ------
    AtlasInputError
        ``folder`` is a file, or (without ``force``) already holds one of those files; in
        that case nothing is written.

    Notes
    -----
    The study runs offline (PV from the shipped typical meteorological year, ``source =
    "tmy"``) in a few seconds: ``atlas validate folder/study.toml``, then ``atlas run --config
    folder/study.toml --out results``. Every number in it is invented and labelled SYNTHETIC
    in the file it appears in; the study is a template to edit, not data.

    Examples
    --------
    >>> from atlas.inputs.starter import init_study
    >>> written = init_study("mystudy")  # doctest: +SKIP
    >>> [p.name for p in written]  # doctest: +SKIP
    ['study.toml', 'substations.csv', 'ders.csv', 'boundary.geojson', 'load_synthetic.csv.gz']
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AtlasInputError(folder, "", "is a file, expected a folder (new or existing)")
    targets = [folder / name for name in starter_file_names()]
    if not force:
        for path in targets:
            if path.exists():
                raise AtlasInputError(
                    path,
                    "",
                    "already exists, expected a folder without the starter's files "
                    f"({', '.join(starter_file_names())}); choose another folder, or overwrite "
                    "them with atlas init --force (force=True in Python)",
                )
    folder.mkdir(parents=True, exist_ok=True)
    template = tomllib.loads((STARTER_FILES / "study.toml").read_text(encoding="utf-8"))
    year = template["study"]["year"]  # the load's axis is the study's
    written = []
    for name in STATIC_FILES:
        src = STARTER_FILES / name
        written.append(write_atomic(folder / name, partial(shutil.copyfile, src)))
    csv = synthetic_load(year).to_csv(index=False, lineterminator="\n", float_format="%.3f")
    data = gzip.compress(csv.encode("utf-8"), mtime=0)  # no time stamp, no name: same bytes
    written.append(write_atomic(folder / LOAD_FILE, lambda p: p.write_bytes(data)))
    return written
