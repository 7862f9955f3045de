"""The DER join on a dask.distributed cluster: a GeoParquet register, partitioned spatially.

A register too large for one machine's memory is read with dask-geopandas (a partition per
row group), reprojected to the study's metric CRS on the workers, shuffled into spatially compact partitions (Hilbert
distance) and joined to the service areas partition by partition. Each point is assigned by
the very functions of the local join (:func:`atlas.geo.areas.assign_points_voronoi` for
Voronoi areas, :func:`atlas.geo.areas.assign_points` for given ones), whose result for a
point does not depend on the other points of its batch, so the assignment is identical to
the local join's, point for point (ties and all).

dask is an optional extra (``pip install 'flexibility-atlas[dask]'``): it is imported here,
when a join runs, never by ``import atlas``.

>>> from atlas.geo.dask_join import assign_register  # doctest: +SKIP
>>> register, inside, nearest, distance_m = assign_register(
...     "ders.parquet",
...     stage.areas,
...     "tcp://127.0.0.1:8786",
...     sites=stage.sites,
...     boundary=stage.boundary,
... )  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from atlas.errors import AtlasInputError
from atlas.geo.areas import assign_points, assign_points_voronoi

if TYPE_CHECKING:
    from distributed import Client

#: How to get the optional dependencies, for messages.
DASK_EXTRA = "pip install 'flexibility-atlas[dask]'"

#: Columns the join adds to the register's partitions (file row, area row, nearest area
#: row, distance to it [m]); a register may not use these names.
ROW, INSIDE, NEAREST, DISTANCE = "atlas_row", "atlas_inside", "atlas_nearest", "atlas_distance_m"
_HILBERT = "atlas_hilbert"

#: Level of the Hilbert curve that orders the points (2**16 cells a side, the most that
#: geopandas' ``hilbert_distance`` allows).
HILBERT_LEVEL = 16

GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet")


@dataclass(frozen=True)
class JoinRule:
    """The local join's rule, sent once to every worker.

    Attributes
    ----------
    areas : geopandas.GeoDataFrame
        ``ps_id`` and the service areas, metric CRS, in the stage's row order.
    sites : geopandas.GeoDataFrame or None
        The PS sites in the rows' order of ``areas``, for Voronoi areas.
    boundary : shapely geometry or None
        The boundary the Voronoi cells were clipped to.
    """

    areas: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame | None = None
    boundary: BaseGeometry | None = None

    def assign(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Area of each point, as :meth:`atlas.geo.join.GeoStage.assign` gives it."""
        if self.sites is not None and self.boundary is not None:
            return assign_points_voronoi(points, self.sites, self.boundary, self.areas)
        return assign_points(points, self.areas)


def _require_dask() -> None:
    """Import dask-geopandas and dask.distributed, or say which extra installs them."""
    try:
        import dask_geopandas  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise AtlasInputError(
            None,
            "areas.join",
            f"'dask' needs dask-geopandas and dask.distributed ({exc.name} is missing), "
            f"expected them installed: {DASK_EXTRA}",
        ) from None


def assign_register(
    path: str | PathLike,
    areas: gpd.GeoDataFrame,
    client: Client | str | None = None,
    *,
    sites: gpd.GeoDataFrame | None = None,
    boundary: BaseGeometry | None = None,
    npartitions: int | None = None,
    what: str = "DER register",
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Join a GeoParquet register of points to the service areas on a dask cluster.

    The register is read, checked, reprojected and joined on the workers
    (:func:`assign_register_partitions`, its attributes left out of the shuffle); the
    client gathers each point (reprojected) with its area, and the attributes, and puts
    them back in file order.

    Parameters
    ----------
    path : str or path-like
        A GeoParquet file (``.parquet``, ``.geoparquet``) or a folder of them (one
        dataset, its files in natural name order: ``part.2`` before ``part.10``), of
        points in any declared CRS. The workers must reach it at this path.
    areas : geopandas.GeoDataFrame
        ``ps_id`` and the service areas in the study's metric CRS
        (:attr:`atlas.geo.join.GeoStage.areas`).
    client : distributed.Client or str, optional
        The cluster: a client, or a scheduler's address (``tcp://host:8786``, connected
        for this join). By default the current client; else the scheduler of dask's
        ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``); else a LocalCluster of
        one single-threaded worker per core, on 127.0.0.1, closed after the join.
    sites : geopandas.GeoDataFrame, optional
        For Voronoi areas, the PS sites in the rows' order of ``areas``, metric CRS
        (:attr:`~atlas.geo.join.GeoStage.sites`); give it with ``boundary``.
    boundary : shapely geometry, optional
        For Voronoi areas, the boundary the cells were clipped to
        (:attr:`~atlas.geo.join.GeoStage.boundary`).
    npartitions : int, optional
        Spatial partitions to join in; default one per row group of the file (dask reads
        a row group as a partition), at least two per worker thread.
    what : str, default "DER register"
        What the layer is, for messages.

    Returns
    -------
    register : geopandas.GeoDataFrame
        The layer as :func:`atlas.geo.layers.read_layer` reads it (attribute names
        stripped, index 0..n-1 in file order), its points in the CRS of ``areas``.
    inside, nearest, distance_m : numpy.ndarray
        (n_points,) as :meth:`atlas.geo.join.GeoStage.assign`: the row of ``areas``
        covering each point (-1 where none), the row of the nearest area (-1 without
        areas), and the distance to it (0 inside). [m]

    Raises
    ------
    AtlasInputError
        dask-geopandas is not installed; the file is not GeoParquet or unreadable; it
        declares no CRS; or the first empty, non-point or invalid geometry (``feature i``,
        the messages of :func:`~atlas.geo.layers.read_layer`).

    Notes
    -----
    Every row of the register comes back to the client, because the geodata stage keeps
    the joined register (its capacities, EV points and the run folder's register and
    unassigned tables are per DER). A register larger than the client's memory is joined
    with :func:`assign_register_partitions` and stays on the workers.
    """
    import dask

    _require_dask()
    path = Path(path)
    with _connected(client) as c:
        ddf = _read(path, what)
        geometry = ddf.geometry.name
        parts = npartitions or max(ddf.npartitions, 2 * sum(c.nthreads().values()))
        joined = _join(ddf, path, areas, sites, boundary, parts, what, columns=[])
        attributes = [col for col in ddf.columns if col != geometry]
        # the attributes skip the shuffle: read on the workers, gathered in file order
        table, values = dask.compute(joined, ddf[attributes] if attributes else None)
    table = table.reset_index(drop=True)
    rows = table[ROW].to_numpy()
    order = np.argsort(rows, kind="stable")
    if not np.array_equal(rows[order], np.arange(len(rows))):  # every row once
        raise RuntimeError(f"the dask join of {path} lost or repeated rows; please report it")
    table = table.take(order).reset_index(drop=True)
    values = pd.DataFrame(index=table.index) if values is None else values
    if len(values) != len(table):
        raise RuntimeError(f"the dask join of {path} read {len(values)} rows of attributes")
    values = values.reset_index(drop=True).assign(**{geometry: table.geometry.to_numpy()})
    register = gpd.GeoDataFrame(values[list(ddf.columns)], geometry=geometry, crs=areas.crs)
    inside = table[INSIDE].to_numpy(dtype=np.int64)
    nearest = table[NEAREST].to_numpy(dtype=np.int64)
    distance_m = table[DISTANCE].to_numpy(dtype=float)
    return register, inside, nearest, distance_m


def assign_register_partitions(
    path: str | PathLike,
    areas: gpd.GeoDataFrame,
    *,
    sites: gpd.GeoDataFrame | None = None,
    boundary: BaseGeometry | None = None,
    npartitions: int | None = None,
    columns: list[str] | None = None,
    what: str = "DER register",
) -> Any:
    """The joined register as spatially partitioned dask-geopandas frame (nothing gathered).

    For registers larger than one machine's memory: aggregate it, or write it with
    ``to_parquet``, on the workers. Runs on the current dask scheduler (a
    ``distributed.Client``, usually).

    Parameters
    ----------
    path, areas, sites, boundary, what
        As :func:`assign_register`.
    npartitions : int, optional
        Spatial partitions; default one per row group of the file.
    columns : list of str, optional
        The attributes to carry (names stripped); default all of them. Fewer columns make
        the shuffle lighter.

    Returns
    -------
    dask_geopandas.GeoDataFrame
        The register's attributes (names stripped) and points in the CRS of ``areas``,
        with ``atlas_row`` (0-based row in the file), ``atlas_inside``, ``atlas_nearest``
        and ``atlas_distance_m`` [m] (as :meth:`atlas.geo.join.GeoStage.assign`), indexed
        and partitioned by the points' distance along a Hilbert curve.

    Raises
    ------
    AtlasInputError
        As :func:`assign_register`, or a register column named like an added one.

    Notes
    -----
    Two passes over the file, both on the workers. The first, computed here, counts the
    rows of each partition (so that every point keeps its row in the file), checks the
    geometries as :func:`~atlas.geo.layers.read_layer` does, and counts the points'
    distances along a Hilbert curve (level 16) in 65,536 bins, whose cumulative counts
    set the limits of ``npartitions`` spatial partitions of about equal size. The
    second, when the result is computed, shuffles the points into those partitions
    (dask's ``set_index`` on the Hilbert distance, as dask-geopandas' ``spatial_shuffle``
    does, without its extra passes for the bounds and quantiles) and joins each partition.
    The curve spans the areas, the sites and the boundary, taken in the file's CRS so
    that the points are ordered before they are reprojected (points beyond the frame go
    to its edge).
    The points travel through the shuffle as WKB (exact), so the shuffle is that of a
    plain frame, whatever method dask picks. The partitioning groups the work only: the
    join of a point reads every area, so its result does not depend on where it lands.
    """
    _require_dask()
    path = Path(path)
    ddf = _read(path, what)
    parts = npartitions or ddf.npartitions
    return _join(ddf, path, areas, sites, boundary, parts, what, columns=columns)


def _join(
    ddf: Any,
    path: Path,
    areas: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame | None,
    boundary: BaseGeometry | None,
    npartitions: int,
    what: str,
    columns: list[str] | None = None,
) -> Any:
    """:func:`assign_register_partitions` on the register read (the first pass runs here)."""
    import dask

    if (sites is None) != (boundary is None):
        raise ValueError("give both sites and boundary (Voronoi areas) or neither")
    if areas.crs is None:
        raise ValueError("the service areas have no CRS, expected the study's metric CRS")
    taken = sorted({ROW, INSIDE, NEAREST, DISTANCE, _HILBERT} & set(ddf.columns))
    if taken:
        raise AtlasInputError(
            path, "attributes", f"column {taken[0]!r} is reserved by the dask join, rename it"
        )
    if columns is not None:
        unknown = sorted(set(columns) - set(ddf.columns))
        if unknown:
            raise ValueError(f"no column {unknown[0]!r} in {path}")
        ddf = ddf[[*columns, ddf.geometry.name]]
    frame = _frame(areas, sites, boundary, ddf.crs)
    survey = ddf.map_partitions(_survey_partition, frame, meta=_SURVEY_META).compute()
    _raise_first_bad(survey, path, what)
    offsets = np.r_[0, np.cumsum(survey["n"].to_numpy())]
    numbered = ddf.map_partitions(
        _number_rows, offsets, meta=ddf._meta.assign(**{ROW: pd.Series(dtype="int64")})
    )
    geometry = ddf.geometry.name
    plain = pd.DataFrame(numbered._meta).assign(
        **{geometry: pd.Series(dtype=object), _HILBERT: pd.Series(dtype="uint32")}
    )
    keyed = numbered.map_partitions(_keyed_wkb, areas.crs, frame, meta=plain)
    shuffled = keyed.set_index(_HILBERT, divisions=_divisions(survey, npartitions))
    rule = dask.delayed(JoinRule(areas, sites, boundary), pure=True)
    meta = gpd.GeoDataFrame(
        shuffled._meta.assign(
            **{
                geometry: gpd.GeoSeries([], crs=areas.crs),
                INSIDE: pd.Series(dtype="int64"),
                NEAREST: pd.Series(dtype="int64"),
                DISTANCE: pd.Series(dtype="float64"),
            }
        ),
        geometry=geometry,
        crs=areas.crs,
    )
    return shuffled.map_partitions(_join_partition, rule, geometry, areas.crs, meta=meta)


# --- on the workers ------------------------------------------------------------------------

#: Bits of the Hilbert distance dropped to count it in bins (2**32 distances, 2**16 bins).
_BIN_SHIFT = 2 * HILBERT_LEVEL - 16

_SURVEY_META = pd.DataFrame(
    {
        "n": pd.Series(dtype="int64"),
        "empty": pd.Series(dtype="int64"),
        "not_point": pd.Series(dtype="int64"),
        "invalid": pd.Series(dtype="int64"),
        "geom_type": pd.Series(dtype=object),
        "invalid_reason": pd.Series(dtype=object),
        "bins": pd.Series(dtype=object),
        "counts": pd.Series(dtype=object),
    }
)


def _survey_partition(part: gpd.GeoDataFrame, frame: tuple) -> pd.DataFrame:
    """One row: the partition's rows, its first empty, non-point and invalid geometry
    (-1: none), and its points per Hilbert bin (when every geometry is good)."""
    geoms = part.geometry.to_numpy()

    def first(mask: np.ndarray) -> int:
        bad = np.flatnonzero(mask)
        return int(bad[0]) if len(bad) else -1

    empty = first(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    not_point = first(shapely.get_type_id(geoms) != 0)
    invalid = first(~shapely.is_valid(geoms))
    bins = counts = np.empty(0, dtype=np.int64)
    if max(empty, not_point, invalid) < 0 and len(geoms):
        distance = part.geometry.hilbert_distance(frame, level=HILBERT_LEVEL)
        bins, counts = np.unique(distance.to_numpy() >> _BIN_SHIFT, return_counts=True)
    return pd.DataFrame(
        {
            "n": [len(geoms)],
            "empty": [empty],
            "not_point": [not_point],
            "invalid": [invalid],
            "geom_type": [geoms[not_point].geom_type if not_point >= 0 else ""],
            "invalid_reason": [shapely.is_valid_reason(geoms[invalid]) if invalid >= 0 else ""],
            "bins": [bins.astype(np.int64)],
            "counts": [counts.astype(np.int64)],
        }
    )


def _number_rows(
    part: gpd.GeoDataFrame, offsets: np.ndarray, partition_info: dict | None = None
) -> gpd.GeoDataFrame:
    """The partition with each row's 0-based position in the file."""
    if partition_info is None:  # dask passes it to functions that take it
        raise RuntimeError("dask gave no partition_info, so rows cannot be numbered")
    k = partition_info["number"]
    start, stop = int(offsets[k]), int(offsets[k + 1])
    if stop - start != len(part):  # the file was split otherwise than when counted
        raise RuntimeError(f"partition {k} has {len(part)} rows, {stop - start} were counted")
    return part.assign(**{ROW: np.arange(start, stop, dtype=np.int64)})


def _keyed_wkb(part: gpd.GeoDataFrame, crs: Any, frame: tuple) -> pd.DataFrame:
    """A plain frame: the points in ``crs`` as WKB (exact), and their Hilbert distance
    (taken in the file's CRS, as :func:`_survey_partition` takes it)."""
    points = part.geometry
    return pd.DataFrame(part).assign(
        **{
            points.name: shapely.to_wkb(points.to_crs(crs).to_numpy()),
            _HILBERT: points.hilbert_distance(frame, level=HILBERT_LEVEL).to_numpy(),
        }
    )


def _join_partition(
    part: pd.DataFrame, rule: JoinRule, geometry: str, crs: Any
) -> gpd.GeoDataFrame:
    """The partition's points back from WKB, with their areas (:meth:`JoinRule.assign`)."""
    points = shapely.from_wkb(part[geometry].to_numpy(dtype=object))
    if len(points) == 0:
        inside = nearest = np.empty(0, dtype=np.int64)
        distance = np.empty(0)
    else:
        inside, nearest, distance = rule.assign(points)
    out = part.assign(**{geometry: gpd.GeoSeries(points, index=part.index, crs=crs)})
    out = out.assign(**{INSIDE: inside, NEAREST: nearest, DISTANCE: distance})
    return gpd.GeoDataFrame(out, geometry=geometry, crs=crs)


def _import_on_worker() -> None:
    """What the join's tasks need, imported up front (see :func:`_connected`)."""
    import dask.dataframe  # noqa: F401
    import dask_geopandas  # noqa: F401
    import scipy.spatial  # noqa: F401

    import atlas.geo.dask_join  # noqa: F401


# --- on the client ---------------------------------------------------------------------------


def _read(path: Path, what: str) -> Any:
    """The register as a dask-geopandas frame (a partition per row group), its CRS declared
    and its attribute names stripped."""
    import dask_geopandas

    if not (path.is_dir() or path.name.lower().endswith(GEOPARQUET_SUFFIXES)):
        raise AtlasInputError(
            path,
            "",
            f"the dask join reads a GeoParquet {what} (.parquet, .geoparquet or a folder of "
            "them), expected one (write it with geopandas' to_parquet, or join locally)",
        )
    if not path.exists():
        raise AtlasInputError(path, "", f"{what} file not found")
    try:
        ddf = dask_geopandas.read_parquet(path, split_row_groups=True)
    except Exception as exc:  # pyarrow and dask raise several types for unreadable files
        raise AtlasInputError(
            path, "", f"cannot be read as a GeoParquet {what} layer ({exc})"
        ) from None
    if ddf.crs is None:
        raise AtlasInputError(
            path,
            "crs",
            f"the {what} layer declares no CRS, expected one (e.g. EPSG:4326); set it in the file",
        )
    stripped = [c if c == ddf.geometry.name else str(c).strip() for c in ddf.columns]
    if stripped != list(ddf.columns):  # attribute names stripped, as read_layer does
        ddf.columns = stripped
    return ddf


def _raise_first_bad(survey: pd.DataFrame, path: Path, what: str) -> None:
    """The error :func:`atlas.geo.layers.read_layer` raises for the first bad geometry."""
    offsets = np.r_[0, np.cumsum(survey["n"].to_numpy())][:-1]
    problems = {
        "empty": lambda k: f"empty geometry, expected a {what} geometry",
        "not_point": lambda k: f"geometry is a {survey['geom_type'].iloc[k]}, expected Point",
        "invalid": lambda k: (
            f"invalid geometry ({survey['invalid_reason'].iloc[k]}), expected a valid {what} "
            "geometry (fix it, e.g. with shapely.make_valid or QGIS 'Fix geometries')"
        ),
    }
    for column, problem in problems.items():
        local = survey[column].to_numpy()
        bad = np.flatnonzero(local >= 0)
        if len(bad):
            k = int(bad[0])  # partitions are in file order
            raise AtlasInputError(path, f"feature {offsets[k] + local[k] + 1}", problem(k))


def _frame(
    areas: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame | None,
    boundary: BaseGeometry | None,
    crs: Any,
) -> tuple[float, float, float, float]:
    """The Hilbert frame in the register's ``crs``: the bounds of everything the join knows
    before reading the points (areas, sites, boundary), so the points are ordered before
    their reprojection, which is done once."""
    geoms = [areas.geometry.to_numpy()]
    if sites is not None:
        geoms.append(sites.geometry.to_numpy())
    if boundary is not None:
        geoms.append(np.array([boundary], dtype=object))
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.concatenate(geoms))
    if not pyproj.CRS.from_user_input(crs).equals(areas.crs):
        to_file = pyproj.Transformer.from_crs(areas.crs, crs, always_xy=True)
        xmin, ymin, xmax, ymax = to_file.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21)
    if not np.isfinite([xmin, ymin, xmax, ymax]).all():  # every area empty: any frame will do
        return (0.0, 0.0, 1.0, 1.0)
    pad = max(xmax - xmin, ymax - ymin, 1.0) * 1e-6  # a degenerate frame has no width
    return (xmin - pad, ymin - pad, xmax + pad, ymax + pad)


def _divisions(survey: pd.DataFrame, npartitions: int) -> list[int]:
    """Limits of ``npartitions`` Hilbert ranges holding about equal numbers of points.

    The first limit is 0 and the last the curve's end, so every point falls in a range;
    ranges that would be empty (points crowded in one bin) are merged.
    """
    bins = np.concatenate([np.asarray(b, dtype=np.int64) for b in survey["bins"]] + [[0]])
    counts = np.concatenate([np.asarray(c, dtype=np.int64) for c in survey["counts"]] + [[0]])
    per_bin = np.bincount(bins, weights=counts, minlength=2**16)
    cumulative = np.cumsum(per_bin)
    total = cumulative[-1]
    targets = total * np.arange(1, max(npartitions, 1)) / max(npartitions, 1)
    cuts = np.searchsorted(cumulative, targets, side="right")  # first bin past each target
    inner = np.unique(cuts[(cuts > 0) & (cuts < 2**16)]).astype(np.int64) << _BIN_SHIFT
    return [0, *(int(c) for c in inner), 2 ** (2 * HILBERT_LEVEL) - 1]


@contextmanager
def _connected(client: Client | str | None) -> Iterator[Client]:
    """The client to run on, made dask's scheduler for the block (see :func:`assign_register`)."""
    import dask
    from distributed import Client, LocalCluster, default_client

    own: list[Any] = []  # what this block opened, closed at its end
    if client is None:
        try:
            client = default_client()
        except ValueError:
            client = dask.config.get("scheduler-address", None)
    if client is None:
        cluster = LocalCluster(
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # the scheduler's HTTP server (and a dashboard, if bokeh is installed) on any free
            # loopback port: with None it still takes 8787, which another cluster may hold
            dashboard_address="127.0.0.1:0",
        )
        client = Client(cluster)
        own += [client, cluster]
    elif isinstance(client, str):
        address = client
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise AtlasInputError(
                None,
                "areas.join",
                f"cannot reach the dask scheduler {address!r} ({exc}), expected the address "
                "of a running scheduler such as tcp://127.0.0.1:8786",
            ) from None
        own.append(client)
    try:
        # import what the tasks need once per worker, before any task: a module imported
        # lazily while the worker unpacks a message can fail (KeyError in a race)
        client.run(_import_on_worker)
        with dask.config.set(scheduler=client):
            yield client
    finally:
        for item in own:
            item.close()
