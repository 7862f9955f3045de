"""The engine of a study: each PS's DER groups, their hourly P-Q sets, the four figures,
the envelopes and the transformer headroom, over every scenario.

>>> from atlas.pipeline import load_inputs  # doctest: +SKIP
>>> from atlas.engine.compute import compute, ps_deviation_polygons
>>> inputs = load_inputs("study.toml")
>>> result = compute(inputs)
>>> result.hourly.head()  # one row per scenario, PS, hour
>>> verts = ps_deviation_polygons(inputs, "2030", "SUD")  # (8760, n_vertices, 2)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from atlas._compat import TEXT
from atlas.conventions import CAPACITY_TECHNOLOGIES, FIGURES, TECHNOLOGIES
from atlas.engine.capability import (
    CapabilityParams,
    DerSpec,
    GroupKind,
    battery_groups,
    bess_energy,
)
from atlas.engine.envelope import (
    DerGroup,
    aggregate_figures,
    cloud_hulls,
    hours_over_rating,
    ps_envelope_vertices,
    ps_flexibility,
    yearly_envelope_pruned,
)
from atlas.geo.join import GeoStage
from atlas.inputs.study import Study
from atlas.inputs.timeaxis import N_HOURS
from atlas.timeseries.pv import sun_above_horizon


@dataclass
class StudyInputs:
    """Everything a study reads, validated and on the study's hourly axis.

    Attributes
    ----------
    study : Study
    axis : pandas.DatetimeIndex
        8760 UTC stamps.
    substations : pandas.DataFrame
        ps_id, name, lat, lon, rated_mva, and the tap changers' band counted,
        oltc_dv_down, oltc_dv_up (NaN where none). [deg, MVA, p.u.]
    capacity : pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw.
    load : numpy.ndarray
        (n_ps, 8760, 2) measured PS point (P, Q), load convention. [MW, Mvar]
    profiles : dict of numpy.ndarray
        Per-unit profile of pv, chp, hydro, biomass: (8760,) shared by every PS, or
        (n_ps, 8760) one per PS site (PV from a TMY). [-]
    ev_mw : dict of numpy.ndarray
        ``{scenario: (n_ps, 4, 8760)}`` EV charging power by location. [MW]
    parameters : dict
        ``{(technology, level): CapabilityParams}`` after study-file overrides.
    v2g_locations : frozenset of str
    v2g_share : dict of numpy.ndarray
        ``{scenario: (n_ps, 4)}`` share of each PS and location's charging that is V2G:
        1 or 0 by location, unless the register's charging points say otherwise. [-]
    geo : GeoStage
        Service areas and the DER join (see :mod:`atlas.geo.join`).
    timings_s : dict
        Seconds spent reading. [s]
    warnings : list of Finding
        Plausibility findings the study accepts (:mod:`atlas.inputs.plausibility`).
    what_if : dict or None
        ``{"scenario", "base", "additions"}`` of a what-if scenario
        (:func:`atlas.batch.with_what_if`).
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
    v2g_share: dict[str, np.ndarray]
    geo: GeoStage | None
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    what_if: dict | None = None

    @property
    def ps_ids(self) -> list[str]:
        return list(self.substations["ps_id"])

    @cached_property
    def ps_positions(self) -> dict[str, int]:
        """``{ps_id: its row in substations, load and the per-PS profiles}``."""
        return {p: k for k, p in enumerate(self.substations["ps_id"])}

    def ps_index(self, ps_id: str) -> int:
        try:
            return self.ps_positions[ps_id]
        except KeyError:
            raise KeyError(f"unknown ps_id {ps_id!r}") from None

    @cached_property
    def capacity_groups(self) -> dict[tuple[str, str], list[tuple[str, str, float, float]]]:
        """``{(scenario, ps_id): [(technology, level, capacity_mw, energy_mwh), ...]}``,
        the rows with capacity_mw > 0 in table order, found once (looking them up per PS
        in the whole table grows with the square of the PS count); energy NaN but for
        batteries. [MW], [MWh]"""
        cap = self.capacity[self.capacity["capacity_mw"] > 0]
        energy = (
            cap["energy_mwh"].to_numpy(dtype=float)
            if "energy_mwh" in cap.columns
            else np.full(len(cap), np.nan)
        )
        out: dict[tuple[str, str], list[tuple[str, str, float, float]]] = {}
        for s, p, tech, level, mw, mwh in zip(
            cap["scenario"], cap["ps_id"], cap["technology"], cap["level"],
            cap["capacity_mw"], energy, strict=True,
        ):  # fmt: skip
            out.setdefault((s, p), []).append((tech, level, float(mw), float(mwh)))
        return out


def der_specs(inputs: StudyInputs, scenario: str, ps_id: str) -> list[DerSpec]:
    """The DER groups under one PS in one scenario, as inputs to build their sets from.

    Rows of one technology whose parameter sets are scale copies (e.g. MV and LV with the
    same grid-code limits) form one group whose Sn is the sum of theirs; EV chargers form at
    most two groups, V2G (a disc) and charge-only (a segment), each with the summed charging
    power of its locations. Sums of such sets are exact (METHOD.md, aggregation). Groups with
    no capacity or no charging are left out.
    """
    k = inputs.ps_index(ps_id)
    rows = inputs.capacity_groups.get((scenario, ps_id), [])
    specs: list[DerSpec] = []
    for tech in CAPACITY_TECHNOLOGIES:
        merged: dict[tuple, tuple[CapabilityParams, float]] = {}
        for level, sn in ((lv, mw) for t, lv, mw, _ in rows if t == tech):
            params = inputs.parameters[(tech, level)]
            first, total = merged.get(params.shape_key(), (params, 0.0))
            merged[params.shape_key()] = (first, total + float(sn))
        for params, sn in merged.values():
            profile = inputs.profiles[tech]
            series = profile[k] if profile.ndim == 2 else profile  # one per PS, or shared
            specs.append(DerSpec(tech, f"{tech}/{params.level}", "box_disc", series, sn, params))
    ev = inputs.ev_mw[scenario][k]  # (n_locations, n_hours)
    share = inputs.v2g_share[scenario][k]  # (n_locations,)
    ev_kinds: tuple[tuple[np.ndarray, GroupKind], ...] = (
        (share, "ev_v2g"),
        (1.0 - share, "ev_charge"),
    )
    for weight, kind in ev_kinds:
        d = weight @ ev
        if np.any(d > 0):
            specs.append(DerSpec("ev", kind.replace("_", "/"), kind, d))
    specs += storage_specs(inputs, k, [(t, mw, mwh) for t, _, mw, mwh in rows])
    oltc = inputs.study.model.oltc
    subs = inputs.substations
    band = (
        (float(subs["oltc_dv_down"].iat[k]), float(subs["oltc_dv_up"].iat[k]))
        if "oltc_dv_down" in subs.columns  # a table made by hand may have none
        else (np.nan, np.nan)
    )
    if not np.isnan(band[0]):  # the PS's band ([oltc] or its substation row, geo.join)
        # gross load: the measured point plus the reference scenario's DER production at
        # its operating points, the same in every scenario (METHOD.md)
        reference = inputs.study.scenarios[0]
        gross_p = inputs.load[k, :, 0] + production(inputs, reference, ps_id)
        specs.append(
            DerSpec(
                "oltc", "oltc", "oltc", gross_p, q_series=inputs.load[k, :, 1].copy(),
                oltc=(band[0], band[1], oltc.kp, oltc.kq),
            )
        )  # fmt: skip
    return specs


def production(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """A PS's DER production at the operating points in one scenario: the generators'
    p0(t) = profile(t) x Sn and the batteries' schedules (EV charging is in the measured
    load, METHOD.md). [MW], generator convention, (8760,)."""
    k = inputs.ps_index(ps_id)
    rows = inputs.capacity_groups.get((scenario, ps_id), [])
    total = np.zeros(N_HOURS)
    for tech, _, mw, _ in rows:
        if tech in CAPACITY_TECHNOLOGIES:
            profile = inputs.profiles[tech]
            total += (profile[k] if profile.ndim == 2 else profile) * mw
    for spec in storage_specs(inputs, k, [(t, mw, mwh) for t, _, mw, mwh in rows]):
        if spec.kind == "bess":
            total += spec.series
    return total


def storage_specs(
    inputs: StudyInputs, k: int, rows: list[tuple[str, float, float]]
) -> list[DerSpec]:
    """The battery and STATCOM groups of the k-th PS (METHOD.md, "Beyond the seed paper").

    Batteries merge only when their energy per MW is equal (:func:`battery_groups`); each
    group follows the study's schedule per unit of its rating from ``e_init`` (the schedule
    was checked when the study was read). STATCOMs add up to one group (their segments do).

    Parameters
    ----------
    inputs : StudyInputs
    k : int
        The PS's position.
    rows : list of (technology, capacity_mw, energy_mwh)
        The PS's rows of one scenario. [MW], [MWh]
    """
    specs: list[DerSpec] = []
    batteries = [(mw, mwh) for t, mw, mwh in rows if t == "bess"]
    if batteries:
        bess = inputs.study.model.profiles.bess
        schedule = inputs.profiles["bess"]
        pu = schedule[k] if schedule.ndim == 2 else schedule
        eta = (bess.eta_charge, bess.eta_discharge)
        for sn, energy_mwh in battery_groups(batteries):
            p0 = pu * sn
            energy = bess_energy(p0, energy_mwh, bess.e_init, *eta)
            specs.append(
                DerSpec(
                    "bess", f"bess/{energy_mwh / sn:g}h", "bess", p0, sn,
                    energy_mwh=energy_mwh, energy=energy[:-1], eta=eta,
                )
            )  # fmt: skip
    statcom = sum(mw for t, mw, _ in rows if t == "statcom")
    if statcom > 0:
        specs.append(DerSpec("statcom", "statcom", "statcom", np.zeros(N_HOURS), statcom))
    return specs


def der_groups(
    inputs: StudyInputs, scenario: str, ps_id: str, with_vertices: bool = True
) -> list[DerGroup]:
    """The DER groups of :func:`der_specs` with their sets over all hours."""
    return [
        DerGroup(s.technology, s.label, s.sets(with_vertices=with_vertices))
        for s in der_specs(inputs, scenario, ps_id)
    ]


def ps_deviation_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly aggregated deviation polygons E(t) of one PS, generator convention.

    Returns
    -------
    numpy.ndarray
        (8760, n_vertices, 2), counter-clockwise (dp, dq) vertices. [MW, Mvar]
        See :func:`atlas.engine.envelope.hourly_polygons` for shapely geometries.
    """
    groups = der_groups(inputs, scenario, ps_id)
    vertices = ps_flexibility(groups, N_HOURS).vertices
    assert vertices is not None  # with_polygons=True
    return vertices


def ps_envelope_polygons(inputs: StudyInputs, scenario: str, ps_id: str) -> np.ndarray:
    """Hourly PS envelopes ``x(t) - E(t)`` in load convention, (8760, n_vertices, 2)."""
    return ps_envelope_vertices(
        inputs.load[inputs.ps_index(ps_id)], ps_deviation_polygons(inputs, scenario, ps_id)
    )


@dataclass
class EngineResult:
    """What a run produces.

    Attributes
    ----------
    hourly : pandas.DataFrame
        One row per scenario, ps_id and hour: scenario, ps_id (str), time (UTC), p_mw,
        q_mvar (PS point, load convention), the four figures, ``{figure}_{tech}``, ``bess_soe_mwh`` and
        ``over_rating`` (bool: a point of the hour's PS envelope beyond ``rated_mva``) and
        ``daylight`` (bool: the sun above the horizon at the PS site mid-hour).
    envelopes : pandas.DataFrame
        scenario, ps_id, kind (``year``, ``cloud_convex``, ``cloud_concave``), geometry
        (shapely, P-Q plane, x = P [MW], y = Q [Mvar], load convention).
    timings_s : dict
        Seconds per stage. [s]
    """

    hourly: pd.DataFrame
    envelopes: pd.DataFrame
    timings_s: dict[str, float]


#: Output columns of the hourly figures, in table order.
FIGURE_COLUMNS: list[str] = list(FIGURES) + [
    f"{fig}_{tech}" for fig in FIGURES for tech in TECHNOLOGIES
]
#: The hourly values of a PS computed with its figures, in table order: the figures, then
#: the batteries' state of energy at the start of the hour (summed over the PS's batteries,
#: 0 without one). [MW, Mvar, MWh]
VALUE_COLUMNS: list[str] = [*FIGURE_COLUMNS, "bess_soe_mwh"]


def compute_ps(
    inputs: StudyInputs, k: int
) -> tuple[np.ndarray, list[tuple[str, str, str, BaseGeometry]], np.ndarray]:
    """Figures, envelopes and transformer headroom of the k-th PS in every scenario.

    Returns
    -------
    values : numpy.ndarray
        (n_scenarios, len(VALUE_COLUMNS), 8760), generator convention. [MW, Mvar, MWh]
    envelopes : list of (scenario, ps_id, kind, geometry)
        The yearly envelope per scenario and the as-is cloud hulls (first scenario).
    over_rating : numpy.ndarray
        (n_scenarios, 8760) bool: a point of the hour's PS envelope beyond the PS's
        ``rated_mva`` (:func:`atlas.engine.envelope.hours_over_rating`; False where no rating).
    """
    # imported here: this change may touch only this function's body (move it to the top)
    from atlas.engine.envelope import SupportBound

    ps_id = inputs.ps_ids[k]
    point = inputs.load[k]
    rated = float(inputs.substations["rated_mva"].iloc[k])
    scenarios = inputs.study.scenarios
    values = np.empty((len(scenarios), len(VALUE_COLUMNS), N_HOURS))
    over = np.zeros((len(scenarios), N_HOURS), dtype=bool)
    envelopes = []
    for s, scenario in enumerate(scenarios):
        specs = der_specs(inputs, scenario, ps_id)
        sets = [spec.sets(with_vertices=False) for spec in specs]
        groups = [
            DerGroup(spec.technology, spec.label, st) for spec, st in zip(specs, sets, strict=True)
        ]
        figures, by_tech = aggregate_figures(groups, N_HOURS)
        merged = figures | by_tech
        for c, name in enumerate(FIGURE_COLUMNS):
            values[s, c] = merged[name]
        values[s, -1] = sum(
            (spec.energy for spec in specs if spec.energy is not None), np.zeros(N_HOURS)
        )
        # one support bound screens the hours for both the yearly hull and the rating check
        bound = SupportBound(point, specs, sets) if specs else None
        year = yearly_envelope_pruned(point, specs, sets, bound=bound)
        envelopes.append((scenario, ps_id, "year", year))
        over[s] = hours_over_rating(point, specs, sets, rated, bound=bound)
    for kind, geom in cloud_hulls(point, inputs.study.model.envelope.concave_ratio).items():
        envelopes.append((scenarios[0], ps_id, kind, geom))
    return values, envelopes, over


def chunk_daylight(inputs: StudyInputs) -> np.ndarray:
    """(n_ps, 8760) bool: the sun above the horizon mid-hour at each PS site."""
    subs = inputs.substations
    return sun_above_horizon(inputs.axis, subs["lat"].to_numpy(), subs["lon"].to_numpy())


def chunk_hourly(
    inputs: StudyInputs,
    values: np.ndarray,
    over: np.ndarray,
    daylight: np.ndarray | None = None,
) -> pd.DataFrame:
    """The hourly table of a chunk: one row per scenario, PS and hour.

    Parameters
    ----------
    values : numpy.ndarray
        (n_scenarios, len(VALUE_COLUMNS), n_ps, 8760). [MW, Mvar, MWh]
    over : numpy.ndarray
        (n_scenarios, n_ps, 8760) bool.
    daylight : numpy.ndarray, optional
        (n_ps, 8760) bool, :func:`chunk_daylight` (computed if not given).

    See Also
    --------
    hourly_part_tables : the same rows as Arrow tables, one per scenario.
    """

    scenarios, ps_ids = inputs.study.scenarios, inputs.ps_ids
    n_ps, n_sc = len(ps_ids), len(scenarios)
    if daylight is None:
        daylight = chunk_daylight(inputs)
    return pd.DataFrame(
        {
            # the few distinct ids made text once, then repeated by position
            "scenario": pd.array(scenarios, dtype=TEXT).take(
                np.repeat(np.arange(n_sc), n_ps * N_HOURS)
            ),
            "ps_id": pd.array(ps_ids, dtype=TEXT).take(
                np.tile(np.repeat(np.arange(n_ps), N_HOURS), n_sc)
            ),
            "time": pd.DatetimeIndex(
                np.tile(inputs.axis.tz_convert(None).to_numpy(), n_sc * n_ps)
            ).tz_localize("UTC"),
            "p_mw": np.tile(inputs.load[..., 0].ravel(), n_sc),
            "q_mvar": np.tile(inputs.load[..., 1].ravel(), n_sc),
            **{c: values[:, j].ravel() for j, c in enumerate(VALUE_COLUMNS)},
            "over_rating": over.ravel(),
            "daylight": np.tile(daylight.ravel(), n_sc),
        }
    )


def hourly_part_tables(
    inputs: StudyInputs, values: np.ndarray, over: np.ndarray, daylight: np.ndarray
) -> list:
    """The rows of :func:`chunk_hourly` as one Arrow table per scenario, built from the
    arrays without a DataFrame: what ``pyarrow.Table.from_pandas`` makes of the frame's
    rows of that scenario (the same columns, types, values and pandas metadata, so the same
    Parquet bytes), in a third of the time and without a copy of the figures.

    Parameters
    ----------
    values : numpy.ndarray
        (n_scenarios, len(VALUE_COLUMNS), n_ps, 8760). [MW, Mvar, MWh]
    over : numpy.ndarray
        (n_scenarios, n_ps, 8760) bool.
    daylight : numpy.ndarray
        (n_ps, 8760) bool, :func:`chunk_daylight`.

    Returns
    -------
    list of pyarrow.Table
        One per scenario, in study order.
    """
    import pyarrow as pa

    scenarios, ps_ids = inputs.study.scenarios, inputs.ps_ids
    n_ps = len(ps_ids)
    n_rows = n_ps * N_HOURS
    ids = pa.array(ps_ids, pa.large_string()).take(pa.array(np.repeat(np.arange(n_ps), N_HOURS)))
    stamps = inputs.axis.tz_convert("UTC").as_unit("us").asi8
    time = pa.array(np.tile(stamps, n_ps), pa.timestamp("us", tz="UTC"))
    load = [pa.array(np.ascontiguousarray(inputs.load[..., j]).reshape(n_rows)) for j in (0, 1)]
    day = pa.array(daylight.reshape(n_rows))
    tables = []
    for s, scenario in enumerate(scenarios):
        columns = {
            "scenario": pa.repeat(pa.scalar(scenario, pa.large_string()), n_rows),
            "ps_id": ids,
            "time": time,
            "p_mw": load[0],
            "q_mvar": load[1],
            **{c: pa.array(values[s, j].reshape(n_rows)) for j, c in enumerate(VALUE_COLUMNS)},
            "over_rating": pa.array(over[s].reshape(n_rows)),
            "daylight": day,
        }
        tables.append(pa.table(columns).replace_schema_metadata(_hourly_pandas_metadata()))
    return tables


@lru_cache(maxsize=1)
def _hourly_pandas_metadata() -> dict:
    """The pandas metadata ``Table.from_pandas`` gives a chunk's hourly rows (the same for
    any number of rows: the index is not kept)."""
    import pyarrow as pa

    empty = pd.DataFrame(
        {
            "scenario": pd.array([], dtype=TEXT),
            "ps_id": pd.array([], dtype=TEXT),
            "time": pd.DatetimeIndex([], dtype="datetime64[us, UTC]"),
            **{c: np.empty(0) for c in ["p_mw", "q_mvar", *VALUE_COLUMNS]},
            "over_rating": np.empty(0, dtype=bool),
            "daylight": np.empty(0, dtype=bool),
        }
    )
    return dict(pa.Table.from_pandas(empty, preserve_index=False).schema.metadata)


def compute_chunk(inputs: StudyInputs) -> tuple[np.ndarray, list[tuple], np.ndarray]:
    """Figures, envelopes and headroom of every PS of ``inputs`` (one linear-algebra thread:
    the matrices are tiny, a second thread only spins).

    Returns
    -------
    values : numpy.ndarray
        (n_scenarios, len(VALUE_COLUMNS), n_ps, 8760). [MW, Mvar, MWh]
    envelopes : list of (scenario, ps_id, kind, geometry)
    over : numpy.ndarray
        (n_scenarios, n_ps, 8760) bool.
    """
    from threadpoolctl import threadpool_limits

    n_ps, n_sc = len(inputs.ps_ids), len(inputs.study.scenarios)
    values = np.empty((n_sc, len(VALUE_COLUMNS), n_ps, N_HOURS))
    over = np.zeros((n_sc, n_ps, N_HOURS), dtype=bool)
    envelopes: list[tuple] = []
    with threadpool_limits(limits=1):
        for k in range(n_ps):
            ps_values, ps_envelopes, ps_over = compute_ps(inputs, k)
            values[:, :, k, :] = ps_values
            over[:, k, :] = ps_over
            envelopes += ps_envelopes
    return values, envelopes, over


def compute(inputs: StudyInputs) -> EngineResult:
    """Compute the hourly flexibility and the envelopes of every PS of ``inputs``, in this
    process (a notebook's small study; :func:`atlas.pipeline.run_study` runs a study in
    chunks, on worker processes or a cluster, with the same results).

    Returns
    -------
    EngineResult
    """
    t0 = time.perf_counter()
    values, envelopes, over = compute_chunk(inputs)
    t1 = time.perf_counter()
    hourly = chunk_hourly(inputs, values, over)
    env = pd.DataFrame(envelopes, columns=["scenario", "ps_id", "kind", "geometry"])
    timings = dict(inputs.timings_s, compute=t1 - t0, table=time.perf_counter() - t1)
    return EngineResult(hourly=hourly, envelopes=env, timings_s=timings)
