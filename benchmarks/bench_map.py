"""Benchmark: the interactive map (atlas.present.webmap) of a SYNTHETIC 2,200-area run.

Nothing here is real data. The script builds a :class:`atlas.runfolder.Run` in memory with
the tables and manifest of ``atlas run`` (substations, capacities, EV, envelopes, statistics,
screening, service areas, boundary, DER register; the settings as ``run_study`` records them),
saves it once to a run folder to report its size, then times ``build_map(run)`` + rendering
and prints the size of the map's HTML, offline (libraries inlined) and online. The HTML files
are written beside the run folder, not into it (a run folder holds only a run's own files).

- Service areas: Voronoi cells of N random sites in a 500 km x 440 km box of northern Italy,
  their edges cut into 50 m segments and every vertex moved by a smooth function of its
  position (amplitude about 40 m, wavelengths 0.3 to 4 km) so that the outlines look like
  administrative borders (about 1.3 million vertices for 2,200 areas) and neighbours still
  share their borders exactly.
- Figures: random log-normal firm values and means per scenario, PS and direction; year
  statistics, monthly boxes and month x hour means and shares in the long form of
  statistics.parquet (11.5 million rows for 2,200 PS).
- Envelopes: per PS the as-is cloud's convex (17 vertices) and concave (38) hulls and a yearly
  envelope per scenario (68 vertices), the demo's mean vertex counts.
- DER register: ``--ders-per-area`` random points per area (default 30) of the five
  technologies.

    python benchmarks/bench_map.py [--areas 2200] [--ders-per-area 30] [--out DIR] [--browser]

``--out`` gets ``run/`` (the saved run folder), ``map_offline.html`` and ``map_online.html``.
With ``--browser`` the offline map is also opened from file:// in Debian's headless Chromium
(/usr/bin/chromium, driven by Playwright, every other request aborted) and the time until the
page is ready (all layers and controls built) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

SEED = 2200
SCENARIOS = ["as-is", "2030"]
DIRECTIONS = {"p_up": "MW", "p_down": "MW", "q_up": "Mvar", "q_down": "Mvar"}
TECHS = ["pv", "chp", "biomass", "hydro", "ev"]
#: The box of the synthetic study, in UTM zone 32N. [m]
BOX = (300_000.0, 4_850_000.0, 800_000.0, 5_290_000.0)


def wiggle(xy: np.ndarray) -> np.ndarray:
    """Move points by a smooth function of their own position (same point, same move). [m]"""
    x, y = xy[:, 0], xy[:, 1]
    dx = 25 * np.sin(y / 640.0) + 12 * np.sin((x + y) / 170.0) + 6 * np.cos(x / 55.0)
    dy = 25 * np.cos(x / 590.0) + 12 * np.cos((x - y) / 190.0) + 6 * np.sin(y / 48.0)
    return np.column_stack([x + dx, y + dy])


def service_areas(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ragged Voronoi cells of n random sites in BOX (UTM 32N): (sites (n, 2), cells (n,))."""
    x0, y0, x1, y1 = BOX
    sites = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    box = shapely.box(*BOX)
    cells = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=box)
    cells = np.asarray(shapely.get_parts(cells))
    cells = shapely.intersection(cells, box)
    # each cell to its site (voronoi_polygons does not keep the input order)
    tree = shapely.STRtree(cells)
    site_idx, cell_idx = tree.query(shapely.points(sites), predicate="within")
    ordered = np.empty(n, dtype=object)
    ordered[site_idx] = cells[cell_idx]
    dense = shapely.segmentize(ordered, 50.0)
    # snap to 1 mm first so that both sides of a shared edge move their vertices alike
    ragged = shapely.transform(dense, lambda c: wiggle(np.round(c, 3)))
    return sites, shapely.make_valid(ragged)


def to_wgs84(geoms: np.ndarray) -> np.ndarray:
    t = Transformer.from_crs("EPSG:32632", "EPSG:4326", always_xy=True)

    def f(c):
        x, y = t.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def ring(cx: float, cy: float, rx: float, ry: float, n: int, rng) -> shapely.Polygon:
    """A convex-ish polygon of n vertices about (cx, cy), to 1e-6. [MW, Mvar]"""
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    x = cx + rx * np.cos(t)
    y = cy + ry * np.sin(t) + 0.3 * ry * np.cos(t)
    return shapely.Polygon(np.round(np.column_stack([x, y]), 6))


def manifest(n: int) -> dict:
    """run.json of the synthetic run, with the keys and settings ``run_study`` records."""
    from atlas import __version__
    from atlas.engine.capability import default_parameters
    from atlas.inputs.study import StudyModel
    from atlas.runfolder import FORMAT_VERSION, capability_table, json_ready

    model = StudyModel.model_validate(
        {
            "study": {
                "name": f"synthetic-{n}",
                "year": 2030,
                "timezone": "Europe/Rome",
                "description": "SYNTHETIC benchmark study (benchmarks/bench_map.py)",
            },
            "inputs": {
                "substations": "substations.csv",
                "load": "load.csv",
                "service_areas": "service_areas.geojson",
                "ders": "ders.csv",
            },
            "profiles": {
                "pv": {"source": "clearsky"},
                "ev": {"source": "shapes", "energy_mwh": {"2030": 40.0 * n}},
            },
            "scenarios": {"names": SCENARIOS},
        }
    )
    settings = model.model_dump(mode="json", exclude={"study", "inputs"})
    settings |= {"figures": "none", "map": "offline", "formats": ["parquet"]}
    return json_ready(
        {
            "format_version": FORMAT_VERSION,
            "atlas_version": __version__,
            "created_utc": "2030-01-01T00:00:00+00:00",
            "study": {"file": "SYNTHETIC", "sha256": "", **model.study.model_dump()},
            "scenarios": SCENARIOS,
            "inputs": {},
            "settings": settings,
            "overrides": {},
            "capability_parameters": capability_table(default_parameters()),
            "versions": {"python": platform.python_version(), "shapely": shapely.__version__},
            "summary": {
                "substations": n,
                "service_areas": "given",
                "metric_crs": "EPSG:32632",
                "slivers_resolved": 0,
                "sliver_area_m2": 0.0,
                "empty_areas": [],
            },
            "figures": {},
            "figures_written": 0,
            "timings_s": {},
        }
    )


def synthetic_run(n: int, ders_per_area: int, seed: int = SEED):
    """The synthetic run of n areas, in memory (:class:`atlas.runfolder.Run`)."""
    import geopandas as gpd

    from atlas.runfolder import UNASSIGNED_SCHEMA, Run, conform

    rng = np.random.default_rng(seed)
    ps = np.array([f"PS{k:04d}" for k in range(n)])
    names = np.array([f"Synthetic PS {k}" for k in range(n)])
    sites_m, cells_m = service_areas(n, rng)
    cells = to_wgs84(cells_m)
    site_ll = to_wgs84(shapely.points(sites_m))
    rated = rng.choice([126.0, 189.0, 250.0, 376.0], n)
    cap = {
        (s, t): np.round(rng.lognormal(0.0, 1.0, n) * g * f, 4)
        for s, g in (("as-is", 1.0), ("2030", 2.0))
        for t, f in (("pv", 3.0), ("chp", 5.0), ("biomass", 0.5), ("hydro", 0.3))
    }
    substations = pd.DataFrame(
        {
            "ps_id": ps,
            "name": names,
            "lat": shapely.get_y(site_ll),
            "lon": shapely.get_x(site_ll),
            "rated_mva": rated,
        }
    )
    # counter-clockwise exterior rings (RFC 7946), as the geodata stage gives them
    areas = gpd.GeoDataFrame(
        {"ps_id": ps}, geometry=shapely.orient_polygons(cells, exterior_cw=False), crs="EPSG:4326"
    )
    boundary = gpd.GeoDataFrame(
        {"name": ["boundary"]},
        geometry=shapely.orient_polygons(
            to_wgs84(np.array([shapely.box(*BOX).segmentize(1000.0)])), exterior_cw=False
        ),
        crs="EPSG:4326",
    )
    # screening
    rows = []
    figs = {}
    for s in SCENARIOS:
        for d, unit in DIRECTIONS.items():
            mean = rng.lognormal(0.5, 1.0, n)
            firm = mean * rng.uniform(0.3, 1.0, n)
            figs[(s, d)] = (firm, mean)
            rows.append(
                pd.DataFrame(
                    {
                        "scenario": s,
                        "ps_id": ps,
                        "name": names,
                        "direction": d,
                        "threshold": 10.0,
                        "unit": unit,
                        "availability": 0.9,
                        "firm": firm,
                        "mean": mean,
                        "share_at_or_above": np.clip(mean / 20.0, 0, 1),
                        "meets": firm >= 10.0,
                        "longest_run_h": rng.integers(0, 8760, n),
                        "hours_over_rating": 0,
                    }
                )
            )
    screening = pd.concat(rows, ignore_index=True)
    # statistics (long form)
    parts = []
    for (s, d), (firm, mean) in figs.items():
        base = {"scenario": s, "figure": d}
        for stat, v in (
            ("mean", mean),
            ("std", mean * 0.3),
            ("min", firm * 0.5),
            ("p10", firm),
            ("p50", mean),
            ("p90", mean * 1.4),
            ("max", mean * 1.8),
        ):
            parts.append(pd.DataFrame({**base, "ps_id": ps, "statistic": stat, "value": v}))
        months = np.repeat(np.arange(1, 13), n)
        for stat in ("box_min", "box_q1", "box_median", "box_q3", "box_max", "longest_run_h"):
            parts.append(
                pd.DataFrame(
                    {
                        **base,
                        "ps_id": np.tile(ps, 12),
                        "statistic": stat,
                        "month": months,
                        "value": rng.uniform(0, 20, 12 * n),
                    }
                )
            )
        m = np.repeat(np.arange(1, 13), 24)
        h = np.tile(np.arange(24), 12)
        day = np.clip(np.sin(np.pi * (h - 6) / 12), 0, 1)
        season = 0.6 + 0.4 * np.cos(2 * np.pi * (m - 7) / 12)
        for stat, cell in (
            ("mean", np.outer(mean, day * season + 0.5)),
            ("share_at_or_above", np.clip(np.outer(mean / 10.0, day * season), 0, 1)),
        ):
            parts.append(
                pd.DataFrame(
                    {
                        **base,
                        "ps_id": np.repeat(ps, 288),
                        "statistic": stat,
                        "month": np.tile(m, n),
                        "hour": np.tile(h, n),
                        "value": cell.ravel(),
                    }
                )
            )
    stats = pd.concat(parts, ignore_index=True)
    stats["month"] = stats["month"].astype("Int8")
    stats["hour"] = stats["hour"].astype("Int8")
    stats = stats[["scenario", "ps_id", "figure", "statistic", "month", "hour", "value"]]
    # envelopes (P-Q polygons)
    env = []
    for k in range(n):
        p0, q0 = rng.uniform(20, 200), rng.uniform(-5, 40)
        env.append(("as-is", ps[k], "year", ring(p0, q0, 40, 15, 68, rng)))
        env.append(("2030", ps[k], "year", ring(p0, q0, 50, 18, 68, rng)))
        env.append(("as-is", ps[k], "cloud_convex", ring(p0, q0, 30, 10, 17, rng)))
        env.append(("as-is", ps[k], "cloud_concave", ring(p0, q0, 25, 8, 38, rng)))
    envelopes = pd.DataFrame(env, columns=["scenario", "ps_id", "kind", "geometry"])
    # capacities
    capacity = pd.concat(
        [
            pd.DataFrame(
                {"scenario": s, "ps_id": ps, "technology": t, "level": "MV", "capacity_mw": v}
            )
            for (s, t), v in cap.items()
        ],
        ignore_index=True,
    )
    # DER register: points inside each area's site neighbourhood
    m = n * ders_per_area
    owner = np.repeat(np.arange(n), ders_per_area)
    pts = sites_m[owner] + rng.normal(0, 1500.0, (m, 2))
    ll = to_wgs84(shapely.points(pts))
    tech = rng.choice(TECHS, m, p=[0.7, 0.05, 0.05, 0.05, 0.15])
    register = pd.DataFrame(
        {
            "der_id": [f"D{k:07d}" for k in range(m)],
            "name": "",
            "technology": tech,
            "level": np.where(tech == "pv", "LV", "MV"),
            "location": np.where(tech == "ev", "home", ""),
            "v2g": np.nan,
            "scenario": rng.choice(["", "2030"], m, p=[0.8, 0.2]),
            "capacity_mw": np.round(rng.lognormal(-3, 1, m), 4),
            "ps_id": ps[owner],
            "lat": shapely.get_y(ll),
            "lon": shapely.get_x(ll),
        }
    )
    # EV: the register's charging points (a row without a scenario counts in every one) and
    # the 2030 energy of [profiles.ev] shared by charging points
    run_manifest = manifest(n)
    ev_rows = []
    chargers = register[register["technology"] == "ev"]
    energy = run_manifest["settings"]["profiles"]["ev"]["energy_mwh"]
    for s in SCENARIOS:
        mine = chargers[chargers["scenario"].isin(["", s])]
        points = mine.groupby("ps_id").size().reindex(ps, fill_value=0).to_numpy()
        mwh = energy.get(s, 0.0) * points / max(points.sum(), 1)
        ev_rows.append(
            pd.DataFrame({"scenario": s, "ps_id": ps, "charging_points": points, "energy_mwh": mwh})
        )
    return Run(
        manifest=run_manifest,
        substations=substations,
        capacity=capacity,
        ev=pd.concat(ev_rows, ignore_index=True),
        envelopes=envelopes,
        statistics_table=stats,
        screening=screening,
        areas=areas,
        boundary=boundary,
        register=register,
        unassigned=conform(pd.DataFrame(), UNASSIGNED_SCHEMA),
    )


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=2200)
    parser.add_argument("--ders-per-area", type=int, default=30)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for run/ (the saved run) and the maps' HTML (default: a temp dir)",
    )
    parser.add_argument("--browser", action="store_true", help="time the page in Chromium")
    args = parser.parse_args()

    from atlas.present.webmap import build_map, render_map
    from atlas.runfolder import AREAS_GEOJSON

    out = args.out or Path(tempfile.mkdtemp(prefix="atlas-bench-map-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run = synthetic_run(args.areas, args.ders_per_area)
    t_make = time.perf_counter() - t0
    folder = out / "run"
    t0 = time.perf_counter()
    run.save(folder)
    t_save = time.perf_counter() - t0
    n_vertices = int(shapely.get_num_coordinates(run.areas.geometry.to_numpy()).sum())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"synthetic run: {args.areas} areas ({n_vertices:,} vertices, service_areas.geojson "
        f"{(folder / AREAS_GEOJSON).stat().st_size / 1e6:.1f} MB), "
        f"{args.areas * args.ders_per_area:,} DERs, built in memory in {t_make:.1f} s, "
        f"saved in {t_save:.1f} s to {folder} ({folder_size(folder) / 1e6:.1f} MB)"
    )
    for offline in (True, False):
        t0 = time.perf_counter()
        m = build_map(run, offline=offline)
        t_build = time.perf_counter() - t0
        text = render_map(m)
        t_total = time.perf_counter() - t0
        path = out / ("map_offline.html" if offline else "map_online.html")
        path.write_text(text, encoding="utf-8")
        data = text.split('id="atlas-data">', 1)[1].split("</script>", 1)[0]
        parts = json.loads(data)
        sizes = {
            k: len(json.dumps(parts[k], separators=(",", ":"), ensure_ascii=False).encode()) / 1e6
            for k in ("areas", "fig", "env", "heat", "der", "cap", "ps")
        }
        kept = sum(len(r) // 2 for f in parts["areas"]["features"] for p in f for r in p)
        print(
            f"{'offline' if offline else 'online '} map.html: {path.stat().st_size / 1e6:6.2f} MB, "
            f"build {t_build:.1f} s + render {t_total - t_build:.1f} s = {t_total:.1f} s"
        )
        if offline:
            print(
                f"  area vertices kept: {kept:,} of {n_vertices:,} "
                f"(tolerance {parts['areas']['tolerance_m']:g} m)"
            )
            print("  payload parts [MB]: " + ", ".join(f"{k} {v:.2f}" for k, v in sizes.items()))

    if args.browser:
        print(browser_timing(out / "map_offline.html"))


def browser_timing(path: Path) -> str:
    """Open a map in headless Chromium from file:// and time it until the page is ready."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from map_fixtures import offline_browser

    with offline_browser() as (context, blocked):
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri())
        page.wait_for_function("() => window.atlasApp && window.atlasApp.legend", timeout=120_000)
        ready = time.perf_counter() - t0
        n = page.locator("path.atlas-area").count()
        t0 = time.perf_counter()
        page.locator("label", has_text="2030 · downward Q").click()
        switch = time.perf_counter() - t0
        page.close()
    return (
        f"headless Chromium: page ready in {ready:.1f} s ({n} areas drawn), layer switch "
        f"{switch:.2f} s, {len(errors)} errors, {len(blocked)} requests outside file://"
    )


if __name__ == "__main__":
    main()
