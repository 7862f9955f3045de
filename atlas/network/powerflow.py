"""AC power flow of many hours at once: the operating points the LP is linearised around.

A distribution network fed from slack buses (the HV/MV transformers' HV side, or their MV
busbar at a set voltage) and holding only PQ buses is solved for every hour together by the
fixed-point iteration on the bus admittance matrix (the "Z-bus" method)::

    V_L <- Y_LL^-1 (conj(S_L / V_L) - Y_LS V_S)

with ``Y_LL`` factorised once and every hour a column of the same solve. Each iteration is
one sparse solve with n_hours right-hand sides, so a year costs a few such solves instead of
8,760 Newton-Raphson runs. It converges for the loadings of distribution networks (it
contracts while the voltage drops stay well below the nominal voltage); an hour that has not
converged to ``tol`` after ``max_iter`` iterations is an error naming it.
"""

from __future__ import annotations

import numpy as np


class PowerFlowError(RuntimeError):
    """The batch power flow did not converge."""


def batch_voltages(
    ybus,
    slack: np.ndarray,
    v_slack: np.ndarray,
    s_bus: np.ndarray,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Complex bus voltages of every hour.

    Parameters
    ----------
    ybus : scipy.sparse matrix
        (n_bus, n_bus) bus admittance matrix. [pu]
    slack : numpy.ndarray of int
        Indices of the slack buses.
    v_slack : numpy.ndarray
        (n_slack,) their complex voltages. [pu]
    s_bus : numpy.ndarray
        (n_bus, n_hours) complex power injected at each bus (generation minus load), per unit
        of the network's base power; the slack buses' entries are ignored. [pu]
    tol : float
        Largest change of any voltage in the last iteration. [pu]
    max_iter : int

    Returns
    -------
    numpy.ndarray
        (n_bus, n_hours) complex voltages. [pu]

    Raises
    ------
    PowerFlowError
        Some hour has not converged (the first one is named).
    """
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import splu

    ybus = csc_matrix(ybus)
    n_bus = ybus.shape[0]
    slack = np.asarray(slack, dtype=int)
    load = np.setdiff1d(np.arange(n_bus), slack)
    s_bus = np.asarray(s_bus, dtype=complex)
    n_hours = s_bus.shape[1]
    y_ll = csc_matrix(ybus[load][:, load])
    y_ls = ybus[load][:, slack]
    lu = splu(y_ll)
    v_s = np.asarray(v_slack, dtype=complex)
    fixed = -(y_ls @ v_s)  # (n_load,)
    # start: the no-load voltages (the network fed by the slack buses alone)
    v0 = lu.solve(fixed.astype(complex))
    v_l = np.repeat(v0[:, None], n_hours, axis=1)
    s_l = s_bus[load]
    for _ in range(max_iter):
        current = np.conj(s_l / v_l) + fixed[:, None]
        new = lu.solve(current)
        change = np.abs(new - v_l).max(axis=0)
        v_l = new
        if (change <= tol).all():
            break
    else:
        worst = int(np.argmax(change))
        raise PowerFlowError(
            f"hour {worst}: no convergence after {max_iter} iterations "
            f"(last change {change[worst]:.2e} pu): a load beyond the network's capacity?"
        )
    out = np.empty((n_bus, n_hours), dtype=complex)
    out[slack] = v_s[:, None]
    out[load] = v_l
    return out
