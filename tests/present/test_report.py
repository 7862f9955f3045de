"""Figures per PS and report.html: every figure of the list, safe folders, escaped text."""

import html
import re
from pathlib import Path
from urllib.parse import unquote

import markupsafe
import numpy as np
import pandas as pd
import pytest
import shapely

from atlas.analysis.stats import DIRECTIONS, hourly_arrays, screening, statistics
from atlas.inputs.timeaxis import hourly_axis
from atlas.present.report import FIGURES, RunFigureData, report_html, write_figures

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG, path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="module")
def demo_all(demo_run_dir):
    """The embedded demo, every figure for PS Sud (summary figures for no other PS)."""
    return demo_run_dir


def test_every_figure_of_the_list_for_ps_sud(demo_all):
    folder = demo_all / "figures" / "SUD"
    names = {p.stem for p in folder.glob("*.png")}
    expected = {k for k in FIGURES if "{" not in k}
    expected |= {"fig12_day_09-04"}
    # the technologies under PS Sud in the demo: PV, CHP, hydro (no biomass) and EV in 2030,
    # the battery and the STATCOM of its what-if 2030+storage
    expected |= {f"fig03_capability_{t}" for t in ("pv", "chp", "hydro", "ev", "bess", "statcom")}
    assert names == expected
    for png in folder.glob("*.png"):
        width, height = _png_size(png)
        assert 700 <= width <= 1300 and 400 <= height <= 800, png.name  # report size
    assert not (demo_all / "figures" / "NORD").exists()  # --figures-for SUD only


def test_report_links_every_figure_and_ranks_by_screening(demo_all):
    page = (demo_all / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(links) == sorted(
        p.relative_to(demo_all).as_posix() for p in (demo_all / "figures").rglob("*.png")
    )
    scr = pd.read_csv(demo_all / "screening.csv", dtype={"ps_id": str})
    in_2030 = scr[scr.scenario == "2030"]
    met = in_2030.groupby("ps_id")["meets"].sum()
    ranked = re.findall(r'<tr><td>\d+</td><td><a href="#ps-\d+">([^<]+)</a>', page)
    assert len(ranked) == 30
    assert list(met.loc[ranked]) == sorted(met.loc[ranked], reverse=True)
    assert "<script" not in page and "http" not in page.split("</style>")[1].split("map.html")[0]
    # the data the demo uses are credited: ISTAT/openpolis, Terna, PVGIS (the shipped TMY)
    credits = page.split("Data: ")[1].split("</small>")[0]
    for source in ("ISTAT", "openpolis", "Terna", "PVGIS (c) European Union"):
        assert source in credits


def test_screening_in_the_run_uses_the_study_settings(demo_all):
    scr = pd.read_csv(demo_all / "screening.csv", dtype={"ps_id": str})
    assert set(scr["threshold"]) == {10.0} and set(scr["availability"]) == {0.9}
    sud = scr[(scr.ps_id == "SUD") & (scr.scenario == "as-is")]
    # PS Sud: 376 MVA against envelopes reaching about 200 MVA: never over its rating
    assert (sud["hours_over_rating"] == 0).all()
    stats = pd.read_parquet(demo_all / "statistics.parquet")
    assert {"daily_max_day", "daily_max_night", "box_q1", "share_at_or_above"} <= set(
        stats["statistic"]
    )


def _tiny_figure_data(ps_ids, names):
    axis = hourly_axis(2030)
    n = len(axis)
    rng = np.random.default_rng(1)
    rows = []
    for scenario in ("as-is", "2030"):
        for ps in ps_ids:
            rows.append(
                pd.DataFrame(
                    {
                        "scenario": scenario,
                        "ps_id": ps,
                        "time": axis,
                        **{c: rng.uniform(0, 20, n) for c, _ in DIRECTIONS.values()},
                        "over_rating": False,
                        "daylight": (axis.hour > 6) & (axis.hour < 17),
                    }
                )
            )
    hourly = pd.concat(rows, ignore_index=True)
    load = np.stack(
        [np.column_stack([rng.uniform(50, 90, n), rng.uniform(10, 30, n)])] * len(ps_ids)
    )
    box = shapely.box(40, 0, 100, 40)
    envelopes = {}
    for ps in ps_ids:
        envelopes[("as-is", ps, "cloud_convex")] = shapely.box(50, 10, 90, 30)
        envelopes[("as-is", ps, "cloud_concave")] = shapely.box(52, 11, 88, 29)
        envelopes[("as-is", ps, "year")] = box
        envelopes[("2030", ps, "year")] = shapely.box(35, -5, 105, 45)
    data = RunFigureData(
        arrays=hourly_arrays(hourly),
        load=load,
        timezone="Europe/Rome",
        envelopes=envelopes,
        thresholds={d: (10.0, u) for d, (_, u) in DIRECTIONS.items()},
        sample_day="09-04",
        names=names,
        rated_mva={p: 120.0 for p in ps_ids},
    )
    return hourly, data


def test_figure_folders_are_safe_and_unique(tmp_path):
    ids = ["../../x", "a/b", "a_b", "Sud", "SUD", "ok"]
    _, data = _tiny_figure_data(ids, {})
    out = tmp_path / "run"
    pngs = write_figures(data, out, "summary", workers=1)
    root = (out / "figures").resolve()
    folders = {p: pngs[p][0].parent.resolve() for p in ids}
    assert len(set(folders.values())) == len(ids)
    for folder in folders.values():
        assert folder.parent == root
    assert folders["ok"].name == "ok"
    assert not (tmp_path / "x").exists() and not any(tmp_path.glob("*.png"))
    assert sorted(p.name for p in root.rglob("*.png")) == sorted(
        ["fig07_envelopes.png", "fig11_monthly_boxes.png"] * len(ids)
    )


def test_figures_do_not_depend_on_the_renderers_cap_style(tmp_path, monkeypatch):
    """Every figure gives the same bytes when a library changed matplotlib's default cap
    style for the whole process, as importing pandapower.plotting does (round caps): a
    run's figures drawn in this process and in a fresh worker are the same files."""
    from matplotlib.backend_bases import GraphicsContextBase, RendererBase

    from atlas.present import figures

    _, data = _tiny_figure_data(["A"], {})
    plain = write_figures(data, tmp_path / "plain", "all", workers=1)["A"]

    def round_caps(self):
        gc = GraphicsContextBase()
        gc.set_capstyle("round")
        return gc

    monkeypatch.setattr(RendererBase, "new_gc", round_caps)
    monkeypatch.setattr(figures, "_CANVASES", {})  # canvases made again, under round caps
    rounded = write_figures(data, tmp_path / "round", "all", workers=1)["A"]
    assert [p.name for p in plain] == [p.name for p in rounded] and len(plain) >= 5
    assert [
        p.name for p, q in zip(plain, rounded, strict=True) if p.read_bytes() != q.read_bytes()
    ] == []


def test_report_escapes_user_text(tmp_path):
    evil = "<img src=x onerror=\"document.body.setAttribute('data-pwned',1)\">"
    hourly, data = _tiny_figure_data(["<b>id</b>", "ok"], {"ok": evil})
    pngs = write_figures(data, tmp_path, "summary", workers=1)
    scr = screening(hourly, {"ok": evil})
    stats = statistics(hourly, "Europe/Rome")
    page = report_html(evil, evil, scr, stats[stats.month.isna()], pngs, tmp_path, "2030")
    assert "<img src=x" not in page and "<b>id</b>" not in page
    assert str(markupsafe.escape(evil)) in page and "&lt;b&gt;id&lt;/b&gt;" in page
    # every link, percent-decoded and unescaped, names a figure that exists
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 4
    for src in srcs:
        assert (tmp_path / unquote(html.unescape(src))).is_file()


def test_dollar_signs_in_names_are_not_mathtext(tmp_path):
    from atlas.present.figures import plain

    assert plain("PS $1$ a$b") == r"PS \$1\$ a\$b"
    _, data = _tiny_figure_data(["p"], {"p": "cost $5 $x^2$"})
    pngs = write_figures(data, tmp_path, "all", workers=1)
    # every figure of the list but the capability ones (no technology views given)
    assert len(pngs["p"]) == len(FIGURES) - 1


def test_a_what_ifs_figures_of_one_scenario_are_its_bases(make_study, tmp_path, monkeypatch):
    """With a what-if (listed last), Fig. 8-10, 12 and the heatmap show its base, as the map
    and the report do; Fig. 7 and 11 draw every scenario."""
    import atlas.present.figures as fg
    from atlas.pipeline import run_study

    seen: dict[str, list] = {}

    def record(name, original):
        def plot(*args, **kwargs):
            seen.setdefault(name, []).append(args)
            return original(*args, **kwargs)

        return plot

    for name in ("plot_trend", "plot_day", "plot_availability_heatmap", "plot_envelopes"):
        monkeypatch.setattr(fg, name, record(name, getattr(fg, name)))
    run = run_study(
        make_study(),
        tmp_path / "run",
        workers=1,
        figures="all",
        figures_for=["001"],
        webmap="none",
        add=["001:statcom=5Mvar"],
    )
    assert run.scenarios == ["as-is", "2030", "2030+001:statcom=5Mvar"]
    assert run.default_scenario == "2030"
    (trend,) = seen["plot_trend"]
    assert trend[2].endswith("hourly flexibility in 2030")
    (day,) = seen["plot_day"]
    assert day[2].endswith("scenario 2030")
    (heat,) = seen["plot_availability_heatmap"]
    assert heat[2].endswith("relief threshold in 2030")
    (env,) = seen["plot_envelopes"]
    assert list(env[3]) == run.scenarios
