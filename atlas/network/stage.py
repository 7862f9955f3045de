"""The network-aware stage of a study: its ``[network]`` grids, the register's DERs placed on
their buses, and every hour's network-aware figures of each PS that has a network.

For each PS with a network (docs/network.md, METHOD.md "Network-aware figures"):

1. **The network** (:func:`read_network`): a pandapower JSON file, or a SimBench grid code
   (:mod:`atlas.network.simbench`). The PS is its HV/MV transformer(s); the bus on their MV
   side is the PS's busbar. The network's own static generators are taken out: the study's
   register says which DERs there are.
2. **Placement** (:func:`place_ders`): each register DER of the PS on the bus its ``bus``
   column names, else on the nearest bus of the MV network (the distance reported); one
   farther than ``max_bus_distance_m`` is not placed, and listed.
3. **Resources** (:func:`ps_resources`): the engine's DER groups of the PS in a scenario
   (:func:`atlas.engine.compute.der_specs`), each split over the buses of its placed DERs
   by their capacity. The groups' sets are homogeneous in their rating (a group's set at a
   share of its capacity is that share times its set), so the resources of one PS add up to
   exactly the network-blind figures' groups. A group with no placed DER (a capacity added
   by growth or a what-if where the register has none of its kind) stands at the busbar,
   said in the PS's notes. The tap changers are the network's transformer, not a resource.
4. **Operating point** of every hour: the loads of a SimBench grid at its own profiles,
   those of a network file scaled by one factor per hour so that they equal the PS's gross
   load (the measured exchange plus the reference scenario's DER production at its
   operating point, the gross load of METHOD.md's tap changers); the resources at their
   operating points (the generators' profiles, the batteries' schedules).
5. **Figures**: the linearised optimisation of every hour and direction, corrected by AC
   power flows where a limit binds (:func:`atlas.network.dispatch.corrected_figures`), and
   the AC power flow of the optimal dispatch at ``check_hours`` sampled hours
   (:func:`atlas.network.check.sampled_checks`).

Needs the ``network`` extra (``pip install ".[network]"``: pandapower, simbench).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from atlas.errors import AtlasInputError

#: The four directions (:data:`atlas.network.dispatch.DIRECTIONS`) by figure name
#: (:data:`atlas.conventions.FIGURES`), in the order of the tables.
NET_FIGURES = {
    "p_up_mw": "p_up",
    "p_down_mw": "p_down",
    "q_up_mvar": "q_up",
    "q_down_mvar": "q_down",
}

#: Columns of ``network_hourly.parquet``: per figure the network-aware figure
#: ``{figure}_net`` [MW] or [Mvar], the linearised change in network losses it causes
#: ``{figure}_dloss_mw`` [MW], and the binding limit ``{figure}_binding`` (``""`` where the
#: resources' own sets bind).
NETWORK_HOURLY_COLUMNS = (
    "scenario",
    "ps_id",
    "time",
    *(f"{f}_net" for f in NET_FIGURES),
    *(f"{f}_dloss_mw" for f in NET_FIGURES),
    *(f"{f}_binding" for f in NET_FIGURES),
)

#: Columns of ``network_placement.csv``: every register DER of a PS with a network.
PLACEMENT_COLUMNS = (
    "ps_id", "der_id", "scenario", "technology", "level", "capacity_mw", "bus",
    "distance_m", "placed",
)  # fmt: skip


def require_network_extra(what: str) -> None:
    """Raise a clear error when pandapower, simbench or numba is missing."""
    try:
        import numba  # noqa: F401
        import pandapower  # noqa: F401
    except ImportError:
        raise AtlasInputError(
            None,
            what,
            'needs the network extra (pandapower, SimBench, numba), expected it installed: pip install ".[network]"',
        ) from None


@dataclass
class PsNetwork:
    """One PS's MV network, ready for the year.

    Attributes
    ----------
    ps_id : str
    source : str
        ``"file PATH"`` or ``"simbench CODE"``.
    net : pandapower.pandapowerNet
        Its static generators out of service.
    load_p, load_q : numpy.ndarray or None
        (8760, n_load) each load's hourly values (SimBench), or None: the file's loads
        scaled to the PS's gross load. [MW], [Mvar]
    bus_xy : numpy.ndarray
        (n_bus, 2) bus coordinates in the study's metric CRS, NaN where none. [m]
    busbar : int
        The MV bus of the HV/MV transformer(s).
    notes : list of str
    """

    ps_id: str
    source: str
    net: Any
    load_p: np.ndarray | None
    load_q: np.ndarray | None
    bus_xy: np.ndarray
    busbar: int
    notes: list[str] = field(default_factory=list)

    @property
    def mv_buses(self) -> np.ndarray:
        """Index of the buses at the busbar's voltage or below (where DERs connect)."""
        vn = self.net.bus["vn_kv"].to_numpy(dtype=float)
        limit = float(self.net.bus.at[self.busbar, "vn_kv"])
        return self.net.bus.index.to_numpy()[vn <= limit * (1 + 1e-9)]


def _bus_lonlat(net) -> np.ndarray:
    """(n_bus, 2) coordinates of each bus from pandapower's ``geo`` (GeoJSON points) or
    ``bus_geodata`` (x, y); NaN where none."""
    out = np.full((len(net.bus), 2), np.nan)
    if "geo" in net.bus.columns:
        for i, text in enumerate(net.bus["geo"]):
            if isinstance(text, str) and text:
                geom = json.loads(text)
                if geom.get("type") == "Point":
                    out[i] = geom["coordinates"][:2]
    elif "bus_geodata" in net and len(net.bus_geodata):
        xy = net.bus_geodata.reindex(net.bus.index)[["x", "y"]].to_numpy(dtype=float)
        out[:] = xy
    return out


def _busbar(net, where: str) -> int:
    """The MV bus of the HV/MV transformer(s) fed from the external grid."""
    on = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
    if len(on) == 0:
        raise AtlasInputError(
            None, where, "has no external grid in service, expected one at the HV side of the PS"
        )
    trafo = net.trafo[net.trafo["in_service"].astype(bool) & net.trafo["hv_bus"].isin(on["bus"])]
    if len(trafo) == 0:
        raise AtlasInputError(
            None,
            where,
            "has no transformer from the external grid's bus, expected the PS's HV/MV "
            "transformer(s) there",
        )
    lv = sorted(set(int(b) for b in trafo["lv_bus"]))
    return lv[0]


def read_network(ps_id: str, grid, study, crs) -> PsNetwork:
    """Read one PS's network (``grid``: a :class:`atlas.inputs.study.NetworkGrid`).

    Parameters
    ----------
    ps_id : str
    grid : NetworkGrid
    study : Study
        For the file's path.
    crs : pyproj.CRS or str
        The study's metric CRS (the bus coordinates are turned into it).

    Raises
    ------
    AtlasInputError
        A missing or unreadable file, an unknown SimBench code, a network without an
        external grid and HV/MV transformer, voltage-controlled generators (``gen``: the
        batch power flow takes PQ buses fed from the external grid), or no bus coordinates
        where the register needs the nearest bus.
    """
    warnings.filterwarnings("ignore", category=FutureWarning, module="pandapower")
    import pandapower as pp

    where = f"[network.grids.{ps_id}]"
    load_p = load_q = None
    if grid.simbench is not None:
        from atlas.network.simbench import read_simbench

        try:
            year = read_simbench(grid.simbench)
        except ValueError as exc:
            raise AtlasInputError(study.path, f"{where} simbench", str(exc)) from None
        net = year.net
        load_p, load_q = year.load_p, year.load_q
        source = f"simbench {grid.simbench}"
    else:
        path = study.resolve(grid.file)
        if not path.is_file():
            raise AtlasInputError(
                path, "", f"not found, expected the pandapower network of PS {ps_id!r}"
            )
        try:
            net = pp.from_json(str(path))
        except Exception as exc:  # pandapower raises many kinds on a bad file
            raise AtlasInputError(
                path, "", f"not a pandapower network file ({type(exc).__name__}: {exc}), "
                "expected JSON written by pandapower.to_json"
            ) from None  # fmt: skip
        source = f"file {path.name}"
        where = str(path)
    if "gen" in net and len(net.gen) and net.gen["in_service"].astype(bool).any():
        raise AtlasInputError(
            None,
            f"{where} gen",
            f"{int(net.gen['in_service'].sum())} voltage-controlled generators, expected a "
            "network of PQ buses fed from its external grid (static generators, loads)",
        )
    notes = []
    own = int(net.sgen["in_service"].astype(bool).sum()) if len(net.sgen) else 0
    if own:
        notes.append(
            f"the network's {own} static generators taken out: the register's DERs stand "
            "in their place"
        )
        net.sgen["in_service"] = False
    busbar = _busbar(net, where)
    lonlat = _bus_lonlat(net)
    xy = np.full_like(lonlat, np.nan)
    ok = np.isfinite(lonlat).all(axis=1)
    if ok.any():
        from pyproj import Transformer

        move = Transformer.from_crs(grid.crs, crs, always_xy=True)
        xy[ok] = np.column_stack(move.transform(lonlat[ok, 0], lonlat[ok, 1]))
    return PsNetwork(ps_id, source, net, load_p, load_q, xy, busbar, notes)


def place_ders(
    register: pd.DataFrame, network: PsNetwork, max_distance_m: float, path
) -> pd.DataFrame:
    """Place a PS's register DERs on the buses of its network.

    Parameters
    ----------
    register : pandas.DataFrame
        The PS's DERs: der_id, scenario, technology, level, capacity_mw, energy_mwh, x, y
        (in the study's metric CRS) [m], and optionally bus (text: a bus index or a unique
        bus name; ``""`` where not given), row (the register's line or feature number).
    network : PsNetwork
    max_distance_m : float
        DERs farther from every MV bus are not placed. [m]
    path : pathlib.Path
        The register file (for messages).

    Returns
    -------
    pandas.DataFrame
        :data:`PLACEMENT_COLUMNS` plus energy_mwh: ``bus`` the pandapower bus index (-1 where
        not placed), ``distance_m`` (0 where the register gives the bus), ``placed``
        ``"given"``, ``"nearest"`` or ``"far"``.

    Raises
    ------
    AtlasInputError
        A ``bus`` that is no bus of the network at or below the busbar's voltage (naming the
        register's row), or DERs to place by coordinates where the network has none.
    """
    from scipy.spatial import cKDTree

    net = network.net
    mv = network.mv_buses
    n = len(register)
    bus = np.full(n, -1, dtype=np.int64)
    distance = np.zeros(n)
    placed = np.full(n, "given", dtype=object)
    given = (
        register["bus"].fillna("").astype(str).str.strip().to_numpy()
        if "bus" in register.columns
        else np.full(n, "", dtype=object)
    )
    by_index = {str(int(b)): int(b) for b in mv}
    names = net.bus.loc[mv, "name"].astype(str)
    unique_names = names[~names.duplicated(keep=False)]
    by_name = {str(v): int(k) for k, v in unique_names.items()}
    for i in np.flatnonzero(given != ""):
        found = by_index.get(given[i], by_name.get(given[i]))
        if found is None:
            row = register["row"].iat[i] if "row" in register.columns else i + 1
            is_csv = "row" in register.columns and str(path).lower().endswith(".csv")
            raise AtlasInputError(
                path,
                f"bus (der_id {register['der_id'].iat[i]!r})",
                f"{given[i]!r} is no MV bus of the network of PS {network.ps_id!r} ({network.source}), "
                "expected a bus index or a unique bus name of it",
                line=int(row) + 1 if is_csv else None,
            )
        bus[i] = found
    todo = np.flatnonzero(given == "")
    if len(todo):
        with_xy = mv[np.isfinite(network.bus_xy[net.bus.index.get_indexer(mv)]).all(axis=1)]
        if len(with_xy) == 0:
            raise AtlasInputError(
                path,
                "bus",
                f"{len(todo)} DERs of PS {network.ps_id!r} without a bus, and its network "
                f"({network.source}) has no bus coordinates: expected a bus column",
            )
        tree = cKDTree(network.bus_xy[net.bus.index.get_indexer(with_xy)])
        d, k = tree.query(register[["x", "y"]].to_numpy(dtype=float)[todo])
        bus[todo] = with_xy[k]
        distance[todo] = d
        placed[todo] = np.where(d <= max_distance_m, "nearest", "far")
        bus[todo[d > max_distance_m]] = -1
    return pd.DataFrame(
        {
            "ps_id": network.ps_id,
            "der_id": register["der_id"].to_numpy(),
            "scenario": register["scenario"].to_numpy(),
            "technology": register["technology"].to_numpy(),
            "level": register["level"].to_numpy(),
            "capacity_mw": register["capacity_mw"].to_numpy(dtype=float),
            "bus": bus,
            "distance_m": np.round(distance, 3),
            "placed": placed.astype(str),
            "energy_mwh": register["energy_mwh"].to_numpy(dtype=float),
        }
    )


@dataclass
class Resources:
    """A PS's resources on its buses in one scenario.

    Attributes
    ----------
    buses : list of int
        Each resource's pandapower bus.
    labels : list of str
        ``"GROUP @ BUS"``.
    vertices : list of numpy.ndarray
        Each resource's hourly deviation polygons, (8760, n_vertices, 2). [MW], [Mvar]
    p0 : numpy.ndarray
        (8760, n_res) each resource's active power at the operating point, generator
        convention. [MW]
    notes : list of str
        Groups placed at the busbar, the tap changers left out.
    """

    buses: list[int]
    labels: list[str]
    vertices: list[np.ndarray]
    p0: np.ndarray
    notes: list[str]


def _members(spec, rows: pd.DataFrame, parameters) -> pd.Series:
    """Which placed register rows belong to a DER group (:class:`DerSpec`)."""
    tech = rows["technology"]
    if spec.kind == "box_disc":
        key = spec.params.shape_key()
        same = [
            t == spec.technology
            and (t, lv) in parameters
            and parameters[(t, lv)].shape_key() == key
            for t, lv in zip(tech, rows["level"], strict=True)
        ]
        return pd.Series(same, index=rows.index, dtype=bool)
    if spec.kind in ("ev_v2g", "ev_charge"):
        return tech == "ev"
    if spec.kind == "bess":
        hours = spec.energy_mwh / spec.sn_mva
        ratio = rows["energy_mwh"] / rows["capacity_mw"].where(rows["capacity_mw"] > 0)
        return (tech == "bess") & np.isclose(ratio.fillna(-1.0), hours, rtol=1e-9)
    return tech == spec.technology


def ps_resources(
    inputs, scenario: str, ps_id: str, placement: pd.DataFrame, busbar: int
) -> Resources:
    """The PS's DER groups in ``scenario``, split over the buses of their placed DERs.

    Each group (:func:`atlas.engine.compute.der_specs`, the tap changers aside) goes to
    the buses of the register DERs of its kind in the scenario, in proportion to their
    capacity (EV charging points by their charger capacity), or whole to the busbar where
    none is placed. Its share ``w`` of the group's set is ``w`` times the set (the sets are
    homogeneous in the group's rating), so the resources add up to the group.
    """
    from atlas.engine.compute import der_specs

    rows = placement[
        (placement["bus"] >= 0)
        & placement["scenario"].isin(["", scenario])
        & (placement["capacity_mw"] > 0)
    ]
    buses: list[int] = []
    labels: list[str] = []
    vertices: list[np.ndarray] = []
    p0: list[np.ndarray] = []
    notes: list[str] = []
    for spec in der_specs(inputs, scenario, ps_id):
        if spec.kind == "oltc":
            notes.append("the tap changers are the network's transformer, not a resource")
            continue
        members = rows[_members(spec, rows, inputs.parameters).to_numpy()]
        if len(members):
            by_bus = members.groupby("bus", sort=True)["capacity_mw"].sum()
            shares = by_bus / by_bus.sum()
        else:
            shares = pd.Series([1.0], index=[busbar])
            notes.append(
                f"{scenario}: {spec.label} has no placed DER of the register, at the busbar "
                f"(bus {busbar})"
            )
        sets = spec.sets().vertices
        assert sets is not None  # with_vertices
        if spec.kind == "box_disc":
            operating = np.asarray(spec.series, dtype=float) * spec.sn_mva
        elif spec.kind == "bess":
            operating = np.asarray(spec.series, dtype=float)
        else:  # EV charging is in the measured load; a STATCOM idles at 0
            operating = np.zeros(len(spec.series))
        for b, w in shares.items():
            buses.append(int(b))
            labels.append(f"{spec.label} @ {int(b)}")
            vertices.append(sets * float(w))
            p0.append(operating * float(w))
    n_hours = len(inputs.axis)
    return Resources(
        buses, labels, vertices, np.column_stack(p0) if p0 else np.zeros((n_hours, 0)), notes
    )


def load_injections(network: PsNetwork, gross_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each load's hourly power, (8760, n_load) P and Q, load convention. [MW], [Mvar]

    A SimBench grid's loads at their own profiles; a file's scaled by one factor per hour so
    that their active power adds up to ``gross_p`` (the PS's gross load)."""
    net = network.net
    on = net.load["in_service"].to_numpy(dtype=bool) * net.load["scaling"].to_numpy(dtype=float)
    if network.load_p is not None and network.load_q is not None:
        return network.load_p * on, network.load_q * on
    p = net.load["p_mw"].to_numpy(dtype=float) * on
    q = net.load["q_mvar"].to_numpy(dtype=float) * on
    if not p.sum() > 0:
        raise AtlasInputError(
            None,
            f"[network.grids.{network.ps_id}]",
            f"the network's loads add up to {p.sum():g} MW, expected a positive load to scale "
            "to the PS's gross load",
        )
    factor = np.asarray(gross_p, dtype=float) / p.sum()
    return factor[:, None] * p, factor[:, None] * q


@dataclass
class PsNetworkResult:
    """One PS's network-aware year in every scenario."""

    hourly: pd.DataFrame
    summary: dict


def sample_hours(bound: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` hours to check: half among those where a network limit binds (``bound``, bool
    per hour), the rest among all, seeded; sorted and distinct."""
    rng = np.random.default_rng(seed)
    where = np.flatnonzero(bound)
    first: np.ndarray = (
        rng.choice(where, min(n // 2, len(where)), replace=False) if len(where) else where
    )
    rest = np.setdiff1d(np.arange(len(bound)), first)
    second = rng.choice(rest, min(n - len(first), len(rest)), replace=False)
    return np.sort(np.concatenate([np.asarray(first, dtype=int), second.astype(int)]))


def ps_network_year(
    inputs, network: PsNetwork, placement: pd.DataFrame, settings
) -> PsNetworkResult:
    """The network-aware figures of one PS in every scenario (the module's steps 3-5).

    Parameters
    ----------
    inputs : StudyInputs
        The engine's inputs of this PS (a chunk of one PS).
    network : PsNetwork
    placement : pandas.DataFrame
        :func:`place_ders` of this PS.
    settings : NetworkSection
        ``v_min``, ``v_max``, ``rounds``, ``check_hours``.
    """
    import pandapower as pp

    from atlas.engine.compute import production
    from atlas.network.dispatch import corrected_figures
    from atlas.network.linearise import batch_state, linearise

    ps_id = network.ps_id
    net = network.net
    k = inputs.ps_index(ps_id)
    scenarios = inputs.study.scenarios
    gross = inputs.load[k, :, 0] + production(inputs, scenarios[0], ps_id)
    load_p, load_q = load_injections(network, gross)
    frames = []
    summary: dict = {
        "source": network.source,
        "buses": len(net.bus),
        "busbar": network.busbar,
        "notes": list(network.notes),
        "placed": placement["placed"].value_counts().reindex(["given", "nearest", "far"], fill_value=0).astype(int).to_dict(),
        "largest_distance_m": float(placement["distance_m"].max()) if len(placement) else 0.0,
        "scenarios": {},
    }  # fmt: skip
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    lookup = net._pd2ppc_lookups["bus"]
    base = float(ppc["baseMVA"])
    n_hours = len(inputs.axis)
    loads = -(load_p + 1j * load_q).T / base
    for s, scenario in enumerate(scenarios):
        t0 = time.perf_counter()
        res = ps_resources(inputs, scenario, ps_id, placement, network.busbar)
        s_hours = np.zeros((len(ppc["V"]), n_hours), dtype=complex)
        np.add.at(s_hours, lookup[net.load.bus.to_numpy()], loads)
        np.add.at(s_hours, lookup[np.asarray(res.buses, dtype=int)], res.p0.T / base)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lin = linearise(net, res.buses, settings.v_min, settings.v_max, s_hours=s_hours)
            state = batch_state(net, res.buses, s_hours)
            result = corrected_figures(res.vertices, lin, state, rounds=settings.rounds)
        t_opt = time.perf_counter() - t0
        frame = {"scenario": scenario, "ps_id": ps_id, "time": inputs.axis}
        for f, d in NET_FIGURES.items():
            frame[f"{f}_net"] = result.figure[d]
        for f, d in NET_FIGURES.items():
            frame[f"{f}_dloss_mw"] = result.loss_change[d]
        for f, d in NET_FIGURES.items():
            frame[f"{f}_binding"] = result.binding[d].astype(str)
        frames.append(pd.DataFrame(frame))
        checks = None
        if settings.check_hours:
            bound = np.any([result.binding[d] != "" for d in NET_FIGURES.values()], axis=0)
            hours = sample_hours(bound, settings.check_hours, seed=s)
            t1 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                checks = _ac_checks(net, res, load_p, load_q, result.dispatch, hours, settings)
            checks["seconds"] = round(time.perf_counter() - t1, 3)
        summary["notes"] += [n for n in res.notes if n not in summary["notes"]]
        summary["scenarios"][scenario] = {
            "resources": len(res.buses),
            "hours_bound": {
                f: int((result.binding[d] != "").sum()) for f, d in NET_FIGURES.items()
            },
            "mean_net": {
                f: round(float(result.figure[d].mean()), 6) for f, d in NET_FIGURES.items()
            },
            "mean_blind": {
                f: round(float(result.blind[d].mean()), 6) for f, d in NET_FIGURES.items()
            },
            "optimise_s": round(t_opt, 3),
            "ac_checks": checks,
        }
    return PsNetworkResult(pd.concat(frames, ignore_index=True), summary)


def _ac_checks(net, res: Resources, load_p, load_q, dispatch, hours, settings) -> dict:
    """:func:`atlas.network.check.sampled_checks` on a copy of the network whose loads and
    resources are set to each sampled hour's operating point."""
    import copy

    import pandapower as pp

    from atlas.network.check import sampled_checks

    net = copy.deepcopy(net)
    net.load["scaling"] = 1.0
    net.load["in_service"] = True  # their service and scaling are in load_p, load_q
    placed = pp.create_sgens(net, res.buses, p_mw=np.zeros(len(res.buses)))

    def at_hour(h: int) -> None:
        net.load["p_mw"] = load_p[h]
        net.load["q_mvar"] = load_q[h]
        net.sgen.loc[placed, "p_mw"] = res.p0[h]

    return sampled_checks(net, at_hour, res.buses, dispatch, hours, settings.v_min, settings.v_max)


def network_registers(geo, ps_ids: list[str]) -> dict[str, pd.DataFrame]:
    """The register's DERs of each of ``ps_ids`` with their metric coordinates (x, y) and
    register row, for :func:`place_ders` (taken before the geodata stage is let go)."""
    reg = geo.register
    out: dict[str, pd.DataFrame] = {}
    if reg is None:
        return {p: pd.DataFrame(columns=["der_id", "scenario", "technology", "level", "capacity_mw", "energy_mwh", "x", "y"]) for p in ps_ids}  # fmt: skip
    keep = reg["ps_id"].isin(set(ps_ids)).to_numpy()
    sub = reg[keep]
    cols = ["der_id", "scenario", "technology", "level", "capacity_mw", "energy_mwh", "ps_id"]
    cols += ["bus"] if "bus" in sub.columns else []
    frame = pd.DataFrame(sub[cols]).assign(
        x=sub.geometry.x.to_numpy(), y=sub.geometry.y.to_numpy(), row=np.flatnonzero(keep) + 1
    )
    for p in ps_ids:
        out[p] = frame[frame["ps_id"] == p].reset_index(drop=True)
    return out


def ps_network_task(plan, ps_id: str, grid, register: pd.DataFrame, crs) -> tuple:
    """One PS's network-aware stage, in a worker or here: ``plan`` holds that PS at least
    (:meth:`atlas.batch.StudyPlan.subset`). Returns ``(hourly, placement, summary)``."""
    t0 = time.perf_counter()
    study = plan.study
    section = study.model.network
    register_path = (
        study.resolve(study.model.inputs.ders)
        if study.model.inputs.ders is not None
        else study.path
    )
    network = read_network(ps_id, grid, study, crs)
    placement = place_ders(register, network, section.max_bus_distance_m, register_path)
    position = plan.ps_ids.index(ps_id)
    inputs = plan.inputs(range(position, position + 1))
    result = ps_network_year(inputs, network, placement, section)
    result.summary["seconds"] = round(time.perf_counter() - t0, 3)
    return result.hourly, placement[list(PLACEMENT_COLUMNS)], result.summary


def run_networks(
    plan, registers: dict[str, pd.DataFrame], crs, executor=None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The network-aware stage of a planned study: every PS with a network, in study order.

    Parameters
    ----------
    plan : StudyPlan
    registers : dict
        :func:`network_registers` of the PS with a network.
    crs : pyproj.CRS
        The study's metric CRS.
    executor : concurrent.futures.Executor, optional
        Where the PS run, one task each (the engine's worker processes); default here, one
        after the other. The result is the same.

    Returns
    -------
    hourly : pandas.DataFrame
        :data:`NETWORK_HOURLY_COLUMNS`, sorted by scenario, then PS (study order) and hour.
    placement : pandas.DataFrame
        :data:`PLACEMENT_COLUMNS`.
    summary : dict
        ``run.json["network"]``: the settings and, per PS, the network, placement, notes,
        hours where a limit binds, means and the sampled AC checks.
    """
    study = plan.study
    section = study.model.network
    require_network_extra("[network]")
    try:
        grids = section.grid_of(plan.ps_ids)
    except ValueError as exc:
        raise AtlasInputError(study.path, "network", str(exc)) from None
    todo = [p for p in plan.ps_ids if p in grids]
    if executor is not None and len(todo) > 1:
        futures = []
        for ps_id in todo:
            k = plan.ps_ids.index(ps_id)
            futures.append(
                executor.submit(
                    ps_network_task, plan.subset(range(k, k + 1)), ps_id, grids[ps_id],
                    registers[ps_id], crs,
                )
            )  # fmt: skip
        results = [f.result() for f in futures]
    else:
        results = [ps_network_task(plan, p, grids[p], registers[p], crs) for p in todo]
    summary: dict = {
        "settings": section.model_dump(mode="json", exclude={"file", "simbench", "crs", "grids"}),
        "ps": {p: r[2] for p, r in zip(todo, results, strict=True)},
    }
    scenario_order = {s: i for i, s in enumerate(study.scenarios)}
    ps_order = {p: i for i, p in enumerate(plan.ps_ids)}
    if results:
        table = pd.concat([r[0] for r in results], ignore_index=True)
        table = table.sort_values(
            ["scenario", "ps_id"],
            key=lambda c: c.map(scenario_order if c.name == "scenario" else ps_order),
            kind="stable",
            ignore_index=True,
        )
        placement = pd.concat([r[1] for r in results], ignore_index=True)
    else:
        table = pd.DataFrame(columns=list(NETWORK_HOURLY_COLUMNS))
        placement = pd.DataFrame(columns=list(PLACEMENT_COLUMNS))
    return table, placement, summary
