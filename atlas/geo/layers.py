"""Read vector layers in any CRS, check their geometries, choose a metric CRS.

Layers come as GeoJSON, GeoPackage, Shapefile, GeoParquet, FlatGeobuf (read with
geopandas/pyogrio) or as CSV with ``lat``/``lon`` columns (WGS84). Every layer must declare
its CRS; geometries are checked (empty, invalid) and errors name the file and the feature.
Areas, distances and Voronoi cells are computed in a metric CRS: the UTM zone of the study
(chosen from the layers' centre) unless the study sets one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from atlas.errors import AtlasInputError
from atlas.inputs.checks import float_values, raise_first_bad, read_csv_table

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb", ".zip")
WGS84 = "EPSG:4326"


def read_layer(
    path: Path,
    what: str,
    geometry_types: tuple[str, ...] | None = None,
    crs: pyproj.CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer or a lat/lon CSV, with its CRS, geometries checked.

    Parameters
    ----------
    path : pathlib.Path
        The file. A ``.csv`` (optionally compressed) needs columns ``lat`` and ``lon`` in
        WGS84 degrees; other files are read with geopandas and must declare a CRS.
    what : str
        What the layer is, for messages (``"substations"``, ``"service areas"``).
    geometry_types : tuple of str, optional
        Accepted geometry types (e.g. ``("Point",)``); others are an error naming the
        feature.
    crs : pyproj.CRS or str, optional
        The CRS to return the layer in (default: the file's). A lat/lon CSV's points are
        made there directly, the same points as ``GeoDataFrame.to_crs`` gives (one
        geometry per row instead of two: a national register has 1.5 million rows).

    Returns
    -------
    geopandas.GeoDataFrame
        In ``crs``, else the file's CRS, index 0..n-1 in file order; attribute names
        stripped. The geometries are checked in the file's CRS.

    Raises
    ------
    AtlasInputError
        Unreadable file, no CRS, missing lat/lon, empty or invalid geometry.
    """
    path = Path(path)
    if not path.is_file():
        raise AtlasInputError(path, "", f"{what} file not found")
    is_csv = path.name.lower().endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip"))
    if is_csv:
        gdf = _read_lat_lon_csv(path, what, crs)
    else:
        try:
            if path.suffix.lower() in (".parquet", ".geoparquet"):
                # GeoParquet through pyarrow (a GDAL build may lack its Parquet driver)
                gdf = gpd.read_parquet(path)
            else:
                with warnings.catch_warnings():
                    # GDAL's notes on features it could not read (a NULL geometry, an open
                    # ring): the checks below name those features in one error instead
                    warnings.simplefilter("ignore", RuntimeWarning)
                    gdf = gpd.read_file(path)
        except Exception as exc:  # pyogrio and pyarrow raise several types for unreadable files
            raise AtlasInputError(path, "", f"cannot be read as a {what} layer ({exc})") from None
        if gdf.crs is None:
            raise AtlasInputError(
                path,
                "crs",
                f"the {what} layer declares no CRS, expected one (e.g. EPSG:4326); set it in the file",
            )
    gdf.columns = [str(c).strip() if c != gdf.geometry.name else c for c in gdf.columns]
    gdf = gdf.reset_index(drop=True)
    geoms = gdf.geometry.to_numpy()
    if not is_csv:
        _check_units(gdf, path, what)
    raise_first_bad(
        shapely.is_missing(geoms) | shapely.is_empty(geoms),
        path,
        None,
        f"empty geometry, expected a {what} geometry",
        is_csv=is_csv,
    )
    if geometry_types is not None:
        ok_ids = [_TYPE_IDS[t] for t in geometry_types]
        raise_first_bad(
            ~np.isin(shapely.get_type_id(geoms), ok_ids),
            path,
            None,
            lambda i: f"geometry is a {geoms[i].geom_type}, expected {' or '.join(geometry_types)}",
            is_csv=is_csv,
        )
    raise_first_bad(
        ~shapely.is_valid(geoms),
        path,
        None,
        lambda i: (
            f"invalid geometry ({shapely.is_valid_reason(geoms[i])}), expected a valid {what} "
            "geometry (fix it, e.g. with shapely.make_valid or QGIS 'Fix geometries')"
        ),
        is_csv=is_csv,
    )
    if crs is not None and not gdf.crs.is_exact_same(pyproj.CRS.from_user_input(crs)):
        # the points alone (GeoDataFrame.to_crs deep-copies every column)
        geometry = gdf.geometry.to_crs(crs)
        gdf = gpd.GeoDataFrame(
            gdf.drop(columns=gdf.geometry.name), geometry=geometry.to_numpy(), crs=geometry.crs
        )
    return gdf


def _check_units(gdf: gpd.GeoDataFrame, path: Path, what: str) -> None:
    """A layer's coordinates in the units of the CRS it declares.

    Coordinates all within +-180 / +-90 under a projected CRS are degrees (a layer of metres
    there would span less than 360 m around the CRS's false origin); coordinates beyond them
    under a geographic CRS are metres. Both put every point in the wrong place.
    """
    with np.errstate(invalid="ignore"):
        xmin, ymin, xmax, ymax = (float(v) for v in gdf.total_bounds)
    if not np.isfinite([xmin, ymin, xmax, ymax]).all():
        return  # no geometry: the checks below name the feature
    within = -180.0 <= xmin and xmax <= 180.0 and -90.0 <= ymin and ymax <= 90.0
    name = gdf.crs.to_string()
    if gdf.crs.is_projected and within:
        raise AtlasInputError(
            path,
            "crs",
            f"the {what} layer declares the projected CRS {name} but every coordinate lies "
            f"within +-180/+-90 (x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}), which looks "
            "like longitude/latitude degrees; expected coordinates in the declared CRS, or "
            "declare EPSG:4326",
        )
    if gdf.crs.is_geographic and not within:
        raise AtlasInputError(
            path,
            "crs",
            f"the {what} layer declares the geographic CRS {name} but its coordinates reach "
            f"beyond +-180/+-90 degrees (x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}), which "
            "looks like metres; expected degrees, or declare the projected CRS they are in",
        )


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "LinearRing": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}


def _read_lat_lon_csv(
    path: Path, what: str, crs: pyproj.CRS | str | None = None
) -> gpd.GeoDataFrame:
    df = read_csv_table(path, [], dtype=str, keep_default_na=False)  # text as text
    for col in ("lat", "lon"):
        if col not in df.columns:
            raise AtlasInputError(
                path,
                "header",
                f"missing column {col!r}, expected lat and lon in WGS84 degrees",
                line=1,
            )
    lat = float_values(df["lat"])
    lon = float_values(df["lon"])
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(lat) | ~np.isfinite(lon) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    raise_first_bad(
        bad,
        path,
        None,
        lambda i: f"lat/lon {df['lat'].iloc[i]!r}, {df['lon'].iloc[i]!r}, expected WGS84 degrees",
    )
    wgs84 = pyproj.CRS.from_user_input(WGS84)
    target = wgs84 if crs is None else pyproj.CRS.from_user_input(crs)
    if not target.is_exact_same(wgs84):  # as GeoSeries.to_crs transforms (always_xy)
        lon, lat = pyproj.Transformer.from_crs(wgs84, target, always_xy=True).transform(lon, lat)
    return gpd.GeoDataFrame(
        df.drop(columns=["lat", "lon"]), geometry=gpd.points_from_xy(lon, lat), crs=target
    )


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 / UTM zone CRS containing a point (EPSG 326xx north, 327xx south)."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_crs(layers: list[gpd.GeoDataFrame], override: str | None = None) -> pyproj.CRS:
    """The metric CRS for a study: ``override`` if given, else the UTM zone of the layers' centre.

    Parameters
    ----------
    layers : list of geopandas.GeoDataFrame
        Layers with a CRS (their total bounds, in WGS84, give the centre).
    override : str, optional
        Any CRS string pyproj understands (``"EPSG:32632"``); must be projected in metres.
    """
    if override:
        crs = pyproj.CRS.from_user_input(override)
        if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
            raise ValueError(f"{override!r} is not a projected CRS in metres")
        return crs
    bounds = np.array([gdf.to_crs(WGS84).total_bounds for gdf in layers if len(gdf)])
    lon = (bounds[:, 0].min() + bounds[:, 2].max()) / 2.0
    lat = (bounds[:, 1].min() + bounds[:, 3].max()) / 2.0
    return utm_crs(lon, lat)
