"""The network-aware figures against pandapower's AC computations.

- :func:`ac_check`: the dispatch through pandapower's AC power flow. The linearised
  programme (:mod:`atlas.network.dispatch`) keeps every limit to first order; the AC power
  flow of its dispatch says by how much the real network leaves them.
- :func:`opf_figure`: the same problem solved by pandapower's AC optimal power flow, each
  resource's capability a P-Q box (pandapower's generators take boxes, not circles).

In both, a limit already broken at the operating point counts from where it stands (the
programme holds it there).

Needs the ``network`` extra (pandapower).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class AcCheck:
    """The worst of one AC power flow of a dispatch against the limits.

    Attributes
    ----------
    v_max_excess : float
        Largest rise of a bus voltage above its upper limit (or above its voltage at the
        operating point, where that was higher), >= 0. [pu]
    v_min_excess : float
        Likewise below the lower limit, >= 0. [pu]
    loading_excess : float
        Largest loading of a line or transformer above 1 (or above its loading at the
        operating point, where that was higher), >= 0. [-] (0.02: 2 % over its rating)
    worst_bus, worst_branch : str
        Where the voltage and the loading come closest to, or furthest past, their limits.
    converged : bool
        Whether the power flow converged (the other fields are NaN otherwise).
    """

    v_max_excess: float
    v_min_excess: float
    loading_excess: float
    worst_bus: str
    worst_branch: str
    converged: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _state(net) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Bus voltages, branch loadings (per unit of the rating) and branch names."""
    loading = [net.res_line["loading_percent"].to_numpy() / 100]
    names = [f"line {i}" for i in net.line.index]
    if len(net.trafo):
        loading.append(net.res_trafo["loading_percent"].to_numpy() / 100)
        names += [f"trafo {i}" for i in net.trafo.index]
    return net.res_bus["vm_pu"].to_numpy(), np.concatenate(loading), names


def ac_check(
    net, resource_buses, dispatch: np.ndarray, v_min: float = 0.95, v_max: float = 1.05
) -> AcCheck:
    """Run a dispatch through pandapower's AC power flow and measure the worst excess.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        The network at the hour's operating point (its loads and generators set); left as
        it was.
    resource_buses : sequence of int
        The pandapower bus of each resource.
    dispatch : numpy.ndarray
        (n_res, 2) each resource's deviation ``(dp, dq)``, generator convention, added at
        its bus. [MW], [Mvar]
    v_min, v_max : float
        The voltage band. [pu]

    Returns
    -------
    AcCheck
    """
    import pandapower as pp

    pp.runpp(net, numba=False)
    v0, load0, names = _state(net)
    added = pp.create_sgens(
        net, list(resource_buses), p_mw=dispatch[:, 0], q_mvar=dispatch[:, 1], name="atlas check"
    )
    try:
        try:
            pp.runpp(net, numba=False)
        except pp.LoadflowNotConverged:
            nan = float("nan")
            return AcCheck(nan, nan, nan, "", "", converged=False)
        v, load, _ = _state(net)
    finally:
        net.sgen.drop(index=added, inplace=True)
        if "res_sgen" in net and len(net.res_sgen):
            net.res_sgen.drop(index=[i for i in added if i in net.res_sgen.index], inplace=True)
    up = v - np.maximum(v_max, v0)
    down = np.minimum(v_min, v0) - v
    over = load - np.maximum(1.0, load0)
    bus_names = [str(b) for b in net.bus.index]
    worst_v = int(np.argmax(np.maximum(up, down)))
    worst_b = int(np.argmax(over)) if len(over) else 0
    return AcCheck(
        v_max_excess=float(max(up.max(), 0.0)),
        v_min_excess=float(max(down.max(), 0.0)),
        loading_excess=float(max(over.max(), 0.0)) if len(over) else 0.0,
        worst_bus=bus_names[worst_v],
        worst_branch=names[worst_b] if names else "",
    )


#: The four figures and their unit vector in the (p, q) plane (as atlas.network.dispatch).
_DIRECTIONS = {"p_up": (1.0, 0.0), "p_down": (-1.0, 0.0), "q_up": (0.0, 1.0), "q_down": (0.0, -1.0)}


def opf_figure(
    net, limits: dict[str, np.ndarray], direction: str, v_min: float = 0.95, v_max: float = 1.05
) -> float | None:
    """The figure of one direction by pandapower's AC optimal power flow (PYPOWER's PIPS).

    The network's static generators (``net.sgen``, in order) are the resources: each
    controllable within its P-Q box, the objective the sum of their active (or reactive)
    power in the direction; bus voltages in ``[v_min, v_max]``, lines and transformers at
    most 100 % loaded, each limit already broken at the operating point held where it
    stands; the external grid holds its voltage. The network is left as it was (a copy is
    solved).

    Parameters
    ----------
    net : pandapower.pandapowerNet
        At the hour's operating point (generators at ``p0``, reactive power 0).
    limits : dict of numpy.ndarray
        Each generator's ``p0``, ``p_lo``, ``p_hi``, ``q_inject`` and ``q_absorb``, (n_sgen,)
        each (:func:`atlas.engine.capability.box_disc_limits`). [MW], [Mvar]
    direction : str
        ``p_up``, ``p_down``, ``q_up`` or ``q_down``.

    Returns
    -------
    float or None
        The largest change of the generators' summed power in the direction, None where
        the OPF does not converge. [MW] or [Mvar]

    Notes
    -----
    PYPOWER's interior point does not converge with a 150-degree HV/MV vector group (as in
    SimBench's grids); the copy's transformers get no phase shift, which, the network being
    fed from one grid, turns every angle alike and changes no magnitude or flow.
    """
    import copy

    import pandapower as pp

    c = np.array(_DIRECTIONS[direction])
    opf = copy.deepcopy(net)
    pp.runpp(opf, numba=False)
    vm0 = opf.res_bus["vm_pu"].to_numpy()
    opf.bus["max_vm_pu"] = np.maximum(v_max, vm0)
    opf.bus["min_vm_pu"] = np.minimum(v_min, vm0)
    opf.line["max_loading_percent"] = np.maximum(100.0, opf.res_line["loading_percent"].to_numpy())
    if len(opf.trafo):
        opf.trafo["max_loading_percent"] = np.maximum(
            100.0, opf.res_trafo["loading_percent"].to_numpy()
        )
        opf.trafo["shift_degree"] = 0.0
    opf.sgen["controllable"] = True
    opf.sgen["min_p_mw"], opf.sgen["max_p_mw"] = limits["p_lo"], limits["p_hi"]
    opf.sgen["min_q_mvar"], opf.sgen["max_q_mvar"] = -limits["q_absorb"], limits["q_inject"]
    opf.load["controllable"] = False
    opf.ext_grid["controllable"] = False  # the grid behind the PS holds its voltage
    for col in ("min_p_mw", "max_p_mw", "min_q_mvar", "max_q_mvar"):
        if col in opf.ext_grid:  # SimBench leaves them empty, as text: no limit
            opf.ext_grid[col] = opf.ext_grid[col].astype(float)
    for i in opf.sgen.index:
        pp.create_poly_cost(opf, i, "sgen", cp1_eur_per_mw=-c[0], cq1_eur_per_mvar=-c[1])
    try:
        pp.runopp(opf, verbose=False, suppress_warnings=True, init="pf")
    except pp.OPFNotConverged:
        return None
    p, q = opf.res_sgen["p_mw"].to_numpy(), opf.res_sgen["q_mvar"].to_numpy()
    return float(c[0] * (p - limits["p0"]).sum() + c[1] * q.sum())


#: Tolerances of the AC check: beyond them a violation is reported (issue 14). [pu], [-]
V_TOLERANCE = 0.005
LOADING_TOLERANCE = 0.02


def sampled_checks(
    net,
    at_hour,
    resource_buses,
    dispatch: dict[str, np.ndarray],
    hours: np.ndarray,
    v_min: float = 0.95,
    v_max: float = 1.05,
) -> dict:
    """The AC check (:func:`ac_check`) of a year's dispatch at sampled hours.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    at_hour : callable
        ``at_hour(h)`` sets ``net``'s loads and generators to hour ``h``'s operating point.
    resource_buses : sequence of int
    dispatch : dict of numpy.ndarray
        By direction, (n_hours, n_res, 2) the network-aware dispatch
        (:attr:`atlas.network.dispatch.NetworkFigures.dispatch`). [MW], [Mvar]
    hours : numpy.ndarray
        The hours to check.

    Returns
    -------
    dict
        ``{"hours": [...], "tolerance": {...}, direction: {"v_excess_pu", "loading_excess",
        "worst_bus", "worst_branch", "violations": [{hour, v_excess_pu, loading_excess}],
        "not_converged": [hours]}}``: the worst over the hours, and every hour beyond the
        tolerances (:data:`V_TOLERANCE`, :data:`LOADING_TOLERANCE`), for ``run.json``.
    """
    out: dict = {
        "hours": [int(h) for h in hours],
        "tolerance": {"v_pu": V_TOLERANCE, "loading": LOADING_TOLERANCE},
    }
    worst_v = dict.fromkeys(dispatch, 0.0)
    worst_l = dict.fromkeys(dispatch, 0.0)
    where_v = dict.fromkeys(dispatch, "")
    where_l = dict.fromkeys(dispatch, "")
    found: dict[str, list] = {d: [] for d in dispatch}
    failed: dict[str, list] = {d: [] for d in dispatch}
    for h in hours:
        at_hour(int(h))
        for d, x in dispatch.items():
            check = ac_check(net, resource_buses, x[int(h)], v_min, v_max)
            if not check.converged:
                failed[d].append(int(h))
                continue
            v = max(check.v_max_excess, check.v_min_excess)
            if v > worst_v[d] or not where_v[d]:
                worst_v[d], where_v[d] = v, check.worst_bus
            if check.loading_excess > worst_l[d] or not where_l[d]:
                worst_l[d], where_l[d] = check.loading_excess, check.worst_branch
            if v > V_TOLERANCE or check.loading_excess > LOADING_TOLERANCE:
                found[d].append(
                    {"hour": int(h), "v_excess_pu": v, "loading_excess": check.loading_excess}
                )
    for d in dispatch:
        out[d] = {
            "v_excess_pu": worst_v[d],
            "loading_excess": worst_l[d],
            "worst_bus": where_v[d],
            "worst_branch": where_l[d],
            "violations": found[d],
            "not_converged": failed[d],
        }
    return out
