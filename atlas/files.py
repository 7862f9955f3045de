"""Atomic writers and the run manifest.

Every output is written to a temporary file in the destination folder and moved into place
with :func:`os.replace`, so a reader never sees half a file and an interrupted run leaves the
previous file intact (file by file).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from atlas import __version__


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(dest: Path):
    """Yield a temporary path beside ``dest``; on success move it onto ``dest``.

    On error the temporary file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(dest: Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        writer(tmp)
    return Path(dest)


def write_text_atomic(dest: Path, text: str) -> Path:
    return write_atomic(dest, lambda p: p.write_text(text, encoding="utf-8"))


#: Characters kept as they are in a file or folder name made from an id.
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
#: Names Windows reserves whatever the extension.
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)


def safe_names(ids) -> dict[str, str]:
    """A file-system-safe, unique name for each id (a PS id, say), stable across runs.

    An id made only of ASCII letters, digits, ``-`` and ``_`` (at most 64 characters, not a
    reserved device name) keeps its name. Any other id gets its safe characters (others
    become ``_``) followed by ``-`` and eight hex digits of its SHA-256, so ``../../x`` or
    ``a/b`` never name a path outside the folder and two ids never share a name, even on a
    case-insensitive file system (ids differing only in case are both hashed).

    Parameters
    ----------
    ids : iterable of str

    Returns
    -------
    dict
        ``{id: name}``.
    """
    ids = list(dict.fromkeys(str(i) for i in ids))
    folded: dict[str, int] = {}
    for i in ids:
        folded[i.casefold()] = folded.get(i.casefold(), 0) + 1

    def plain(i: str) -> bool:
        return (
            0 < len(i) <= 64
            and set(i) <= _SAFE_CHARS
            and i.casefold() not in _RESERVED
            and folded[i.casefold()] == 1
        )

    out: dict[str, str] = {}
    for i in ids:
        if plain(i):
            out[i] = i
        else:
            stem = "".join(c if c in _SAFE_CHARS else "_" for c in i)[:48] or "id"
            out[i] = f"{stem}-{hashlib.sha256(i.encode('utf-8')).hexdigest()[:8]}"
    taken: dict[str, str] = {}
    for i, name in out.items():
        key = name.casefold()
        if key in taken:  # a plain id that looks like another's hashed name
            raise ValueError(f"ids {taken[key]!r} and {i!r} map to the same file name {name!r}")
        taken[key] = i
    return out


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_hourly(
    hourly: pd.DataFrame, out_dir: Path, formats: tuple[str, ...] = ("parquet",)
) -> list[Path]:
    """Write ``flexibility_hourly.parquet`` (and ``.csv`` if asked).

    Times are UTC; the CSV writes them as ISO 8601 with ``Z``.
    """
    written = []
    if "parquet" in formats:
        written.append(
            write_atomic(
                out_dir / "flexibility_hourly.parquet",
                lambda p: hourly.to_parquet(p, index=False, compression="zstd"),
            )
        )
    if "csv" in formats:
        csv = hourly.copy()
        csv["time"] = csv["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        written.append(
            write_atomic(
                out_dir / "flexibility_hourly.csv",
                lambda p: csv.to_csv(p, index=False, float_format="%.9g"),
            )
        )
    return written


def write_envelopes(envelopes: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``envelopes.csv``: scenario, ps_id, kind, wkt (P-Q plane, load convention)."""
    table = envelopes.drop(columns="geometry").assign(wkt=[g.wkt for g in envelopes["geometry"]])
    return write_atomic(out_dir / "envelopes.csv", lambda p: table.to_csv(p, index=False))


def manifest(
    study, inputs_files: dict[str, Path], parameters: dict, timings_s: dict, outputs: list[Path]
) -> dict:
    """The run manifest: inputs' checksums, parameters, versions and timings."""
    import numpy
    import pvlib
    import shapely

    return {
        "atlas_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "study": {
            "file": str(study.path),
            "sha256": sha256(study.path),
            **study.model.study.model_dump(),
        },
        "scenarios": study.scenarios,
        "inputs": {key: {"path": str(p), "sha256": sha256(p)} for key, p in inputs_files.items()},
        "settings": study.model.model_dump(mode="json", exclude={"study", "inputs"}),
        "capability_parameters": {
            f"{tech}/{level}": {
                "active_range": p.active_range,
                "pf_inject": p.pf_inject,
                "pf_absorb": p.pf_absorb,
                "p_min_pu": p.p_min_pu,
                "q_at_night": p.q_at_night,
                "source": p.source,
            }
            for (tech, level), p in sorted(parameters.items())
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "shapely": shapely.__version__,
            "pvlib": pvlib.__version__,
        },
        "timings_s": {k: round(v, 4) for k, v in timings_s.items()},
        "outputs": [p.name for p in outputs],
    }


def write_manifest(data: dict, out_dir: Path) -> Path:
    return write_text_atomic(out_dir / "run.json", json.dumps(data, indent=2, default=str) + "\n")


def service_area_table(geo, capacity: pd.DataFrame, scenarios: list[str]):
    """Service areas in EPSG:4326 with their capacities, ready for ``service_areas.geojson``.

    Columns: ps_id, name, rated_mva [MVA], site_lat, site_lon (the PS site) [deg],
    area_km2, ders (DER points joined, all scenarios' register rows counted once), and
    ``cap_{scenario}_{technology}_mw`` for every scenario and pv, chp, biomass, hydro. [MW]
    """
    import geopandas as gpd
    import shapely

    from atlas.conventions import CAPACITY_TECHNOLOGIES

    areas = geo.areas
    ps_ids = list(areas["ps_id"])
    sites = geo.sites.set_index("ps_id").loc[ps_ids]
    site_ll = sites.geometry.to_crs("EPSG:4326")
    table = pd.DataFrame(
        {
            "ps_id": ps_ids,
            "name": sites["name"].to_numpy(),
            "rated_mva": sites["rated_mva"].to_numpy(),
            "site_lat": site_ll.y.to_numpy(),
            "site_lon": site_ll.x.to_numpy(),
            "area_km2": shapely.area(areas.geometry.to_numpy()) / 1e6,
        }
    )
    if geo.register is not None:
        counts = geo.register[geo.register["ps_id"] != ""].groupby("ps_id").size()
        table["ders"] = counts.reindex(ps_ids, fill_value=0).to_numpy()
    pivot = capacity.groupby(["scenario", "technology", "ps_id"])["capacity_mw"].sum()
    for scenario in scenarios:
        for tech in CAPACITY_TECHNOLOGIES:
            key = (scenario, tech)
            values = (
                pivot.loc[key] if key in pivot.index.droplevel("ps_id") else pd.Series(dtype=float)
            )
            table[f"cap_{scenario}_{tech}_mw"] = values.reindex(ps_ids, fill_value=0.0).to_numpy()
    # RFC 7946 right-hand rule: exterior rings counter-clockwise
    geoms = shapely.orient_polygons(areas.geometry.to_numpy(), exterior_cw=False)
    return gpd.GeoDataFrame(table, geometry=geoms, crs=areas.crs).to_crs("EPSG:4326")


def write_service_areas(table, out_dir: Path) -> Path:
    """Write ``service_areas.geojson`` (EPSG:4326) atomically."""
    return write_atomic(
        out_dir / "service_areas.geojson",
        lambda p: table.to_file(p, driver="GeoJSON", layer="service_areas"),
    )


def write_capacity_table(capacity: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``capacity_by_ps.csv``: scenario, ps_id, technology, level, capacity_mw."""
    return write_atomic(
        out_dir / "capacity_by_ps.csv",
        lambda p: capacity.to_csv(p, index=False, float_format="%.9g"),
    )


#: Columns of ``der_register.csv``.
REGISTER_COLUMNS = [
    "der_id",
    "name",
    "technology",
    "level",
    "location",
    "v2g",
    "scenario",
    "capacity_mw",
    "ps_id",
    "lat",
    "lon",
]


def write_register(register, out_dir: Path) -> Path:
    """Write ``der_register.csv``: every DER of the register with the PS it joined.

    Columns :data:`REGISTER_COLUMNS`; ``ps_id`` is empty for a DER outside every area
    (those are listed in ``unassigned_ders.csv`` too), lat/lon in WGS84. [deg]
    """
    ll = register.geometry.to_crs("EPSG:4326")
    table = pd.DataFrame(
        {c: register[c].to_numpy() for c in REGISTER_COLUMNS if c not in ("lat", "lon")}
    )
    table["lat"], table["lon"] = ll.y.to_numpy(), ll.x.to_numpy()
    return write_atomic(
        out_dir / "der_register.csv", lambda p: table.to_csv(p, index=False, float_format="%.9g")
    )


def write_boundary(boundary, crs, out_dir: Path) -> Path:
    """Write ``boundary.geojson``: the study boundary in EPSG:4326, counter-clockwise."""
    import geopandas as gpd
    import shapely

    geom = shapely.orient_polygons(boundary, exterior_cw=False)
    table = gpd.GeoDataFrame({"name": ["boundary"]}, geometry=[geom], crs=crs).to_crs("EPSG:4326")
    return write_atomic(
        out_dir / "boundary.geojson",
        lambda p: table.to_file(p, driver="GeoJSON", layer="boundary"),
    )


def write_unassigned(table: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``unassigned_ders.csv``: DERs outside every service area (snapped ones flagged)."""
    return write_atomic(
        out_dir / "unassigned_ders.csv", lambda p: table.to_csv(p, index=False, float_format="%.9g")
    )
