"""The fast paths of the statistics give numpy's own results bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.analysis.stats import (
    longest_runs,
    longest_runs_by_group,
    month_hour_means,
    monthly_boxes,
    percentiles,
)


def _same_bits(a, b):
    """Equal floats with equal bits (the sign of zero included), NaN where NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    a, b = np.where(np.isnan(a), 0.0, a), np.where(np.isnan(b), 0.0, b)
    assert np.array_equal(a.view(np.int64), b.view(np.int64))


def _values(seed, shape=(3, 4, 500)):
    """Ties, both signs of zero (rows of zeros only too), infinities and NaN."""
    rng = np.random.default_rng(seed)
    v = np.round(rng.normal(0, 2, size=shape), 1)  # ties, and -0.0 from the rounding
    zero = rng.random(shape) < rng.random(shape[:-1])[..., None]
    v[zero] = np.where(rng.random(shape) < 0.5, -0.0, 0.0)[zero]
    v[0, 0] = -0.0
    v[0, 1] = np.where(rng.random(shape[-1]) < 0.5, -0.0, 0.0)
    v[1, 0, rng.integers(0, shape[-1], 3)] = np.nan
    v[1, 1, rng.integers(0, shape[-1], 3)] = np.inf
    return v


@pytest.mark.filterwarnings("ignore:invalid value")
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("q", [10, 50, 90, 0, 100, 33.3, [0, 25, 50, 75, 100], [10, 90]])
def test_percentiles_are_numpy_bit_for_bit(seed, q):
    v = _values(seed)
    want = np.percentile(v, q, axis=-1)
    want = want if np.ndim(q) == 0 else np.moveaxis(want, 0, -1)
    _same_bits(percentiles(v, q), want)
    _same_bits(percentiles(v, q, np.sort(v, axis=-1)), want)


@pytest.mark.filterwarnings("ignore:invalid value")
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([-0.0, 0.0, 1.0, -1.5, 2.0, 5e-324, -5e-324, np.inf, -np.inf, np.nan]),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([0, 10, 25, 50, 75, 90, 100]),
)
def test_percentiles_of_short_rows(values, q):
    v = np.array(values)[None]
    _same_bits(percentiles(v, q), np.percentile(v, q, axis=-1))


@pytest.mark.filterwarnings("ignore:invalid value")
def test_monthly_boxes_are_numpy_per_month():
    v = _values(5, (2, 3, 24 * 40))
    month = np.r_[np.repeat([1, 2, 3], 24 * 13), np.repeat(1, 24)]  # January comes back
    months, boxes = monthly_boxes(v, month)
    assert months.tolist() == [1, 2, 3]
    for i, m in enumerate(months):
        want = np.percentile(v[..., month == m], [0, 25, 50, 75, 100], axis=-1)
        _same_bits(boxes[..., i, :], np.moveaxis(want, 0, -1))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.booleans(), min_size=1, max_size=60),
    st.lists(st.integers(1, 3), min_size=1, max_size=60),
)
def test_longest_runs_by_group_match_one_group_at_a_time(mask, group):
    n = min(len(mask), len(group))
    m, g = np.array(mask[:n]), np.sort(np.array(group[:n]))
    g = np.r_[g[1:], g[:1]]  # the first group also at the end, as January in a UTC year
    groups, runs = longest_runs_by_group(np.stack([m, ~m]), g)
    assert groups.tolist() == sorted(set(g.tolist()))
    want = np.stack([longest_runs(np.stack([m, ~m]) & (g == k)) for k in groups], axis=-1)
    assert runs.dtype == want.dtype and np.array_equal(runs, want)


def test_month_hour_shares_are_the_float_means():
    rng = np.random.default_rng(1)
    above = rng.random((2, 3, 24 * 60)) < 0.3
    month = np.repeat([1, 2], 24 * 30)
    hour = np.tile(np.arange(24), 60)
    *cells, share = month_hour_means(above, month, hour)
    *cells_f, mean = month_hour_means(above.astype(float), month, hour)
    assert all(np.array_equal(a, b) for a, b in zip(cells, cells_f, strict=True))
    _same_bits(share, mean)
