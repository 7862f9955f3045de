"""Benchmark: the interactive map (atlas.present.webmap) of a SYNTHETIC 2,200-area run folder.

Nothing here is real data. The script writes a run folder with the schemas of ``atlas run`` +
``atlas screen`` (run.json, service_areas.geojson, boundary.geojson, screening.csv,
statistics.parquet, envelopes.csv, capacity_by_ps.csv, der_register.csv), then times
``build_map`` + rendering and prints the size of ``map.html``, offline (libraries inlined)
and online.

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


def ring(cx: float, cy: float, rx: float, ry: float, n: int, rng) -> str:
    """WKT of a convex-ish polygon of n vertices about (cx, cy). [MW, Mvar]"""
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    x = cx + rx * np.cos(t)
    y = cy + ry * np.sin(t) + 0.3 * ry * np.cos(t)
    pts = ", ".join(f"{a:.6f} {b:.6f}" for a, b in zip(x, y, strict=True))
    return f"POLYGON (({pts}, {x[0]:.6f} {y[0]:.6f}))"


def write_run(out: Path, n: int, ders_per_area: int, seed: int = SEED) -> Path:
    """Write the synthetic run folder; return it."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
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
    table = {
        "ps_id": ps,
        "name": names,
        "rated_mva": rated,
        "site_lat": shapely.get_y(site_ll),
        "site_lon": shapely.get_x(site_ll),
        "area_km2": shapely.area(cells_m) / 1e6,
        "ders": np.full(n, ders_per_area),
    }
    for (s, t), v in cap.items():
        table[f"cap_{s}_{t}_mw"] = v
    gpd.GeoDataFrame(table, geometry=cells, crs="EPSG:4326").to_file(
        out / "service_areas.geojson", driver="GeoJSON"
    )
    boundary = to_wgs84(np.array([shapely.box(*BOX).segmentize(1000.0)]))
    gpd.GeoDataFrame({"name": ["boundary"]}, geometry=boundary, crs="EPSG:4326").to_file(
        out / "boundary.geojson", driver="GeoJSON"
    )
    (out / "run.json").write_text(
        json.dumps(
            {
                "study": {
                    "name": f"synthetic-{n}",
                    "year": 2030,
                    "timezone": "Europe/Rome",
                    "description": "SYNTHETIC benchmark study (benchmarks/bench_map.py)",
                },
                "scenarios": SCENARIOS,
                "settings": {"profiles": {"pv": {"source": "clearsky"}}},
            }
        ),
        encoding="utf-8",
    )
    # screening.csv
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
    pd.concat(rows).to_csv(out / "screening.csv", index=False, float_format="%.6g")
    # statistics.parquet (long form)
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
    stats.to_parquet(out / "statistics.parquet", index=False)
    # envelopes.csv
    env = []
    for k in range(n):
        p0, q0 = rng.uniform(20, 200), rng.uniform(-5, 40)
        env.append(("as-is", ps[k], "year", ring(p0, q0, 40, 15, 68, rng)))
        env.append(("2030", ps[k], "year", ring(p0, q0, 50, 18, 68, rng)))
        env.append(("as-is", ps[k], "cloud_convex", ring(p0, q0, 30, 10, 17, rng)))
        env.append(("as-is", ps[k], "cloud_concave", ring(p0, q0, 25, 8, 38, rng)))
    pd.DataFrame(env, columns=["scenario", "ps_id", "kind", "wkt"]).to_csv(
        out / "envelopes.csv", index=False
    )
    # capacity_by_ps.csv
    cap_rows = [
        pd.DataFrame({"scenario": s, "ps_id": ps, "technology": t, "level": "MV", "capacity_mw": v})
        for (s, t), v in cap.items()
    ]
    pd.concat(cap_rows).to_csv(out / "capacity_by_ps.csv", index=False, float_format="%.9g")
    # der_register.csv: points inside each area's site neighbourhood
    m = n * ders_per_area
    owner = np.repeat(np.arange(n), ders_per_area)
    pts = sites_m[owner] + rng.normal(0, 1500.0, (m, 2))
    ll = to_wgs84(shapely.points(pts))
    tech = rng.choice(TECHS, m, p=[0.7, 0.05, 0.05, 0.05, 0.15])
    pd.DataFrame(
        {
            "der_id": [f"D{k:07d}" for k in range(m)],
            "name": "",
            "technology": tech,
            "level": np.where(tech == "pv", "LV", "MV"),
            "location": np.where(tech == "ev", "home", ""),
            "v2g": "",
            "scenario": rng.choice(["", "2030"], m, p=[0.8, 0.2]),
            "capacity_mw": np.round(rng.lognormal(-3, 1, m), 4),
            "ps_id": ps[owner],
            "lat": shapely.get_y(ll),
            "lon": shapely.get_x(ll),
        }
    ).to_csv(out / "der_register.csv", index=False, float_format="%.9g")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=2200)
    parser.add_argument("--ders-per-area", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temp dir)")
    parser.add_argument("--browser", action="store_true", help="time the page in Chromium")
    args = parser.parse_args()

    from atlas.present.webmap import build_map, render_map

    out = args.out or Path(tempfile.mkdtemp(prefix="atlas-bench-map-"))
    t0 = time.perf_counter()
    write_run(out, args.areas, args.ders_per_area)
    t_write = time.perf_counter() - t0
    areas = json.loads((out / "service_areas.geojson").read_text(encoding="utf-8"))
    n_vertices = sum(
        int(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])))
        for f in areas["features"]
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"synthetic run: {args.areas} areas ({n_vertices:,} vertices, service_areas.geojson "
        f"{(out / 'service_areas.geojson').stat().st_size / 1e6:.1f} MB), "
        f"{args.areas * args.ders_per_area:,} DERs, written in {t_write:.1f} s to {out}"
    )
    for offline in (True, False):
        t0 = time.perf_counter()
        m = build_map(out, offline=offline)
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
