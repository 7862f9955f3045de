"""One study, end to end: the Python API behind ``atlas run``.

>>> from atlas.pipeline import load_inputs, run          # doctest: +SKIP
>>> inputs = load_inputs("study.toml")
>>> result = run(inputs)
>>> result.hourly.head()                                   # one row per scenario, PS, hour
>>> verts = ps_deviation_polygons(inputs, "2030", "SUD")   # (8760, n_vertices, 2)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from atlas.capability import CapabilityParams, box_disc_set, default_parameters, ev_set, override_parameters
from atlas.conventions import CAPACITY_TECHNOLOGIES, EV_LOCATIONS, FIGURES, TECHNOLOGIES
from atlas.envelope import DerGroup, cloud_hulls, ps_envelope_vertices, ps_flexibility, yearly_envelope
from atlas.inputs import read_capacity, read_ev, read_load, read_profile, read_substations
from atlas.profiles import default_profile, pv_clearsky
from atlas.study import FileProfile, Study, load_study
from atlas.timeaxis import N_HOURS, hourly_axis


@dataclass
class StudyInputs:
    """Everything a study reads, validated and on the study's hourly axis.

    Attributes
    ----------
    study : Study
    axis : pandas.DatetimeIndex
        8760 UTC stamps.
    substations : pandas.DataFrame
        ps_id, name, lat, lon, rated_mva.
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw.
    load : numpy.ndarray
        (n_ps, 8760, 2) measured PS point (P, Q), load convention. [MW, Mvar]
    profiles : dict of numpy.ndarray
        Per-unit profile (8760,) of pv, chp, hydro, biomass. [-]
    ev_mw : dict of numpy.ndarray
        ``{scenario: (n_ps, 4, 8760)}`` EV charging power by location. [MW]
    parameters : dict
        ``{(technology, level): CapabilityParams}`` after study-file overrides.
    v2g_locations : frozenset of str
    timings_s : dict
        Seconds spent reading. [s]
    """

    study: Study
    axis: pd.DatetimeIndex
    substations: pd.DataFrame
    capacity: pd.DataFrame
    load: np.ndarray
    profiles: dict[str, np.ndarray]
    ev_mw: dict[str, np.ndarray]
    parameters: dict[tuple[str, str], CapabilityParams]
    v2g_locations: frozenset[str]
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def ps_ids(self) -> list[str]:
        return list(self.substations["ps_id"])

    def ps_index(self, ps_id: str) -> int:
        try:
            return self.ps_ids.index(ps_id)
        except ValueError:
            raise KeyError(f"unknown ps_id {ps_id!r}") from None


def load_inputs(study: Study | str | Path) -> StudyInputs:
    """Read and check every input of a study.

    Parameters
    ----------
    study : Study or path
        A validated study or the path of its TOML file.

    Returns
    -------
    StudyInputs

    Raises
    ------
    AtlasInputError
        On the first problem found, naming the file, row or key.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    t0 = time.perf_counter()
    m = study.model
    files = study.input_files()
    axis = hourly_axis(study.year)
    substations = read_substations(files["inputs.substations"])
    ps_ids = list(substations["ps_id"])
    capacity = read_capacity(files["inputs.capacity"], study.scenarios, ps_ids)
    load = read_load(files["inputs.load"], study.year, ps_ids, m.inputs.load_year)
    profiles = {}
    for tech in CAPACITY_TECHNOLOGIES:
        spec = getattr(m.profiles, tech)
        if isinstance(spec, FileProfile):
            profiles[tech] = read_profile(files[f"profiles.{tech}.file"])
        elif tech == "pv":
            profiles[tech] = pv_clearsky(
                axis,
                float(substations["lat"].mean()),
                float(substations["lon"].mean()),
                tilt_deg=spec.tilt_deg,
                azimuth_deg=spec.azimuth_deg,
                system_losses=spec.system_losses,
                dc_ac_ratio=spec.dc_ac_ratio,
            )
        else:
            profiles[tech] = default_profile(tech, axis, study.timezone)
    if isinstance(m.profiles.ev, FileProfile):
        ev_mw = read_ev(files["profiles.ev.file"], study.scenarios, ps_ids, study.year)
    else:
        ev_mw = {s: np.zeros((len(ps_ids), len(EV_LOCATIONS), N_HOURS)) for s in study.scenarios}
    parameters = override_parameters(default_parameters(), study.capability_overrides(), study.path)
    return StudyInputs(
        study=study,
        axis=axis,
        substations=substations,
        capacity=capacity,
        load=load,
        profiles=profiles,
        ev_mw=ev_mw,
        parameters=parameters,
        v2g_locations=frozenset(m.ev.v2g_locations),
        timings_s={"read": time.perf_counter() - t0},
    )


def der_groups(inputs: StudyInputs, scenario: str, ps_id: str, with_vertices: bool = True) -> list[DerGroup]:
    """The DER groups under one PS in one scenario, with their hourly deviation sets.

    Rows of one technology whose parameter sets are scale copies (e.g. MV and LV with the
    same grid-code limits) form one group whose Sn is the sum of theirs; EV chargers form at
    most two groups, V2G (a disc) and charge-only (a segment), each with the summed charging
    power of its locations. Sums of such sets are exact (METHOD.md, aggregation).
    """
    k = inputs.ps_index(ps_id)
    cap = inputs.capacity
    rows = cap[(cap["scenario"] == scenario) & (cap["ps_id"] == ps_id) & (cap["capacity_mw"] > 0)]
    groups: list[DerGroup] = []
    for tech in CAPACITY_TECHNOLOGIES:
        merged: dict[tuple, tuple[CapabilityParams, float]] = {}
        for level, sn in zip(rows.loc[rows["technology"] == tech, "level"], rows.loc[rows["technology"] == tech, "capacity_mw"]):
            params = inputs.parameters[(tech, level)]
            first, total = merged.get(params.shape_key(), (params, 0.0))
            merged[params.shape_key()] = (first, total + float(sn))
        for params, sn in merged.values():
            sets = box_disc_set(params, sn, inputs.profiles[tech], with_vertices=with_vertices)
            groups.append(DerGroup(tech, f"{tech}/{params.level}", sets))
    ev = inputs.ev_mw[scenario][k]  # (n_locations, n_hours)
    v2g = np.array([loc in inputs.v2g_locations for loc in EV_LOCATIONS])
    for flag, label in ((True, "ev/v2g"), (False, "ev/charge")):
        d = ev[v2g == flag].sum(axis=0)
        if np.any(d > 0):
            groups.append(DerGroup("ev", label, ev_set(d, v2g=flag, with_vertices=with_vertices)))
    return groups


def ps_deviation_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly aggregated deviation polygons E(t) of one PS, generator convention.

    Returns
    -------
    numpy.ndarray
        (8760, n_vertices, 2), counter-clockwise (dp, dq) vertices. [MW, Mvar]
        See :func:`atlas.envelope.hourly_polygons` for shapely geometries.
    """
    groups = der_groups(inputs, scenario, ps_id)
    return ps_flexibility(groups, N_HOURS).vertices


def ps_envelope_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly PS envelopes ``x(t) - E(t)`` in load convention, (8760, n_vertices, 2)."""
    return ps_envelope_vertices(inputs.load[inputs.ps_index(ps_id)], ps_deviation_polygons(inputs, scenario, ps_id))


@dataclass
class RunResult:
    """What a run produces.

    Attributes
    ----------
    hourly : pandas.DataFrame
        One row per scenario, ps_id and hour: scenario, ps_id (str), time (UTC), p_mw,
        q_mvar (PS point, load convention), the four figures and ``{figure}_{tech}``.
    envelopes : pandas.DataFrame
        scenario, ps_id, kind (``year``, ``cloud_convex``, ``cloud_concave``), geometry
        (shapely, P-Q plane, x = P [MW], y = Q [Mvar], load convention).
    timings_s : dict
        Seconds per stage. [s]
    """

    hourly: pd.DataFrame
    envelopes: pd.DataFrame
    timings_s: dict[str, float]


def run(inputs: StudyInputs, progress: bool = False) -> RunResult:
    """Compute the hourly flexibility and the envelopes of every PS and scenario.

    Parameters
    ----------
    inputs : StudyInputs
    progress : bool, default False
        Show a progress bar over substations (after the first second).

    Returns
    -------
    RunResult
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    scenarios = inputs.study.scenarios
    ps_ids = inputs.ps_ids
    n_ps, n_sc = len(ps_ids), len(scenarios)
    columns = list(FIGURES) + [f"{fig}_{tech}" for fig in FIGURES for tech in TECHNOLOGIES]
    values = {c: np.empty((n_sc, n_ps, N_HOURS)) for c in columns}
    envelopes: list[tuple[str, str, str, BaseGeometry]] = []
    concave_ratio = inputs.study.model.envelope.concave_ratio
    bar = tqdm(ps_ids, desc="substations", unit="PS", disable=not progress, delay=1.0)
    for k, ps_id in enumerate(bar):
        point = inputs.load[k]
        for s, scenario in enumerate(scenarios):
            flex = ps_flexibility(der_groups(inputs, scenario, ps_id), N_HOURS)
            for c in FIGURES:
                values[c][s, k] = flex.figures[c]
            for c, v in flex.by_technology.items():
                values[c][s, k] = v
            envelopes.append((scenario, ps_id, "year", yearly_envelope(point, flex.vertices)))
        for kind, geom in cloud_hulls(point, concave_ratio).items():
            envelopes.append((scenarios[0], ps_id, kind, geom))
    t1 = time.perf_counter()
    hourly = pd.DataFrame(
        {
            "scenario": np.repeat(np.array(scenarios, dtype=object), n_ps * N_HOURS),
            "ps_id": np.tile(np.repeat(np.array(ps_ids, dtype=object), N_HOURS), n_sc),
            "time": pd.DatetimeIndex(np.tile(inputs.axis.tz_convert(None).to_numpy(), n_sc * n_ps)).tz_localize("UTC"),
            "p_mw": np.tile(inputs.load[..., 0].ravel(), n_sc),
            "q_mvar": np.tile(inputs.load[..., 1].ravel(), n_sc),
            **{c: v.ravel() for c, v in values.items()},
        }
    )
    hourly["scenario"] = hourly["scenario"].astype(str)
    hourly["ps_id"] = hourly["ps_id"].astype(str)
    env = pd.DataFrame(envelopes, columns=["scenario", "ps_id", "kind", "geometry"])
    timings = dict(inputs.timings_s, compute=t1 - t0, table=time.perf_counter() - t1)
    return RunResult(hourly=hourly, envelopes=env, timings_s=timings)


def write_run(
    study: Study | str | Path,
    out_dir: str | Path,
    formats: tuple[str, ...] = ("parquet",),
    progress: bool = False,
) -> list[Path]:
    """Run a study and write its outputs under ``out_dir``, each file replaced atomically.

    Writes ``flexibility_hourly.parquet`` (and ``.csv`` with ``"csv"`` in ``formats``),
    ``envelopes.csv`` and ``run.json``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from atlas.outputs import manifest, write_envelopes, write_hourly, write_manifest

    inputs = load_inputs(study)
    result = run(inputs, progress=progress)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    written = write_hourly(result.hourly, out_dir, tuple({"parquet", *formats}))
    written.append(write_envelopes(result.envelopes, out_dir))
    timings = dict(result.timings_s, write=time.perf_counter() - t0)
    data = manifest(inputs.study, inputs.study.input_files(), inputs.parameters, timings, written)
    written.append(write_manifest(data, out_dir))
    return written
