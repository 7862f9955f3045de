"""The dual simplex of one hour's programme, compiled (numba).

The hour's programme is ``max c . x`` subject to ``G x <= h``, ``x = [dp; dq]`` of the
n resources (:mod:`atlas.network.dispatch`). Its rows have a global id: ``i * k + e`` for
half-plane e of resource i's polygon (``a[i, e] . (dp_i, dq_i) <= b[i, e]``), ``n * k + q``
for network row q, made from the hour's stacked sensitivities ``S = [[Vp, Vq], [Fp, Fq],
[Gp, Gq]]`` (``n_bus + 2 n_branch`` rows)::

    q < n_bus                 v_max of bus q:        S[q] . x
    n_bus <= q < 2 n_bus      v_min of bus q - n_bus: -S[q - n_bus] . x
    q = 2 n_bus + j n_branch + l, side j of branch l's rating polygon:
                              (cos_j S[n_bus + l] + sin_j S[n_bus + n_branch + l]) . x

A basis is 2n row ids whose matrix ``M`` is invertible and whose duals
``y = M^-T c`` are >= 0. Each pivot of the dual simplex adds the row that ``x = M^-1 h``
breaks furthest (a network row by its distance, excess over its norm) and drops the basis
row the dual ratio test picks, keeping every dual >= 0 (the largest pivot among ties); the
inverse is updated by a rank-one change and made afresh from the basis's structure
(:func:`basis_inverse`) every ``refactor_every`` pivots and before the optimum is accepted.

These kernels do per pivot what a Python loop would do in some thirty NumPy calls on
vectors of a few hundred elements (about 0.3 ms, almost all call overhead); compiled, a
pivot costs its arithmetic. The numbers are the same, up to the order of the sums.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Status codes of :func:`dual_simplex`.
OPTIMAL, NOT_A_BASIS, LOST_DUAL_FEASIBILITY, INFEASIBLE, NO_OPTIMUM = 0, 1, 2, 3, 4


@njit(cache=True)
def network_row(q, stacked, n_bus, n_branch, sides, out):
    """Network row ``q`` of the hour into ``out`` (2n,)."""
    if q < n_bus:
        out[:] = stacked[q]
    elif q < 2 * n_bus:
        out[:] = -stacked[q - n_bus]
    else:
        j, branch = (q - 2 * n_bus) // n_branch, (q - 2 * n_bus) % n_branch
        out[:] = (
            sides[j, 0] * stacked[n_bus + branch] + sides[j, 1] * stacked[n_bus + n_branch + branch]
        )


@njit(cache=True)
def network_lhs(stacked, n_bus, n_branch, sides, x, out):
    """``A x`` of every network row into ``out``, from one product with the stacked rows."""
    network_lhs_of(stacked @ x, n_bus, n_branch, sides, out)


@njit(cache=True)
def network_lhs_of(y, n_bus, n_branch, sides, out):
    """Every network row's ``A x`` into ``out`` from the stacked rows' ``y = S x``."""
    for q in range(n_bus):
        out[q] = y[q]
        out[n_bus + q] = -y[q]
    for j in range(len(sides) if n_branch else 0):
        for branch in range(n_branch):
            out[2 * n_bus + j * n_branch + branch] = (
                sides[j, 0] * y[n_bus + branch] + sides[j, 1] * y[n_bus + n_branch + branch]
            )


@njit(cache=True)
def _solve_small(k_mat):
    """The inverse of a small square matrix by Gauss-Jordan elimination with partial
    pivoting; ok is False if a pivot is exactly zero or the result not finite."""
    m = k_mat.shape[0]
    work = k_mat.copy()
    inv = np.eye(m)
    for col in range(m):
        p = col
        for r in range(col + 1, m):
            if abs(work[r, col]) > abs(work[p, col]):
                p = r
        if work[p, col] == 0.0:
            return inv, False
        if p != col:
            for c in range(m):
                work[col, c], work[p, c] = work[p, c], work[col, c]
                inv[col, c], inv[p, c] = inv[p, c], inv[col, c]
        pivot = work[col, col]
        for c in range(m):
            work[col, c] /= pivot
            inv[col, c] /= pivot
        for r in range(m):
            if r != col and work[r, col] != 0.0:
                f = work[r, col]
                for c in range(m):
                    work[r, c] -= f * work[col, c]
                    inv[r, c] -= f * inv[col, c]
    return inv, np.isfinite(inv).all()


@njit(cache=True)
def basis_inverse(a, ids, stacked, n_bus, n_branch, sides):
    """The inverse of the basis matrix of rows ``ids`` (2n of them), from its structure.

    Each resource row has two nonzeros, so a resource with two rows in the basis is fixed
    by them, one with a row keeps one free direction along it, one with none two, and the
    m network rows fix those m free directions through an m x m system ``K``: about
    ``O(n m + m^3)`` instead of the ``O(n^3)`` of a general inverse. Returns the inverse
    and ok (False: the rows are not a basis: a resource with more than two rows, an
    empty row, two parallel rows of one resource, or ``K`` singular).
    """
    n, k = a.shape[0], a.shape[1]
    d = 2 * n
    inverse = np.zeros((d, d))
    count = np.zeros(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)  # a resource's first basis position
    second = np.full(n, -1, dtype=np.int64)
    net_pos = []
    for p in range(d):
        row = ids[p]
        if row >= n * k:
            net_pos.append(p)
            continue
        i, e = row // k, row % k
        if a[i, e, 0] == 0.0 and a[i, e, 1] == 0.0:
            return inverse, False  # an empty row (a polygon's repeated vertex)
        count[i] += 1
        if count[i] == 1:
            first[i] = p
        elif count[i] == 2:
            second[i] = p
        else:
            return inverse, False
    m = len(net_pos)
    free = 0
    for i in range(n):
        free += max(2 - count[i], 0)
    if free != m:
        return inverse, False
    # each resource row's column: (w0, w1) in rows i and n + i
    for i in range(n):
        if count[i] == 1:
            e = ids[first[i]] - i * k
            nx, ny = a[i, e, 0], a[i, e, 1]
            s = nx * nx + ny * ny
            inverse[i, first[i]] = nx / s
            inverse[n + i, first[i]] = ny / s
        elif count[i] == 2:
            e1, e2 = ids[first[i]] - i * k, ids[second[i]] - i * k
            a1x, a1y, a2x, a2y = a[i, e1, 0], a[i, e1, 1], a[i, e2, 0], a[i, e2, 1]
            det = a1x * a2y - a1y * a2x
            if abs(det) < 1e-14:
                return inverse, False
            inverse[i, first[i]] = a2y / det
            inverse[n + i, first[i]] = -a2x / det
            inverse[i, second[i]] = -a1y / det
            inverse[n + i, second[i]] = a1x / det
    if m == 0:
        return inverse, True
    # the free directions, by resource: along the row of one with one, both axes of one
    # with none; column j of T has t0 in row t_res[j] and t1 in row n + t_res[j]
    t_res = np.empty(m, dtype=np.int64)
    t0 = np.empty(m)
    t1 = np.empty(m)
    j = 0
    for i in range(n):
        if count[i] == 1:
            e = ids[first[i]] - i * k
            t_res[j], t0[j], t1[j] = i, -a[i, e, 1], a[i, e, 0]
            j += 1
        elif count[i] == 0:
            t_res[j], t0[j], t1[j] = i, 1.0, 0.0
            t_res[j + 1], t0[j + 1], t1[j + 1] = i, 0.0, 1.0
            j += 2
    net_rows = np.empty((m, d))
    for r in range(m):
        network_row(ids[net_pos[r]] - n * k, stacked, n_bus, n_branch, sides, net_rows[r])
    k_mat = np.empty((m, m))
    for r in range(m):
        for c in range(m):
            k_mat[r, c] = net_rows[r, t_res[c]] * t0[c] + net_rows[r, n + t_res[c]] * t1[c]
    k_inv, ok = _solve_small(k_mat)
    if not ok:
        return inverse, False
    # spread = T K^-1 (d, m), nonzero only in the free resources' rows
    spread = np.zeros((d, m))
    for c in range(m):
        for r in range(m):
            spread[t_res[c], r] += t0[c] * k_inv[c, r]
            spread[n + t_res[c], r] += t1[c] * k_inv[c, r]
    # the resource rows' columns minus spread @ (the network rows applied to them)
    used = np.unique(np.concatenate((t_res, n + t_res)))  # spread's nonzero rows
    for p in range(d):
        row = ids[p]
        if row >= n * k:
            continue
        i = row // k
        w0, w1 = inverse[i, p], inverse[n + i, p]
        for r in range(m):
            nw = net_rows[r, i] * w0 + net_rows[r, n + i] * w1
            if nw != 0.0:
                for s in used:
                    inverse[s, p] -= spread[s, r] * nw
    for r in range(m):
        for s in used:
            inverse[s, net_pos[r]] = spread[s, r]
    return inverse, True


@njit(cache=True)
def basis_rhs(b, net_b, ids):
    """The right-hand sides of rows ``ids``."""
    n, k = b.shape[0], b.shape[1]
    out = np.empty(len(ids))
    for p in range(len(ids)):
        row = ids[p]
        out[p] = b[row // k, row % k] if row < n * k else net_b[row - n * k]
    return out


@njit(cache=True)
def most_violated(a, b, stacked, n_bus, n_branch, sides, net_b, norms, x, pivot_tol, lhs):
    """The id of the row ``x`` breaks furthest (network rows by distance: excess over the
    row's norm, kept in ``norms`` once made), or -1. ``lhs`` holds the network rows'
    ``A x`` (:func:`network_lhs`)."""
    n, k = a.shape[0], a.shape[1]
    best, far = -1, 0.0
    for i in range(n):
        for e in range(k):
            excess = a[i, e, 0] * x[i] + a[i, e, 1] * x[n + i] - b[i, e]
            if excess > pivot_tol and (best < 0 or excess > far):
                best, far = i * k + e, excess
    row = np.empty(2 * n)
    best_net, best_distance = -1, 0.0
    for q in range(len(net_b)):
        excess = lhs[q] - net_b[q]
        if excess > pivot_tol:
            if np.isnan(norms[q]):
                network_row(q, stacked, n_bus, n_branch, sides, row)
                norms[q] = max(np.sqrt(np.dot(row, row)), 1e-300)
            distance = excess / norms[q]
            if best_net < 0 or distance > best_distance:
                best_net, best_distance = q, distance
    if best_net >= 0 and best_distance > far:
        best = n * k + best_net
    return best


@njit(cache=True)
def dual_simplex(
    a, b, stacked, n_bus, n_branch, sides, net_b, norms, objective, ids, inverse, y,
    max_pivots, refactor_every, pivot_alpha, pivot_tol, dual_tol,
):  # fmt: skip
    """The dual simplex from the basis ``ids`` (changed in place), its inverse and duals.

    Returns ``(status, x, y, pivots)``: :data:`OPTIMAL` with the optimal vertex and its
    duals, else why it stopped (:data:`NOT_A_BASIS`, :data:`LOST_DUAL_FEASIBILITY`,
    :data:`INFEASIBLE`, :data:`NO_OPTIMUM`).
    """
    n, k = a.shape[0], a.shape[1]
    d = 2 * n
    rhs = basis_rhs(b, net_b, ids)
    lhs = np.empty(len(net_b))
    g = np.empty(d)
    fresh = True  # the inverse, x and y as made from the basis itself, not updated
    x = inverse @ rhs
    network_lhs(stacked, n_bus, n_branch, sides, x, lhs)
    step_lhs = np.empty(len(net_b))
    for pivot in range(max_pivots):
        enter = most_violated(a, b, stacked, n_bus, n_branch, sides, net_b, norms, x,
                              pivot_tol, lhs)  # fmt: skip
        if enter < 0:
            if fresh:  # optimal: a feasible vertex, duals >= 0 (the basis's own)
                return OPTIMAL, x, np.maximum(y, 0.0), pivot
            # the updates' round-off: the basis's own inverse decides
            inverse, ok = basis_inverse(a, ids, stacked, n_bus, n_branch, sides)
            if not ok:
                return NOT_A_BASIS, x, y, pivot
            y = inverse.T @ objective
            if (y < -dual_tol * (1.0 + np.abs(y).max())).any():
                return LOST_DUAL_FEASIBILITY, x, y, pivot
            x = inverse @ rhs
            network_lhs(stacked, n_bus, n_branch, sides, x, lhs)
            fresh = True
            continue
        fresh = False
        if enter < n * k:  # a resource row: two nonzeros
            i, e = enter // k, enter % k
            h = b[i, e]
            used = a[i, e, 0] * x[i] + a[i, e, 1] * x[n + i]
            alpha = a[i, e, 0] * inverse[i] + a[i, e, 1] * inverse[n + i]
        else:
            network_row(enter - n * k, stacked, n_bus, n_branch, sides, g)
            h = net_b[enter - n * k]
            used = lhs[enter - n * k]
            alpha = inverse.T @ g
        limit = pivot_alpha * max(1.0, np.abs(alpha).max())
        least = np.inf
        for p in range(d):
            if alpha[p] > limit:
                least = min(least, max(y[p], 0.0) / alpha[p])
        if least == np.inf:  # zero deviation is feasible: only round-off gets here
            return INFEASIBLE, x, y, pivot
        # among (nearly) tied rows, the largest pivot: the best-conditioned next basis
        leave, top = -1, -np.inf
        for p in range(d):
            if alpha[p] > limit and max(y[p], 0.0) / alpha[p] <= least + 1e-12 * (1.0 + least):
                if alpha[p] > top:
                    leave, top = p, alpha[p]
        step = max(y[leave], 0.0) / alpha[leave]
        y = y - step * alpha
        y[leave] = step
        ids[leave], rhs[leave] = enter, h
        if (pivot + 1) % refactor_every == 0:
            rhs = basis_rhs(b, net_b, ids)
            inverse, ok = basis_inverse(a, ids, stacked, n_bus, n_branch, sides)
            if not ok:
                return NOT_A_BASIS, x, y, pivot
            y = inverse.T @ objective
            x = inverse @ rhs
            network_lhs(stacked, n_bus, n_branch, sides, x, lhs)
            fresh = True
            continue
        # the vertex moves off the leaving row onto the entering one: x += t M^-1 e_leave
        # (the leaving column, nonzero in a few resources' rows); its network rows with it
        column = inverse[:, leave].copy()
        nonzero = np.flatnonzero(column)
        t = (h - used) / alpha[leave]
        moved = np.zeros(stacked.shape[0])
        for r in nonzero:
            x[r] += t * column[r]
            moved += stacked[:, r] * column[r]
        network_lhs_of(moved, n_bus, n_branch, sides, step_lhs)
        lhs += t * step_lhs
        scale = 1.0 / alpha[leave]
        alpha[leave] -= 1.0
        for r in nonzero:
            f = column[r] * scale
            for s in range(d):
                inverse[r, s] -= f * alpha[s]
    return NO_OPTIMUM, inverse @ rhs, y, max_pivots


@njit(cache=True)
def blind_basis(vertices, a, b, c, tol):
    """Two rows per resource, both active at its vertex furthest along ``c`` (the first
    such) and linearly independent, whose normals hold ``c`` in their cone: a basis whose
    duals are >= 0 (the network-blind optimum). Returns the row ids and -1, or the first
    resource that has no such pair."""
    n, k = a.shape[0], a.shape[1]
    ids = np.empty(2 * n, dtype=np.int64)
    for i in range(n):
        best, top = 0, vertices[i, 0, 0] * c[0] + vertices[i, 0, 1] * c[1]
        for j in range(1, vertices.shape[1]):
            value = vertices[i, j, 0] * c[0] + vertices[i, j, 1] * c[1]
            if value > top:
                best, top = j, value
        vx, vy = vertices[i, best, 0], vertices[i, best, 1]
        rows = []
        for e in range(k):
            if a[i, e, 0] == 0.0 and a[i, e, 1] == 0.0:
                continue
            slack = b[i, e] - (a[i, e, 0] * vx + a[i, e, 1] * vy)
            if abs(slack) <= tol * (1.0 + abs(b[i, e])):
                rows.append(e)
        found = False
        for p in range(len(rows)):
            for q in range(p + 1, len(rows)):
                px, py = a[i, rows[p], 0], a[i, rows[p], 1]
                qx, qy = a[i, rows[q], 0], a[i, rows[q], 1]
                det = px * qy - py * qx
                if abs(det) < 1e-9:
                    continue
                # the duals of the two rows: [p q] y = c, by Cramer's rule
                y0 = (c[0] * qy - qx * c[1]) / det
                y1 = (px * c[1] - py * c[0]) / det
                if y0 >= -tol and y1 >= -tol:
                    ids[2 * i], ids[2 * i + 1] = i * k + rows[p], i * k + rows[q]
                    found = True
                    break
            if found:
                break
        if not found:
            return ids, i
    return ids, -1
