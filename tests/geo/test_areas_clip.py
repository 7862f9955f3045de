"""Rectangle-cut clipping of Voronoi cells equals the plain intersection with the boundary."""

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.geo.areas import clip_to_boundary


def _ragged(rng, n):
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1000 * (1 + 0.2 * np.sin(3 * theta) + 0.05 * rng.standard_normal(n))
    return shapely.make_valid(
        shapely.Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_sites=st.integers(2, 25))
def test_clip_equals_intersection(seed, n_sites):
    rng = np.random.default_rng(seed)
    boundary = _ragged(rng, 400)
    sites = shapely.points(rng.uniform(-1200, 1200, (n_sites, 2)))
    frame = shapely.box(-1e5, -1e5, 1e5, 1e5)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=frame))
    fast = clip_to_boundary(cells, boundary)
    for cell, got in zip(cells, fast, strict=True):
        want = shapely.intersection(cell, boundary)
        assert abs(shapely.area(got) - shapely.area(want)) <= 1e-9 * max(shapely.area(want), 1.0)
        assert shapely.area(shapely.symmetric_difference(got, want)) <= 1e-9 * max(
            shapely.area(want), 1.0
        )
    # the clipped cells tile the boundary
    total = sum(shapely.area(g) for g in fast)
    assert abs(total - boundary.area) <= 1e-9 * boundary.area
