"""The interactive map (atlas.present.webmap), without a browser: the page's data, escaping, offline
assets and the errors on bad run folders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from map_fixtures import (
    HOSTILE_DER,
    HOSTILE_ID,
    HOSTILE_PS,
    copy_run,
    hostile_run,
    run_study,
)

from atlas.errors import AtlasInputError
from atlas.present.webmap import (
    ENVELOPE_GRID,
    HEAT_LEVELS,
    build_map,
    color_scale,
    render_map,
    scale_t,
    script_json,
    simplify_polygons,
    write_map,
)
from atlas.runfolder import Run


def build(folder: Path, **kwargs):
    """The map of the run saved in ``folder``."""
    return build_map(Run.load(folder), **kwargs)


DIRS = ["p_up", "p_down", "q_up", "q_down"]


def page_data(text: str) -> dict:
    """The JSON the page carries (its ``atlas-data`` script element)."""
    m = re.search(r'<script type="application/json" id="atlas-data">(.*?)</script>', text, re.S)
    assert m, "no atlas-data element in the page"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def demo(demo_run_dir) -> Path:
    return demo_run_dir


@pytest.fixture(scope="module")
def offline_html(demo) -> str:
    return render_map(build(demo, offline=True))


@pytest.fixture(scope="module")
def online_html(demo) -> str:
    return render_map(build(demo, offline=False))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, tiny) -> Path:
    return hostile_run(tmp_path_factory, tiny)


@pytest.fixture(scope="module")
def screening(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "screening.csv", dtype={"ps_id": str, "scenario": str})


def decode(polys: list, decimals: int) -> shapely.MultiPolygon:
    """An encoded geometry (rings of integer steps, closing vertex left out) as shapely."""
    parts = []
    for rings in polys:
        xy = [np.cumsum(np.reshape(r, (-1, 2)), axis=0) / 10**decimals for r in rings]
        parts.append(shapely.Polygon(xy[0], xy[1:]))
    return shapely.MultiPolygon(parts)


def test_one_feature_per_service_area(demo, offline_html):
    areas = gpd.read_file(demo / "service_areas.geojson")
    data = page_data(offline_html)
    features = data["areas"]["features"]
    assert len(features) == len(data["ps"]["id"]) == len(areas) == 30
    assert data["ps"]["id"] == areas["ps_id"].astype(str).tolist()
    # each simplified area stays close to its original: tolerance 10 m for the demo (1/300 of
    # the median area's width is 8.1 m), coordinates rounded to 1e-5 deg
    assert np.sqrt(np.median(areas.to_crs(32632).area)) / 300 == pytest.approx(8.1, abs=0.05)
    assert data["areas"]["tolerance_m"] == 10.0
    shown = np.array([decode(f, data["coord_decimals"]) for f in features])
    assert shapely.is_valid(shown).all()
    metric = gpd.GeoSeries(shown, crs=4326).to_crs(32632)
    original = areas.geometry.to_crs(32632)
    assert (metric.hausdorff_distance(original, align=False) < 25.0).all()
    assert (np.abs(metric.area / original.area - 1) < 0.01).all()
    # and fewer vertices than written
    assert sum(sum(len(r) // 2 for r in p) for f in features for p in [f[0]]) < sum(
        shapely.get_num_coordinates(areas.geometry.to_numpy())
    )


def test_default_layer_is_the_last_scenarios_upward_active_power(offline_html):
    data = page_data(offline_html)
    assert data["scenario"] == "2030" and data["default_layer"] == "2030|p_up"
    keys = [layer["key"] for layer in data["layers"]]
    # the chosen scenario (the what-if's base), then the others in study order
    order = ("2030", "as-is", "2030+storage")
    # then the what-if's gain over its base, per direction
    gains = [f"2030+storage|{d}|gain" for d in DIRS]
    assert keys == [f"{s}|{d}" for s in order for d in DIRS] + gains
    assert data["heat"]["scenario"] == "2030"
    # the layer control lists them as radio buttons (base layers), in that order
    block = offline_html.split("base_layers : {", 1)[1].split("}", 1)[0]
    names = [json.loads(k) for k in re.findall(r'("(?:[^"\\]|\\.)*") : atlas_layer_', block)]
    labels = [
        ("upward", "P", "MW"),
        ("downward", "P", "MW"),
        ("upward", "Q", "Mvar"),
        ("downward", "Q", "Mvar"),
    ]
    assert [re.sub("<[^>]+>", "", n) for n in names] == [
        f"{s} · {w} {pq} [{u}]" for s in order for w, pq, u in labels
    ] + [f"2030+storage gain · {w} {pq} [{u}]" for w, pq, u in labels]


def test_scenario_argument_chooses_the_colours_and_heatmaps(demo):
    data = page_data(render_map(build(demo, scenario="as-is", offline=True)))
    assert data["default_layer"] == "as-is|p_up"
    assert data["layers"][0]["scenario"] == "as-is"
    assert data["heat"]["scenario"] == "as-is"


def test_colour_scale_ends_are_the_datas_min_and_max(offline_html, screening):
    data = page_data(offline_html)
    for layer in data["layers"]:
        if "base" in layer:
            continue  # test_gain_layers_colour_by_the_what_ifs_increase
        rows = screening[
            (screening["scenario"] == layer["scenario"])
            & (screening["direction"] == layer["direction"])
        ]
        for metric in ("firm", "mean"):
            s = layer["scales"][metric]
            assert s["vmin"] == pytest.approx(rows[metric].min(), abs=1e-4)
            assert s["vmax"] == pytest.approx(rows[metric].max(), abs=1e-4)
            # the values the page colours with reach exactly the ends of the scale
            col = data["fig"]["cols"].index(metric)
            values = [r[col] for r in data["fig"]["data"][layer["scenario"]][layer["direction"]]]
            assert min(values) == s["vmin"] and max(values) == s["vmax"]
            t = scale_t(np.array(values), s["vmin"], s["vmax"], s["k"])
            assert t.max() == 1.0 and t.min() == 0.0
            # legend ticks: the two ends, labelled, and round values in between
            ticks = s["ticks"]
            assert ticks[0][:2] == [s["vmin"], 0.0] and ticks[-1][:2] == [s["vmax"], 1.0]
            assert ticks[0][2] == f"{s['vmin']:.2f}" and ticks[-1][2] == f"{s['vmax']:.2f}"
            inner = [t[0] for t in ticks[1:-1]]
            assert all(s["vmin"] < v < s["vmax"] for v in inner)
            assert all(float(f"{v:.0e}") == v for v in inner)
        assert layer["unit"] == ("MW" if layer["direction"].startswith("p") else "Mvar")
        assert layer["threshold"] == 10.0
        assert layer["n_meets"] == int(rows["meets"].sum())


def test_gain_layers_colour_by_the_what_ifs_increase(offline_html, screening):
    data = page_data(offline_html)
    gains = [layer for layer in data["layers"] if "base" in layer]
    assert [(g["scenario"], g["base"], g["direction"]) for g in gains] == [
        ("2030+storage", "2030", d) for d in DIRS
    ]
    wide = screening.pivot_table(
        index=["direction", "ps_id"], columns="scenario", values=["firm", "mean", "meets"]
    )
    for layer in gains:
        d = layer["direction"]
        for metric in ("firm", "mean"):
            gain = (wide[(metric, "2030+storage")] - wide[(metric, "2030")]).loc[d]
            s = layer["scales"][metric]
            assert s["vmin"] == pytest.approx(gain.min(), abs=2e-4)
            assert s["vmax"] == pytest.approx(gain.max(), abs=2e-4)
        # the demo's what-if adds resources at PS Sud only: a gain there, none elsewhere
        firm = (wide[("firm", "2030+storage")] - wide[("firm", "2030")]).loc[d]
        assert firm.drop("SUD").abs().max() < 1e-9
        assert firm["SUD"] == pytest.approx({"p_up": 9.5, "p_down": 10.0}.get(d, 25.0), abs=1e-4)
        assert layer["scales"]["firm"]["vmax"] == pytest.approx(firm["SUD"], abs=1e-4)
        # outlines and the legend's count are the what-if's
        assert layer["n_meets"] == int(wide[("meets", "2030+storage")].loc[d].sum())
        assert layer["threshold"] == 10.0


def test_gain_scale_of_values_at_or_below_zero():
    # every value takes the bottom colour; the ends are still the data's, no round values
    s = color_scale(np.array([-2.0, -1.0]))
    assert (s["vmin"], s["vmax"]) == (-2.0, -1.0)
    assert [t[2] for t in s["ticks"]] == ["-2.00", "-1.00"]
    assert scale_t(np.array([-2.0, -1.0]), -2.0, -1.0, s["k"]).tolist() == [0.0, 0.0]


def test_no_gain_layers_without_a_what_if(demo, tmp_path):
    run_dir = copy_run(demo, tmp_path / "run")
    manifest = json.loads((run_dir / "run.json").read_text())
    del manifest["what_if"]
    (run_dir / "run.json").write_text(json.dumps(manifest))
    data = page_data(render_map(build(run_dir, offline=True)))
    assert not any("base" in layer for layer in data["layers"])
    assert len(data["layers"]) == 12


def test_colour_scale_by_hand():
    s = color_scale(np.array([0.0, 1.0, np.nan, 100.0]))
    assert (s["vmin"], s["vmax"], s["k"]) == (0.0, 100.0, 0.1)
    # log(1 + v / k): 1 MW sits at log(11) / log(1001) of the bar
    assert scale_t(1.0, 0.0, 100.0, 0.1) == pytest.approx(np.log(11) / np.log(1001))
    # 1, 10 first; 0.1 (t = 0.100) is too close to the 0 end, 0.2 (t = 0.159) is not
    assert [t[2] for t in s["ticks"]] == ["0.00", "0.2", "1", "10", "100.00"]
    assert color_scale(np.array([np.nan]))["vmin"] is None
    flat = color_scale(np.array([2.0, 2.0]))
    assert flat["vmin"] == flat["vmax"] == 2.0 and flat["ticks"] == [[2.0, 0.0, "2.00"]]


def test_popup_figures_are_the_screening_and_statistics(demo, offline_html, screening):
    data = page_data(offline_html)
    stats = pd.read_parquet(demo / "statistics.parquet")
    cols = data["fig"]["cols"]
    i = data["ps"]["id"].index("SUD")
    for sc in ("as-is", "2030"):
        for d in DIRS:
            row = dict(zip(cols, data["fig"]["data"][sc][d][i], strict=True))
            want = screening[
                (screening["scenario"] == sc)
                & (screening["ps_id"] == "SUD")
                & (screening["direction"] == d)
            ].iloc[0]
            assert row["firm"] == pytest.approx(want["firm"], abs=1e-4)
            assert row["mean"] == pytest.approx(want["mean"], abs=1e-4)
            assert row["share"] == pytest.approx(want["share_at_or_above"], abs=1e-4)
            assert row["meets"] == int(bool(want["meets"]))
            assert row["run_h"] == want["longest_run_h"]
            year = stats[
                (stats["scenario"] == sc)
                & (stats["ps_id"] == "SUD")
                & (stats["figure"] == d)
                & stats["month"].isna()
            ].set_index("statistic")["value"]
            for k in ("min", "p10", "p50", "p90", "max"):
                assert row[k] == pytest.approx(year[k], abs=1e-4)
    # PS Sud's 2030 capacities are the seed paper's (MW): PV 16, CHP 29, hydro 0.42
    cap = dict(zip(data["cap"]["techs"], data["cap"]["data"]["2030"][i], strict=True))
    assert cap["pv"] == 16.0 and cap["chp"] == 29.0 and cap["hydro"] == 0.42


def test_heatmap_codes_are_the_month_hour_shares(demo, offline_html):
    data = page_data(offline_html)
    stats = pd.read_parquet(demo / "statistics.parquet")
    i = data["ps"]["id"].index("SUD")
    codes = data["heat"]["codes"]
    for f, d in enumerate(DIRS):
        text = data["heat"]["data"][i][f]
        assert len(text) == 288
        cells = stats[
            (stats["scenario"] == "2030")
            & (stats["ps_id"] == "SUD")
            & (stats["figure"] == d)
            & (stats["statistic"] == "share_at_or_above")
            & stats["hour"].notna()
        ]
        shown = np.array(
            [codes.index(text[(m - 1) * 24 + h]) for m, h in cells[["month", "hour"]].to_numpy(int)]
        )
        assert (
            np.abs(shown / HEAT_LEVELS - cells["value"].to_numpy()).max()
            <= 0.5 / HEAT_LEVELS + 1e-9
        )


def test_envelope_rings_span_each_ps_box(demo, offline_html):
    data = page_data(offline_html)
    env = pd.read_csv(demo / "envelopes.csv", dtype=str)
    i = data["ps"]["id"].index("SUD")
    item = data["env"]["data"][i]
    polys = [shapely.from_wkt(w) for w in env.loc[env["ps_id"] == "SUD", "wkt"]]
    x0, y0, x1, y1 = shapely.total_bounds(polys)
    assert item["b"] == pytest.approx([x0, y0, x1, y1], abs=1e-3)
    kinds = sorted((data["env"]["kinds"][r[0]], data["scenarios"][r[1]]) for r in item["r"])
    assert kinds == [
        ("cloud_concave", "as-is"),
        ("cloud_convex", "as-is"),
        ("year", "2030"),
        ("year", "2030+storage"),
        ("year", "as-is"),
    ]
    flat = np.concatenate([r[2] for r in item["r"]])
    assert flat.min() == 0 and flat.max() == ENVELOPE_GRID  # the box's extremes are vertices


def test_ders_of_the_chosen_scenario_per_technology(demo, offline_html):
    data = page_data(offline_html)
    reg = pd.read_csv(demo / "der_register.csv", dtype=str, keep_default_na=False)
    present = reg[(reg["scenario"] == "") | (reg["scenario"] == "2030")]
    counts = present["technology"].value_counts()
    assert {d["tech"]: d["n"] for d in data["der"]} == counts.to_dict()
    for d in data["der"]:
        mw = present.loc[present["technology"] == d["tech"], "capacity_mw"].astype(float).sum()
        assert d["mw"] == pytest.approx(mw, abs=1e-3)
    assert all(d["shown"] == d["n"] == len(d["rows"]) for d in data["der"])
    # EV chargers: level, location and V2G (work and public by default, a flag overrides it)
    ev = next(d for d in data["der"] if d["tech"] == "ev")
    assert {"LV · work · V2G", "LV · home", "LV · public · V2G"} <= set(ev["details"])
    # the DER layers are in the layer control and off by default (no addTo for them)
    assert offline_html.count("DERs: ") == len(data["der"])


def test_only_the_largest_ders_get_markers_beyond_the_limit(demo):
    from atlas.present.webmap import der_payload, map_data

    files, scenario = map_data(Run.load(demo))
    full = der_payload(files, scenario)
    some = der_payload(files, scenario, limit=100)
    assert sum(d["shown"] for d in some) == 100
    assert [(d["n"], d["mw"]) for d in some] == [(d["n"], d["mw"]) for d in full]
    kw_all = sorted((r[2] for d in full for r in d["rows"]), reverse=True)
    kw_some = sorted((r[2] for d in some for r in d["rows"]), reverse=True)
    assert kw_some == kw_all[:100]


def test_attributions_name_the_studys_sources(offline_html, online_html):
    data = page_data(offline_html)
    credits = data["attribution"]
    assert "ISTAT limits 2023 via openpolis (CC BY 4.0)" in credits
    assert "PVGIS (c) European Union" in credits
    assert "Terna S.p.A." in credits
    assert "no basemap (offline map)" in credits
    assert "Regenerate" not in credits  # not a data source
    online = page_data(online_html)
    assert "no basemap" not in online["attribution"]
    assert "openstreetmap.org/copyright" in online_html  # the basemap's own credit
    assert "tile.openstreetmap.org" in online_html


def test_offline_html_loads_nothing_from_the_web(offline_html):
    assert not re.search(r"<script[^>]*\ssrc\s*=", offline_html, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=\s*[\"']?(https?:)?//", offline_html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", offline_html, re.I)
    assert "tile.openstreetmap.org" not in offline_html
    # Leaflet and the clusterer are inlined, their images as data URIs
    assert "Leaflet 1.9.3" in offline_html and "L.MarkerClusterGroup" in offline_html
    assert "url(data:image/png;base64," in offline_html
    assert "sourceMappingURL" not in offline_html


def test_online_html_links_the_cdn(online_html):
    srcs = re.findall(r'<script src="([^"]+)"', online_html)
    assert srcs == [
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
        "https://cdn.jsdelivr.net/npm/leaflet.markercluster@1.4.1/dist/leaflet.markercluster.js",
    ]
    assert "jquery" not in online_html.lower() and "bootstrap" not in online_html.lower()


def test_offline_check_refuses_a_cdn_asset(demo):
    from folium.plugins import MiniMap

    m = build(demo, offline=True)
    MiniMap().add_to(m)  # brings Leaflet-MiniMap from a CDN
    with pytest.raises(RuntimeError, match="links a web resource"):
        render_map(m)


def test_hostile_names_are_escaped(hostile):
    text = render_map(build(hostile, offline=True))
    for raw in (HOSTILE_PS, HOSTILE_DER, HOSTILE_ID):
        assert raw not in text
    assert "<img src=x" not in text
    assert text.count("</script>") == text.lower().count("<script")  # nothing closed early
    data = page_data(text)  # the names survive as data
    assert HOSTILE_PS in data["ps"]["name"]
    rows = [r for d in data["der"] for r in d["rows"]]
    assert HOSTILE_DER in [r[3] for r in rows] and HOSTILE_ID in [r[3] for r in rows]
    assert "\\u003cimg src=x onerror=" in text


def test_script_json_cannot_close_its_element():
    text = script_json({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}
    with pytest.raises(ValueError):
        script_json({"a": float("nan")})


def test_markers_only_without_service_areas(tmp_path, tiny_study_path):
    out = run_study(tiny_study_path, tmp_path / "run")
    assert not (out / "service_areas.geojson").exists()
    data = page_data(render_map(build(out, offline=True)))
    assert data["areas"] is None and data["boundary"] is None
    assert data["ps"]["id"] == ["001", "N", "S"]  # ids as written, leading zeros kept
    assert data["ps"]["lat"] == [45.46, 45.5, 45.42] and data["ps"]["lon"] == [9.15, 9.2, 9.19]
    assert data["ps"]["mva"] == [120.0, 200.0, 376.0]


def test_write_map_writes_map_html_atomically(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    path = write_map(Run.load(run), run, offline=True)
    assert path == run / "map.html"
    assert page_data(path.read_text(encoding="utf-8"))["scenario"] == "2030"
    assert not list(run.glob(".map.html.*"))  # no temporary file left


def test_atlas_map_command(tmp_path, demo):
    from click.testing import CliRunner

    from atlas.cli import main

    run = copy_run(demo, tmp_path / "run")
    result = CliRunner().invoke(main, ["map", str(run), "--offline", "--scenario", "as-is"])
    assert result.exit_code == 0, result.output
    assert f"wrote {run / 'map.html'}" in result.output and "offline" in result.output
    assert page_data((run / "map.html").read_text(encoding="utf-8"))["scenario"] == "as-is"
    bad = CliRunner().invoke(main, ["map", str(run), "--scenario", "2050"])
    assert bad.exit_code == 2
    assert "--scenario: '2050' is not in the run" in bad.output


def test_coverage_simplification_keeps_shared_borders():
    # a 3 x 3 grid of cells about 1 km wide with 1 m wiggles on every (shared) edge
    rng = np.random.default_rng(0)
    step = 0.01
    xs = np.arange(4) * step + 9.0
    ys = np.arange(4) * step + 45.0
    nodes = {}

    def edge(a, b):
        key = (min(a, b), max(a, b))
        if key not in nodes:
            t = np.linspace(0, 1, 101)[1:-1]
            pts = np.outer(1 - t, key[0]) + np.outer(t, key[1])
            nodes[key] = pts + rng.normal(0, 1e-5, pts.shape)
        pts = nodes[key]
        return pts if key[0] == a else pts[::-1]

    cells = []
    for i in range(3):
        for j in range(3):
            c = [(xs[i], ys[j]), (xs[i + 1], ys[j]), (xs[i + 1], ys[j + 1]), (xs[i], ys[j + 1])]
            ring = []
            for k in range(4):
                ring.append(c[k])
                ring.extend(map(tuple, edge(c[k], c[(k + 1) % 4])))
            cells.append(shapely.Polygon(ring))
    geoms = np.array(cells)
    simple = simplify_polygons(geoms, 10.0, coverage=True)
    before = shapely.get_num_coordinates(geoms).sum()
    after = shapely.get_num_coordinates(simple).sum()
    assert after < before / 5
    # the cells still tile the square: no gap, no overlap beyond rounding
    union = shapely.union_all(simple)
    assert abs(shapely.area(union) - shapely.area(simple).sum()) < 1e-4 * shapely.area(union)
    assert abs(shapely.area(union) - 0.03 * 0.03) < 1e-3 * 0.03 * 0.03


# ---- errors ------------------------------------------------------------------------------------


def test_bad_scenario_names_the_run_and_the_choices(demo):
    with pytest.raises(AtlasInputError) as err:
        build(demo, scenario="2050")
    assert err.value.where == "--scenario"
    assert (
        "'2050' is not in the run" in err.value.problem and "'as-is', '2030'" in err.value.problem
    )


@pytest.mark.parametrize(
    "name",
    ["run.json", "screening.csv", "statistics.parquet", "envelopes.csv", "capacity_by_ps.csv"],
)
def test_missing_file_is_named(tmp_path, demo, name):
    run = copy_run(demo, tmp_path / "run")
    if (run / name).is_dir():  # a dataset of part files
        shutil.rmtree(run / name)
    else:
        (run / name).unlink()
    with pytest.raises(AtlasInputError) as err:
        build(run)
    assert err.value.path == str(run / name)
    assert "not found" in err.value.problem


def test_optional_files_may_be_missing(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    (run / "der_register.csv").unlink()
    (run / "boundary.geojson").unlink()
    data = page_data(render_map(build(run, offline=True)))
    assert data["der"] == [] and data["boundary"] is None
    assert len(data["areas"]["features"]) == 30


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_malformed_inputs_name_file_row_and_expectation(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    _edit(run / "screening.csv", ",False,", ",maybe,")
    with pytest.raises(AtlasInputError) as err:
        build(run)
    assert err.value.path == str(run / "screening.csv")
    assert (
        err.value.where.endswith("column meets") and "expected true or false" in err.value.problem
    )
    assert err.value.line is not None and err.value.line >= 2

    run = copy_run(demo, tmp_path / "run2")
    (run / "run.json").write_text('{"scenarios": ["as-is", "2030"],', encoding="utf-8")
    with pytest.raises(AtlasInputError, match="not valid JSON") as err:
        build(run)
    assert err.value.line == 1

    run = copy_run(demo, tmp_path / "run3")
    env = pd.read_csv(run / "envelopes.csv", dtype=str, keep_default_na=False)
    env.loc[1, "wkb"] = "not hex"
    env.to_csv(run / "envelopes.csv", index=False)
    with pytest.raises(AtlasInputError) as err:
        build(run)
    assert err.value.path == str(run / "envelopes.csv") and err.value.where == "row 2, column wkb"

    run = copy_run(demo, tmp_path / "run4")
    _edit(run / "screening.csv", "scenario,ps_id", "scenario,ps")
    with pytest.raises(AtlasInputError, match="missing column 'ps_id'"):
        build(run)

    run = copy_run(demo, tmp_path / "run5")
    text = (run / "screening.csv").read_text(encoding="utf-8").splitlines()
    keep = [text[0]] + [line for line in text[1:] if not line.startswith("2030,")]
    (run / "screening.csv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    with pytest.raises(AtlasInputError, match="expected every scenario, PS and direction"):
        build(run)


def test_service_areas_without_ps_id(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    _edit(run / "service_areas.geojson", '"ps_id":', '"id":', count=-1)
    with pytest.raises(AtlasInputError) as err:
        build(run)
    assert err.value.path == str(run / "service_areas.geojson") and "ps_id" in err.value.problem


def test_nothing_left_when_write_fails(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    (run / "map.html").write_text("old", encoding="utf-8")
    shutil.rmtree(run / "statistics.parquet")
    with pytest.raises(AtlasInputError):
        write_map(Run.load(run), run)
    assert (run / "map.html").read_text(encoding="utf-8") == "old"


def test_an_empty_service_area_keeps_its_marker(tmp_path, demo):
    run = copy_run(demo, tmp_path / "run")
    areas = gpd.read_file(run / "service_areas.geojson")
    k = areas.index[areas["ps_id"] == "NORD"][0]
    areas.loc[k, "geometry"] = shapely.Polygon()  # a Voronoi cell wholly outside the boundary
    areas.to_file(run / "service_areas.geojson", driver="GeoJSON")
    data = page_data(render_map(build(run, offline=True)))
    i = data["ps"]["id"].index("NORD")
    assert data["areas"]["features"][i] == []
    assert sum(1 for f in data["areas"]["features"] if f) == 29
    assert data["ps"]["lat"][i] == pytest.approx(areas.loc[k, "site_lat"], abs=1e-5)
