"""The geodata stage of a study: substations, service areas and the DER register joined.

Reads the layers (any CRS), builds the service areas (given polygons or clipped Voronoi
cells) in a metric CRS, assigns every DER point to one area, and aggregates the register into
the engine's capacity table. Nothing is dropped silently: DERs outside every area are listed
(``unassigned``) and counted in :class:`GeoStage.summary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from atlas._compat import to_float
from atlas.errors import AtlasInputError
from atlas.geo.areas import (
    AreaReport,
    area_table,
    assign_points,
    assign_points_voronoi,
    resolve_overlaps,
    voronoi_areas,
)
from atlas.geo.layers import WGS84, metric_crs, read_layer
from atlas.geo.register import (
    allocate_growth,
    capacity_from_register,
    ev_points_from_register,
    normalise_register,
)
from atlas.inputs.checks import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    PsIds,
    check_text,
    raise_first_bad,
    record_label,
    unknown_ps,
)
from atlas.inputs.plausibility import Finding, boundary_findings, register_findings, settle
from atlas.inputs.study import Study
from atlas.inputs.tables import OLTC_COLUMNS, oltc_band_columns, read_substations, read_weights

if TYPE_CHECKING:
    from distributed import Client


@dataclass
class GeoStage:
    """Result of the geodata stage.

    Attributes
    ----------
    crs : pyproj.CRS
        The metric CRS of the geometry below.
    sites : geopandas.GeoDataFrame
        ps_id, name, rated_mva and the PS point, metric CRS, in study order.
    areas : geopandas.GeoDataFrame or None
        ps_id and service-area polygon per PS (study order), metric CRS; None when the
        study gives neither areas nor a boundary.
    register : geopandas.GeoDataFrame or None
        The normalised DER register with ``ps_id`` ("" where unassigned), ``distance_m``
        to the nearest area, and ``snapped``.
    capacity : pandas.DataFrame or None
        scenario, ps_id, technology, level, capacity_mw from the register and growth.
    ev_points : pandas.DataFrame or None
        Charging points per scenario, PS and location with their V2G share.
    boundary : shapely geometry or None
        The study boundary (metric CRS), when given.
    voronoi : bool
        Whether the areas are Voronoi cells of the sites (then points are joined to their
        nearest site inside the boundary, :func:`atlas.geo.areas.assign_points_voronoi`).
    report : AreaReport
    summary : dict
        Counts for the run summary.
    warnings : list of Finding
        Plausibility findings the study accepts (``[checks] accept``).
    """

    crs: pyproj.CRS
    sites: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame | None = None
    register: gpd.GeoDataFrame | None = None
    capacity: pd.DataFrame | None = None
    ev_points: pd.DataFrame | None = None
    boundary: shapely.Geometry | None = None
    voronoi: bool = False
    report: AreaReport = field(default_factory=AreaReport)
    summary: dict = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)

    def assign(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Area of each point (metric CRS): see :func:`atlas.geo.areas.assign_points`."""
        if self.voronoi:
            return assign_points_voronoi(points, self.sites, self.boundary, self.areas)
        return assign_points(points, self.areas)

    def unassigned(self) -> pd.DataFrame:
        """DERs outside every service area (snapped ones included, flagged), WGS84."""
        if self.register is None:
            return pd.DataFrame(columns=UNASSIGNED_COLUMNS)
        rows = self.register[self.register["distance_m"] > 0]
        pts = rows.geometry.to_crs(WGS84)
        return pd.DataFrame(
            {
                "der_id": rows["der_id"],
                "name": rows["name"],
                "technology": rows["technology"],
                "level": rows["level"],
                "capacity_mw": rows["capacity_mw"],
                "lat": pts.y,
                "lon": pts.x,
                "distance_m": rows["distance_m"].round(3),
                "nearest_ps_id": rows["nearest_ps_id"],
                "snapped": rows["snapped"],
            }
        )


UNASSIGNED_COLUMNS = [
    "der_id",
    "name",
    "technology",
    "level",
    "capacity_mw",
    "lat",
    "lon",
    "distance_m",
    "nearest_ps_id",
    "snapped",
]


def read_sites(path: Path, id_column: str = "ps_id") -> gpd.GeoDataFrame:
    """Read substations as points: a CSV (lat/lon) or a layer of points or polygons.

    Polygons (an OpenStreetMap ``power=substation`` export, say) are taken at their
    centroid, computed in the layer's local UTM zone. ``id_column`` names the column used as
    ``ps_id``; ``name``, ``rated_mva`` and the tap changers' band ``oltc_dv_down``,
    ``oltc_dv_up`` (:func:`atlas.inputs.tables.oltc_band_columns`) are optional.

    Returns
    -------
    geopandas.GeoDataFrame
        ps_id (str), name (str), rated_mva [MVA, NaN if absent], oltc_dv_down, oltc_dv_up
        [p.u., NaN where not given], point geometry in WGS84.
    """
    if path.name.lower().endswith((".csv", ".csv.gz")) and id_column == "ps_id":
        table = read_substations(path)
        return gpd.GeoDataFrame(
            table[["ps_id", "name", "rated_mva", *OLTC_COLUMNS]],
            geometry=gpd.points_from_xy(table["lon"], table["lat"]),
            crs=WGS84,
        )
    gdf = read_layer(path, "substations", ("Point", "Polygon", "MultiPolygon"))
    if id_column not in gdf.columns:
        raise AtlasInputError(
            path,
            "header",
            f"missing column {id_column!r} for the substation id (set [areas] substation_id)",
        )
    geoms = gdf.geometry
    if not (geoms.geom_type == "Point").all():
        local = metric_crs([gdf])
        geoms = geoms.to_crs(local).centroid.to_crs(gdf.crs)
    ids = gdf[id_column].astype("string").str.strip()
    raise_first_bad(
        ids.isna() | (ids == ""),
        path,
        id_column,
        "empty, expected a substation id",
        is_csv=False,
    )
    raise_first_bad(
        ids.duplicated(),
        path,
        id_column,
        lambda i: f"duplicate ps_id {ids.iloc[i]!r}, expected each PS once",
        is_csv=False,
    )
    rated = (
        pd.Series(to_float(gdf["rated_mva"]), index=gdf.index)
        if "rated_mva" in gdf.columns
        else pd.Series(np.nan, index=gdf.index)
    )
    name = gdf["name"].astype("string").fillna("") if "name" in gdf.columns else ids
    check_text(ids, path, id_column, MAX_ID_CHARS, is_csv=False)
    check_text(name, path, "name", MAX_NAME_CHARS, is_csv=False)
    dv_down, dv_up = oltc_band_columns(gdf, path, is_csv=False)
    out = gpd.GeoDataFrame(
        {
            "ps_id": ids.astype(str).to_numpy(),
            "name": name.astype(str).to_numpy(),
            "rated_mva": rated.to_numpy(dtype=float),
            "oltc_dv_down": dv_down,
            "oltc_dv_up": dv_up,
        },
        geometry=geoms.to_numpy(),
        crs=gdf.crs,
    )
    return out.to_crs(WGS84)


def _given_areas(
    path: Path, ps_ids: list[str], crs, tolerance_m2: float
) -> tuple[gpd.GeoDataFrame, AreaReport]:
    gdf = read_layer(path, "service areas", ("Polygon", "MultiPolygon"))
    if "ps_id" not in gdf.columns:
        raise AtlasInputError(
            path, "attributes", "missing attribute 'ps_id', expected the PS each area belongs to"
        )
    gdf["ps_id"] = gdf["ps_id"].astype("string").str.strip().astype(str)
    raise_first_bad(
        gdf["ps_id"].duplicated(),
        path,
        "ps_id",
        lambda i: (
            f"duplicate ps_id {gdf['ps_id'].iloc[i]!r}, expected one area per PS (use a MultiPolygon)"
        ),
        is_csv=False,
    )
    raise_first_bad(
        ~gdf["ps_id"].isin(ps_ids),
        path,
        "ps_id",
        lambda i: f"{gdf['ps_id'].iloc[i]!r} {unknown_ps(ps_ids)}",
        is_csv=False,
    )
    missing = [p for p in ps_ids if p not in set(gdf["ps_id"])]
    if missing:
        raise AtlasInputError(
            path, f"ps_id={missing[0]}", "no service area for this substation, expected one per PS"
        )
    areas = (
        gdf[["ps_id", gdf.geometry.name]].to_crs(crs).set_index("ps_id").loc[ps_ids].reset_index()
    )
    return resolve_overlaps(areas, tolerance_m2, path)


def build_geodata(
    study: Study, files: dict[str, Path], client: Client | str | None = None
) -> GeoStage:
    """Run the geodata stage of a study (see the module docstring).

    Parameters
    ----------
    study : Study
    files : dict
        ``study.input_files()``.
    client : distributed.Client or str, optional
        The dask cluster (or its scheduler's address) of ``[areas] join = "dask"``; by
        default as :func:`atlas.geo.dask_join.assign_register` chooses.

    Returns
    -------
    GeoStage
    """
    m = study.model
    opts = m.areas
    sites = read_sites(files["inputs.substations"], opts.substation_id)
    sites["oltc_dv_down"], sites["oltc_dv_up"] = m.oltc.bands(
        sites["ps_id"].tolist(),
        sites["oltc_dv_down"].to_numpy(dtype=float),
        sites["oltc_dv_up"].to_numpy(dtype=float),
    )
    layers = [sites]
    boundary_gdf = None
    if "inputs.boundary" in files:
        boundary_gdf = read_layer(files["inputs.boundary"], "boundary", ("Polygon", "MultiPolygon"))
        layers.append(boundary_gdf)
    crs = metric_crs(layers, None if opts.crs == "auto" else opts.crs)
    stage = GeoStage(crs=crs, sites=sites.to_crs(crs))
    ps_ids = PsIds(sites["ps_id"], source=files["inputs.substations"])
    if "inputs.service_areas" in files:
        stage.areas, stage.report = _given_areas(
            files["inputs.service_areas"], ps_ids, crs, opts.overlap_tolerance_m2
        )
    elif boundary_gdf is not None:
        parts = shapely.get_parts(boundary_gdf.to_crs(crs).geometry.to_numpy())
        sub_path = files["inputs.substations"]
        stage.warnings += settle(
            boundary_findings(
                stage.sites.geometry.to_numpy(),
                parts,
                ps_ids,
                sub_path,
                files["inputs.boundary"],
                m.checks.boundary_max_km,
                sites_are_csv=sub_path.name.lower().endswith((".csv", ".csv.gz")),
            ),
            m.checks.accept,
        )
        boundary = shapely.union_all(parts)
        stage.boundary, stage.voronoi = boundary, True
        try:
            stage.areas = voronoi_areas(stage.sites, boundary)
        except ValueError as exc:
            raise AtlasInputError(files["inputs.substations"], "sites", str(exc)) from None
    if stage.areas is not None:
        empty = shapely.is_empty(stage.areas.geometry.to_numpy())
        stage.report.empty_areas = sorted(str(p) for p in stage.areas["ps_id"].to_numpy()[empty])
        if empty.all():
            key = "inputs.service_areas" if "inputs.service_areas" in files else "inputs.boundary"
            raise AtlasInputError(
                files[key],
                "",
                "every service area is empty: "
                + (
                    "the layer holds no polygon, expected one per substation"
                    if key == "inputs.service_areas"
                    else "the boundary holds no polygon around the substations, expected "
                    "the study area (the substations' Voronoi cells are clipped to it)"
                ),
            )
    if "inputs.ders" in files:
        _join_register(stage, study, files, client)
    return stage


def _join_register(
    stage: GeoStage, study: Study, files: dict[str, Path], client: Client | str | None = None
) -> None:
    path = files["inputs.ders"]
    is_csv = path.name.lower().endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip"))
    assert stage.areas is not None  # a study with ders has service_areas or a boundary
    ids = stage.areas["ps_id"].to_numpy(dtype=object)
    if study.model.areas.join == "dask":  # a GeoParquet register, joined on the workers
        from atlas.geo.dask_join import assign_register

        raw, inside, nearest, distance = assign_register(
            path,
            stage.areas,
            client,
            sites=stage.sites if stage.voronoi else None,
            boundary=stage.boundary if stage.voronoi else None,
        )
        column = "capacity_kw" if "capacity_kw" in raw.columns else "capacity_mw"
        register = normalise_register(
            raw, path, study.scenarios, is_csv=False, warnings=stage.warnings
        )
        _check_not_empty(register, path)
    else:
        # in the metric CRS from the start (a CSV's points made there, not reprojected)
        raw = read_layer(path, "DER register", ("Point",), crs=stage.crs)
        column = "capacity_kw" if "capacity_kw" in raw.columns else "capacity_mw"
        register = normalise_register(
            raw, path, study.scenarios, is_csv=is_csv, warnings=stage.warnings
        )
        del raw  # a national register is large: one copy at a time
        _check_not_empty(register, path)
        inside, nearest, distance = stage.assign(register.geometry.to_numpy())
    checks = study.model.checks
    stage.warnings += settle(
        register_findings(register, path, column, checks.der_max_mw, is_csv=is_csv),
        checks.accept,
    )
    index = np.where(
        (inside < 0) & (distance <= study.model.areas.snap_distance_m), nearest, inside
    )
    if not (index >= 0).any():
        nearest_km = float(np.min(distance)) / 1000.0 if len(distance) else float("nan")
        source = files.get("inputs.service_areas") or files.get("inputs.boundary")
        n_empty, n_areas = len(stage.report.empty_areas), len(ids)
        if n_empty > n_areas / 2:  # the areas are the likelier fault: name them first
            raise AtlasInputError(
                source,
                "",
                f"{n_empty} of {n_areas} service areas are empty and none of the "
                f"{len(register)} installations of {path} lies in one, expected areas "
                "around the substations and the register (a boundary of the study area)",
            )
        raise AtlasInputError(
            path,
            "",
            f"none of its {len(register)} installations lies in a service area (the "
            f"nearest is {nearest_km:.3g} km outside the areas of {source}), expected points "
            "inside the study's areas: check that the register, the areas and the "
            "substations cover the same place and declare the CRS their coordinates are in",
        )
    register["ps_id"] = np.where(index >= 0, ids[np.maximum(index, 0)], "")
    register["distance_m"] = distance
    register["nearest_ps_id"] = np.where(nearest >= 0, ids[np.maximum(nearest, 0)], "")
    register["snapped"] = (index >= 0) & (distance > 0)
    stage.register = register
    # the columns the tables below read, not a copy of the whole register
    joined = register.loc[
        register["ps_id"] != "",
        [
            "scenario",
            "ps_id",
            "technology",
            "level",
            "location",
            "v2g",
            "capacity_mw",
            "energy_mwh",
        ],
    ]
    capacity = capacity_from_register(joined, study.scenarios)
    capacity = _add_growth(capacity, stage, study, files)
    stage.capacity = capacity
    stage.ev_points = ev_points_from_register(
        joined, study.scenarios, frozenset(study.model.ev.v2g_locations)
    )
    outside = np.flatnonzero(index < 0)
    if len(outside):  # never dropped silently: listed in unassigned_ders.csv, and said here
        where, line = record_label(outside[:5].tolist(), is_csv=is_csv)
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        stage.warnings.append(
            Finding(
                "unassigned_ders",
                str(path),
                where + more,
                f"{len(outside)} of {len(register)} installations "
                f"({float(register['capacity_mw'].to_numpy()[outside].sum()):.4g} MW) lie "
                "outside every service area: left out of the figures and listed in "
                "unassigned_ders.csv ([areas] snap_distance_m joins those near an area)",
                line,
            )
        )
    n_in = int(((index >= 0) & (distance == 0)).sum())
    stage.summary = {
        "ders_total": len(register),
        "ders_in_areas": n_in,
        "ders_snapped": int(register["snapped"].sum()),
        "ders_unassigned": int((index < 0).sum()),
        "capacity_unassigned_mw": float(register.loc[index < 0, "capacity_mw"].sum()),
        "snap_distance_m": study.model.areas.snap_distance_m,
    }


def _check_not_empty(register: pd.DataFrame, path: Path) -> None:
    if len(register) == 0:
        raise AtlasInputError(
            path, "", "holds no installation, expected one row (or point) per DER installation"
        )


def _add_growth(
    capacity: pd.DataFrame, stage: GeoStage, study: Study, files: dict[str, Path]
) -> pd.DataFrame:
    """Add each ``[[growth]]`` entry's MW to its scenario, split over the areas by its rule."""
    assert stage.areas is not None  # see _join_register
    ps_ids = list(stage.areas["ps_id"])
    rows = [capacity]
    for i, g in enumerate(study.model.growth):
        if g.added_mw == 0:
            continue
        if g.allocate == "capacity":
            base = capacity[
                (capacity["scenario"] == g.scenario) & (capacity["technology"] == g.technology)
            ]
            weights = base.groupby("ps_id")["capacity_mw"].sum().reindex(ps_ids, fill_value=0.0)
            what = f"existing {g.technology} capacity in {g.scenario!r}"
        elif g.allocate == "area":
            weights = area_table(stage.areas).set_index("ps_id")["area_km2"].reindex(ps_ids)
            what = "service area"
        else:
            weights = _weights(files[f"growth.{i}.weights"], g.weight_column, stage)
            what = f"weights {files[f'growth.{i}.weights'].name}"
        try:
            added = allocate_growth(g.added_mw, weights, what)
        except ValueError as exc:
            raise AtlasInputError(study.path, f"growth.{i}", str(exc)) from None
        rows.append(
            pd.DataFrame(
                {
                    "scenario": g.scenario,
                    "ps_id": added.index,
                    "technology": g.technology,
                    "level": g.level,
                    "capacity_mw": added.to_numpy(),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    keys = ["scenario", "ps_id", "technology", "level"]
    # batteries keep their rows (one per energy-per-MW group, capacity_from_register); growth
    # adds only technologies with a profile
    bess = out["technology"] == "bess"
    summed = out[~bess].groupby(keys, sort=True, as_index=False)["capacity_mw"].sum()
    summed["energy_mwh"] = np.nan
    if not bess.any():
        return summed
    both = pd.concat([summed, out[bess][summed.columns]], ignore_index=True)
    return both.sort_values(keys, kind="stable", ignore_index=True)


def _csv_header(path: Path) -> list[str]:
    """A CSV's column names, stripped (a file that cannot be read has none: its reader says
    why)."""
    try:
        return [str(c).strip() for c in pd.read_csv(path, nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError):
        return []


def _weights(path: Path, column: str | None, stage: GeoStage) -> pd.Series:
    """Weight of each service area from a table (ps_id, weight) or a layer.

    A point layer counts its points in each area (or sums ``column``); a polygon layer
    spreads ``column`` (or the polygons' area) over the areas in proportion to overlap.
    """
    assert stage.areas is not None  # see _join_register
    ps_ids = list(stage.areas["ps_id"])
    if path.name.lower().endswith(".csv") and "lat" not in _csv_header(path):
        return read_weights(path, ps_ids, column or "weight")
    layer = read_layer(path, "weight layer").to_crs(stage.crs)
    if column is not None and column not in layer.columns:
        raise AtlasInputError(
            path, "attributes", f"missing attribute {column!r} (growth weight_column)"
        )
    value = None
    if column:
        value = to_float(layer[column])
        value[np.isnan(value)] = 0.0
    geoms = layer.geometry.to_numpy()
    if (shapely.get_type_id(geoms) == 0).all():
        index, _, _ = stage.assign(geoms)
        w = np.ones(len(geoms)) if value is None else value
        total = np.bincount(index[index >= 0], weights=w[index >= 0], minlength=len(ps_ids))
        return pd.Series(total, index=ps_ids)
    areas = stage.areas.geometry.to_numpy()
    tree = shapely.STRtree(areas)
    li, ai = tree.query(geoms, predicate="intersects")
    overlap = shapely.area(shapely.intersection(geoms[li], areas[ai]))
    own = shapely.area(geoms[li])
    w = (
        overlap
        if value is None
        else value[li] * np.divide(overlap, own, out=np.zeros_like(overlap), where=own > 0)
    )
    return pd.Series(np.bincount(ai, weights=w, minlength=len(ps_ids)), index=ps_ids)
