"""The batch power flow (atlas.network.powerflow) against closed forms and a root finder;
tests/network/test_powerflow_pandapower.py checks it against pandapower on a real MV grid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from atlas.network.powerflow import PowerFlowError, batch_voltages


def two_bus(z):
    y = 1 / z
    return csr_matrix(np.array([[y, -y], [-y, y]]))


@pytest.mark.parametrize("p, q", [(0.0, 0.0), (0.5, 0.2), (1.0, 0.5), (-0.8, 0.1)])
def test_two_buses_against_the_closed_form(p, q):
    # a load P + jQ (pu) at bus 2 behind z = r + jx from a slack at 1 pu: |V2|^2 = u solves
    # u^2 + (2 (r P + x Q) - 1) u + (r^2 + x^2)(P^2 + Q^2) = 0 (the larger root)
    r, x = 0.05, 0.1
    v = batch_voltages(two_bus(r + 1j * x), [0], [1.0 + 0j], np.array([[0.0], [-(p + 1j * q)]]))
    b = 2 * (r * p + x * q) - 1
    u = (-b + np.sqrt(b * b - 4 * (r * r + x * x) * (p * p + q * q))) / 2
    assert abs(v[1, 0]) == pytest.approx(np.sqrt(u), abs=1e-9)
    assert v[0, 0] == 1.0


def test_every_hour_is_its_own_power_flow():
    ybus = two_bus(0.05 + 0.1j)
    s = -np.array([[0, 0, 0], [0.2 + 0.1j, 0.6 + 0.3j, 1.0 + 0.2j]])
    batch = batch_voltages(ybus, [0], [1.0], s)
    for h in range(3):
        alone = batch_voltages(ybus, [0], [1.0], s[:, [h]])
        np.testing.assert_allclose(batch[:, h], alone[:, 0], atol=1e-12)


def test_a_meshed_network_against_a_root_finder():
    from scipy.optimize import fsolve

    rng = np.random.default_rng(5)
    n = 5
    ybus = np.zeros((n, n), dtype=complex)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 1), (0, 3)]:  # two meshes
        y = 1 / complex(rng.uniform(0.01, 0.05), rng.uniform(0.02, 0.1))
        ybus[[a, b], [a, b]] += y
        ybus[a, b] -= y
        ybus[b, a] -= y
    s = np.zeros((n, 1), dtype=complex)
    s[1:, 0] = -rng.uniform(0.1, 0.5, n - 1) - 1j * rng.uniform(0.0, 0.2, n - 1)
    v = batch_voltages(csr_matrix(ybus), [0], [1.02], s)[:, 0]

    def mismatch(x):
        vv = np.concatenate([[1.02], x[: n - 1] * np.exp(1j * x[n - 1 :])])
        d = vv * np.conj(ybus @ vv) - s[:, 0]
        return np.concatenate([d.real[1:], d.imag[1:]])

    root = fsolve(mismatch, np.concatenate([np.ones(n - 1), np.zeros(n - 1)]), xtol=1e-13)
    np.testing.assert_allclose(np.abs(v[1:]), root[: n - 1], atol=1e-9)
    np.testing.assert_allclose(np.angle(v[1:]), root[n - 1 :], atol=1e-9)


def test_an_impossible_load_is_an_error_naming_the_hour():
    s = -np.array([[0, 0], [0.1, 50.0]], dtype=complex)
    with pytest.raises(PowerFlowError, match="hour 1"):
        batch_voltages(two_bus(0.05 + 0.1j), [0], [1.0], s, max_iter=200)
