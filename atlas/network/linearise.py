"""A pandapower network linearised at its power-flow solution: the sensitivities of bus
voltages and branch flows to each resource's injections (:class:`~atlas.network.dispatch.LinearNetwork`).

The network's power flow (pandapower's Newton-Raphson) gives the operating point; its
Jacobian, factorised once, gives the voltage sensitivities, and the branch flows' partial
derivatives give the flow sensitivities:

    [dVa; dVm] = J^-1 [dP; dQ],    dSf = dSf/dVa dVa + dSf/dVm dVm

with ``dP, dQ`` the injections (generator convention) at the resources' buses, in per unit
of the network's base power. Slack and PV buses hold their voltage magnitude.

Needs the ``network`` extra (``pip install ".[network]"``: pandapower).
"""

from __future__ import annotations

import numpy as np

from atlas.network.dispatch import LinearNetwork


def branch_ratings(net) -> tuple[np.ndarray, list[str]]:
    """Apparent-power rating and name of each branch of the power-flow model.

    Lines: ``sqrt(3) x max_i_ka x vn_kv x df x parallel`` at the from bus's nominal voltage;
    transformers: ``sn_mva x parallel``. [MVA]
    """
    lookup = net._pd2ppc_lookups["branch"]
    n_branch = net._ppc["internal"]["branch"].shape[0]
    rating = np.full(n_branch, np.inf)
    names = [""] * n_branch
    if "line" in lookup:
        start, end = lookup["line"]
        line = net.line
        vn = net.bus.loc[line["from_bus"], "vn_kv"].to_numpy()
        mva = np.sqrt(3) * line["max_i_ka"].to_numpy() * vn * line["df"].to_numpy()
        rating[start:end] = mva * line["parallel"].to_numpy()
        names[start:end] = [f"line {i}" for i in line.index]
    if "trafo" in lookup:
        start, end = lookup["trafo"]
        trafo = net.trafo
        rating[start:end] = trafo["sn_mva"].to_numpy() * trafo["parallel"].to_numpy()
        names[start:end] = [f"trafo {i}" for i in trafo.index]
    return rating, names


def linearise(
    net,
    resource_buses: list[int],
    v_min: float = 0.95,
    v_max: float = 1.05,
    s_hours: np.ndarray | None = None,
) -> LinearNetwork:
    """Linearise a pandapower network at its power-flow solution.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        The network with its reference loads and generation; its power flow is run here.
    resource_buses : list of int
        The pandapower bus index of each resource.
    v_min, v_max : float
        Voltage band. [pu]
    s_hours : numpy.ndarray, optional
        (n_ppc_bus, n_hours) complex injection of each bus of the power-flow model in each
        hour, per unit of ``net.sn_mva`` (the reference is the power flow's own ``Sbus``).
        The hours' voltages and flows are then solved exactly, all at once
        (:func:`atlas.network.powerflow.batch_voltages`); the sensitivities stay those of the
        reference point.

    Returns
    -------
    LinearNetwork
        Voltages of every bus of the power-flow model and flows of every branch at its from
        end at each hour's operating point (one hour, the reference, without ``s_hours``),
        and their sensitivities to each resource's active and reactive injection. [pu/MW],
        [MW/MW] ...
    """
    import pandapower as pp
    from pandapower.pypower.dSbr_dV import dSbr_dV
    from pandapower.pypower.dSbus_dV import dSbus_dV
    from pandapower.pypower.idx_brch import F_BUS
    from scipy.sparse import bmat, csr_matrix
    from scipy.sparse.linalg import splu

    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    base = float(ppc["baseMVA"])
    v = np.asarray(ppc["V"])
    ybus, yf, yt = ppc["Ybus"], ppc["Yf"], ppc["Yt"]
    pv, pq = np.asarray(ppc["pv"]), np.asarray(ppc["pq"])
    pvpq = np.concatenate([pv, pq])
    n_bus = len(v)
    ds_dvm, ds_dva = dSbus_dV(ybus, v)
    ds_dva, ds_dvm = csr_matrix(ds_dva), csr_matrix(ds_dvm)
    jac = bmat(
        [
            [ds_dva[pvpq][:, pvpq].real, ds_dvm[pvpq][:, pq].real],
            [ds_dva[pq][:, pvpq].imag, ds_dvm[pq][:, pq].imag],
        ],
        format="csc",
    )
    lu = splu(jac)
    ppc_bus = net._pd2ppc_lookups["bus"][np.asarray(resource_buses, dtype=int)]
    n_res = len(ppc_bus)
    # right-hand sides: a unit injection (1 MW, then 1 Mvar) at each resource's bus
    row_p = {b: k for k, b in enumerate(pvpq)}
    row_q = {b: len(pvpq) + k for k, b in enumerate(pq)}
    rhs = np.zeros((len(pvpq) + len(pq), 2 * n_res))
    for i, b in enumerate(ppc_bus):
        if b in row_p:
            rhs[row_p[b], i] = 1.0 / base
        if b in row_q:
            rhs[row_q[b], n_res + i] = 1.0 / base
    sol = lu.solve(rhs)
    dva = np.zeros((n_bus, 2 * n_res))
    dvm = np.zeros((n_bus, 2 * n_res))
    dva[pvpq] = sol[: len(pvpq)]
    dvm[pq] = sol[len(pvpq) :]
    dsf_dva, dsf_dvm, _, _ = dSbr_dV(ppc["branch"], yf, yt, v)[:4]
    dsf = (dsf_dva @ dva + dsf_dvm @ dvm) * base  # (n_branch, 2 n_res) MVA per MW or Mvar
    from_bus = np.asarray(ppc["branch"][:, F_BUS].real, dtype=int)
    if s_hours is None:
        v_hours = v[:, None]
    else:
        from atlas.network.powerflow import batch_voltages

        ref = np.asarray(ppc["ref"])
        v_hours = batch_voltages(ybus, ref, v[ref], s_hours)
    sf = (v_hours[from_bus] * np.conj(yf @ v_hours)).T * base  # (n_hours, n_branch)
    rating, names = branch_ratings(net)
    finite = np.isfinite(rating)
    # a ppc bus may stand for several pandapower buses joined by closed switches: the first
    bus_names = [""] * n_bus
    lookup = net._pd2ppc_lookups["bus"]
    for pd_bus in net.bus.index:
        k = int(lookup[pd_bus])
        if 0 <= k < n_bus and not bus_names[k]:
            bus_names[k] = str(pd_bus)
    return LinearNetwork(
        v0=np.abs(v_hours).T,
        vp=dvm[:, :n_res],
        vq=dvm[:, n_res:],
        f0=sf.real[:, finite],
        g0=sf.imag[:, finite],
        fp=dsf.real[finite, :n_res],
        fq=dsf.real[finite, n_res:],
        gp=dsf.imag[finite, :n_res],
        gq=dsf.imag[finite, n_res:],
        rating=rating[finite],
        v_min=v_min,
        v_max=v_max,
        bus_names=tuple(bus_names),
        branch_names=tuple(n for n, f in zip(names, finite, strict=True) if f),
    )


def _finite_branches(net) -> np.ndarray:
    """The branches :func:`linearise` keeps (a finite rating), in the power-flow model's order."""
    rating, _ = branch_ratings(net)
    return np.isfinite(rating)


def hour_state(net, resource_buses: list[int]):
    """The AC state of the network's present operating point with a dispatch added.

    Returns ``state(hours, dispatch)`` for :func:`atlas.network.dispatch.corrected_figures`:
    for each of ``hours`` (the network must stand at that hour's operating point, so one hour
    in practice) the dispatch (n_res, 2) is added at the resources' buses and pandapower's
    power flow gives the bus voltage magnitudes and the branch flows at their from end, in
    :func:`linearise`'s order.
    """
    import pandapower as pp
    from pandapower.pypower.idx_brch import PF, QF

    def state(hours, dispatch):
        v, f, g = [], [], []
        for x in np.asarray(dispatch).reshape(len(hours), -1, 2):
            added = pp.create_sgens(net, list(resource_buses), p_mw=x[:, 0], q_mvar=x[:, 1])
            try:
                pp.runpp(net, numba=False)
                ppc = net._ppc["internal"]
                keep = _finite_branches(net)
                v.append(np.abs(ppc["V"]))
                f.append(ppc["branch"][keep, PF].real)
                g.append(ppc["branch"][keep, QF].real)
            finally:
                net.sgen.drop(index=added, inplace=True)
        return np.array(v), np.array(f), np.array(g)

    return state


def batch_state(net, resource_buses: list[int], s_hours: np.ndarray):
    """The AC state of every hour with a dispatch added, by the batch power flow.

    ``s_hours`` as for :func:`linearise` (whose power flow ``net`` must have run last).
    Returns ``state(hours, dispatch)`` for :func:`atlas.network.dispatch.corrected_figures`:
    the hours' injections plus the dispatch (n, n_res, 2) at the resources' buses, solved at
    once (:func:`atlas.network.powerflow.batch_voltages`).
    """
    from pandapower.pypower.idx_brch import F_BUS

    from atlas.network.powerflow import batch_voltages

    ppc = net._ppc["internal"]
    base = float(ppc["baseMVA"])
    ref = np.asarray(ppc["ref"])
    v_ref = np.asarray(ppc["V"])[ref]
    ppc_bus = net._pd2ppc_lookups["bus"][np.asarray(resource_buses, dtype=int)]
    from_bus = np.asarray(ppc["branch"][:, F_BUS].real, dtype=int)
    keep = _finite_branches(net)

    def state(hours, dispatch):
        s = np.array(s_hours[:, hours], dtype=complex)
        x = np.asarray(dispatch)
        np.add.at(s, ppc_bus, (x[..., 0] + 1j * x[..., 1]).T / base)
        v = batch_voltages(ppc["Ybus"], ref, v_ref, s)
        sf = (v[from_bus] * np.conj(ppc["Yf"] @ v)).T * base
        return np.abs(v).T, sf.real[:, keep], sf.imag[:, keep]

    return state
