"""The offline map in a real headless browser (Debian's Chromium driven by Playwright), opened
from file:// with every other request aborted.

Skipped, with the reason, where /usr/bin/chromium or Playwright is missing. With the
environment variable ATLAS_MAP_SCREENSHOT=path the demo map's screenshot is saved there
(docs/img/map_demo.png is made so).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from map_fixtures import (
    HOSTILE_DER,
    HOSTILE_ID,
    HOSTILE_PS,
    hostile_run,
    offline_browser,
    open_page,
    skip_without_browser,
)

from atlas.present.webmap import COLORS, MEETS_COLOR, build_map, render_map
from atlas.runfolder import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    skip_without_browser()
    with offline_browser() as (context, blocked):
        yield context, blocked


@pytest.fixture(scope="module")
def demo(request) -> Path:
    skip_without_browser()
    return request.getfixturevalue("demo_run_dir")


@pytest.fixture(scope="module")
def demo_page_file(demo, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("map_page") / "map.html"
    path.write_text(render_map(build_map(Run.load(demo), offline=True)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def screening(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "screening.csv", dtype={"ps_id": str, "scenario": str})


def _fills(page) -> dict[str, str]:
    """Fill colour of each drawn service area, by ps_id."""
    return page.eval_on_selector_all(
        "path.atlas-area",
        "els => Object.fromEntries(els.map(e => [e.getAttribute('data-ps'), e.getAttribute('fill')]))",
    )


def _extremes(screening, scenario, direction, metric) -> tuple[list[str], list[str]]:
    rows = screening[(screening["scenario"] == scenario) & (screening["direction"] == direction)]
    top = rows.loc[rows[metric] == rows[metric].max(), "ps_id"].tolist()
    bottom = rows.loc[rows[metric] == rows[metric].min(), "ps_id"].tolist()
    return top, bottom


def test_demo_map_draws_offline_without_errors(browser, demo, demo_page_file, screening):
    context, blocked = browser
    areas = pd.read_csv(demo / "capacity_by_ps.csv", dtype=str)["ps_id"].unique()
    with open_page(context, demo_page_file) as (page, errors):
        # the default layer (2030, upward P, firm value): one polygon per service area
        fills = _fills(page)
        assert len(fills) == page.locator("path.atlas-area").count() == 30
        assert set(fills) == set(areas)
        top, bottom = _extremes(screening, "2030", "p_up", "firm")
        assert {fills[p] for p in top} == {COLORS[-1]}
        assert {fills[p] for p in bottom} == {COLORS[0]}
        others = set(fills) - set(top) - set(bottom)
        assert all(fills[p] not in (COLORS[0], COLORS[-1]) for p in others)
        legend = page.inner_text(".atlas-legend")
        rows = screening[(screening["scenario"] == "2030") & (screening["direction"] == "p_up")]
        assert "2030 · upward P: firm value" in legend and "[MW]" in legend
        assert f"{rows['firm'].min():.2f}" in legend and f"{rows['firm'].max():.2f}" in legend
        assert page.locator("path.atlas-boundary").count() == 1
        assert page.locator("path.atlas-site").count() == 30
        # PS names: all 30 PS are in view (at most LABEL_MAX), overlapping names left out
        page.wait_for_timeout(100)  # labels are placed once the view has settled
        rects = page.eval_on_selector_all(
            ".atlas-label",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom, e.getAttribute('data-ps')]; })",
        )
        assert 20 <= len(rects) <= 30
        assert "SUD" in [r[4] for r in rects]  # the largest value is labelled first
        for k, a in enumerate(rects):
            for b in rects[k + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        # no DER marker until a DER layer is switched on
        assert page.locator(".atlas-der, .atlas-cluster").count() == 0
        if os.environ.get("ATLAS_MAP_SCREENSHOT"):
            page.wait_for_timeout(300)
            page.screenshot(path=os.environ["ATLAS_MAP_SCREENSHOT"])
        assert errors == []
    assert blocked == []


def test_switching_layers_changes_what_shows(browser, demo, demo_page_file, screening):
    context, blocked = browser
    with open_page(context, demo_page_file) as (page, errors):
        before = _fills(page)
        page.get_by_text("2030 · downward P [MW]", exact=True).click()
        assert page.get_by_label("2030 · downward P [MW]", exact=True).is_checked()
        after = _fills(page)
        assert len(after) == 30 and after != before
        top, bottom = _extremes(screening, "2030", "p_down", "firm")
        assert {after[p] for p in top} == {COLORS[-1]} and {after[p] for p in bottom} == {COLORS[0]}
        assert "2030 · downward P" in page.inner_text(".atlas-legend")
        # PS Sud meets 10 MW downward in 2030: outlined and marked
        sud = page.locator('path.atlas-area[data-ps="SUD"]')
        assert (
            sud.get_attribute("stroke") == MEETS_COLOR and sud.get_attribute("stroke-width") == "4"
        )
        site = page.locator('path.atlas-site[data-ps="SUD"]')
        assert site.get_attribute("fill") == MEETS_COLOR
        other = page.locator('path.atlas-area[data-ps="NORD"]')
        assert other.get_attribute("stroke") != MEETS_COLOR
        # the metric switch recolours by the mean
        page.get_by_label("mean").check()
        mean = _fills(page)
        top, bottom = _extremes(screening, "2030", "p_down", "mean")
        assert {mean[p] for p in top} == {COLORS[-1]} and {mean[p] for p in bottom} == {COLORS[0]}
        assert mean != after and "mean over the year" in page.inner_text(".atlas-legend")
        # an as-is layer: PS Sud does not meet upward P there
        page.get_by_text("as-is · upward P").click()
        assert page.locator('path.atlas-area[data-ps="SUD"]').get_attribute("stroke") != MEETS_COLOR
        # overlays: boundary and PS sites off and on, DERs on
        page.get_by_label("Study boundary").uncheck()
        assert page.locator("path.atlas-boundary").count() == 0
        page.get_by_label("Primary substations").uncheck()
        assert page.locator("path.atlas-site").count() == 0
        # the names go with the markers
        page.wait_for_function("() => !document.querySelector('.atlas-label')", timeout=2000)
        page.get_by_label("Primary substations").check()
        assert page.locator("path.atlas-site").count() == 30
        reg = pd.read_csv(demo / "der_register.csv", dtype=str, keep_default_na=False)
        n_hydro = int(((reg["technology"] == "hydro") & reg["scenario"].isin(["", "2030"])).sum())
        page.get_by_text("DERs: hydro").click()
        total = (
            "() => [...document.querySelectorAll('.atlas-cluster div')]"
            ".reduce((s, e) => s + +e.textContent, 0)"
            " + document.querySelectorAll('.atlas-der').length"
        )
        page.wait_for_function(f"n => ({total})() === n", arg=n_hydro, timeout=5000)
        assert page.evaluate(total) == n_hydro  # clusters' counts + single markers
        assert errors == []
    assert blocked == []


def test_a_gain_layer_colours_by_what_the_what_if_adds(browser, demo, demo_page_file, screening):
    context, blocked = browser
    with open_page(context, demo_page_file) as (page, errors):
        page.get_by_text("2030+storage gain · upward Q").click()
        fills = _fills(page)
        # the what-if adds a STATCOM and a battery at PS Sud only: top colour there, bottom
        # elsewhere (no gain)
        assert fills["SUD"] == COLORS[-1]
        assert {fills[p] for p in fills if p != "SUD"} == {COLORS[0]}
        legend = page.inner_text(".atlas-legend")
        assert "gain of 2030+storage over 2030" in legend and "25.00" in legend
        # the tooltip gives base, what-if and gain
        page.locator('path.atlas-area[data-ps="SUD"]').dispatch_event("mouseover")
        tip = page.locator(".atlas-tip").inner_text()
        sud = screening[screening["ps_id"] == "SUD"].set_index(["scenario", "direction"])
        base, added = sud.loc[("2030", "q_up"), "firm"], sud.loc[("2030+storage", "q_up"), "firm"]
        assert f"{base:.2f} \u2192 {added:.2f} Mvar (+{added - base:.2f})" in tip
        assert errors == []
    assert blocked == []


def test_clicking_a_ps_opens_a_popup_with_its_numbers(browser, demo, demo_page_file, screening):
    context, blocked = browser
    with open_page(context, demo_page_file) as (page, errors):
        page.locator('path.atlas-site[data-ps="SUD"]').click()
        pop = page.locator(".leaflet-popup-content .atlas-pop")
        pop.wait_for()
        assert "PS Sud (220/23 kV)" in pop.inner_text()
        assert "376 MVA" in pop.inner_text()
        sud = screening[screening["ps_id"] == "SUD"].set_index(["scenario", "direction"])
        for d in ("p_up", "p_down", "q_up", "q_down"):
            rows = pop.locator(f'tr[data-fig="{d}"]')
            assert rows.count() == 3  # 2030 first, then as-is and 2030+storage
            for k, scenario in enumerate(("2030", "as-is", "2030+storage")):
                cells = rows.nth(k).locator("td").all_inner_texts()
                want = sud.loc[(scenario, d)]
                assert cells[1] == f"{want['firm']:.2f}" and cells[2] == f"{want['mean']:.2f}"
                assert cells[8] == f"{round(want['share_at_or_above'] * 100)} %"
                assert cells[-1].startswith("meets" if want["meets"] else "no")
        caps = pop.locator("table").first.locator("tr").nth(2).locator("td").all_inner_texts()
        assert caps[:3] == ["2030", "16.00", "29.00"]  # PV and CHP, the seed paper's (MW)
        assert pop.locator("svg.atlas-env polygon").count() == 5  # two hulls, three envelopes
        assert pop.locator("svg.atlas-heat rect").count() >= 4 * 288
        assert errors == []
    assert blocked == []


def test_hostile_names_show_as_text_and_run_nothing(browser, tmp_path_factory, tiny):
    context, blocked = browser
    run = hostile_run(tmp_path_factory, tiny)
    path = tmp_path_factory.mktemp("map_hostile_page") / "map.html"
    path.write_text(render_map(build_map(Run.load(run), offline=True)), encoding="utf-8")
    with open_page(context, path) as (page, errors):
        assert page.locator("path.atlas-area").count() == 3
        labels = page.locator(".atlas-label").all_inner_texts()
        assert HOSTILE_PS in labels
        page.locator('path.atlas-site[data-ps="N"]').click()
        pop = page.locator(".leaflet-popup-content .atlas-pop")
        pop.wait_for()
        assert HOSTILE_PS in pop.inner_text()
        page.keyboard.press("Escape")
        pop.wait_for(state="detached")  # the popup fades out before the map gets the mouse
        # hover N's area just below its site (a Voronoi cell contains its site)
        box = page.locator('path.atlas-site[data-ps="N"]').bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + 20)
        tip = page.locator(".atlas-area-tip")
        tip.wait_for()
        assert HOSTILE_PS in tip.inner_text()
        # the DER layers: names and ids shown as text in their tooltips
        for layer, name in (("DERs: hydro", HOSTILE_DER), ("DERs: biomass", HOSTILE_ID)):
            page.mouse.move(5, 5)
            page.get_by_text(layer).click()
            marker = page.locator(".atlas-der")
            marker.wait_for()
            marker.hover()
            tip = page.locator(".atlas-der-tip").filter(has_text=name)
            tip.wait_for()  # a tooltip whose text (not markup) holds the name
            assert name in tip.inner_text()
            page.get_by_text(layer).click()
            marker.wait_for(state="detached")
        page.wait_for_timeout(200)
        assert page.evaluate("document.body.getAttribute('data-pwned')") is None
        assert page.locator("img").count() == 0
        assert errors == []
    assert blocked == []


def _route_page(page, served: dict[str, Path]) -> list[str]:
    """Answer ``page``'s requests for the URLs in ``served`` with those files, let ``file:`` and
    ``data:`` through and abort every other request, recorded in the list returned (the page's
    routes come before the context's, so the shared ``blocked`` list stays empty)."""
    aborted: list[str] = []

    def route(r):
        url = r.request.url
        if url in served:
            r.fulfill(path=served[url])
        elif url.startswith(("file:", "data:")):
            r.continue_()
        else:
            aborted.append(url)
            r.abort()

    page.route("**/*", route)
    return aborted


def test_online_map_without_network_says_so(browser, demo, demo_page_file, tmp_path_factory):
    import importlib

    from atlas.present.webmap import ASSETS

    context, blocked = browser
    path = tmp_path_factory.mktemp("map_online_page") / "map.html"
    path.write_text(render_map(build_map(Run.load(demo), offline=False)), encoding="utf-8")
    note = "#atlas-offline-note"
    # no network: Leaflet never loads and the note stays, in view and on top of the page
    page = context.new_page()
    try:
        aborted = _route_page(page, {})
        page.goto(path.resolve().as_uri())  # returns after the load event
        assert page.evaluate("typeof window.L") == "undefined"
        assert any(url.endswith("/leaflet.js") for url in aborted)
        assert page.locator(note).is_visible()
        on_top = (
            "sel => { const r = document.querySelector(sel).getBoundingClientRect();"
            " const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
            " return !!(e && e.closest(sel)); }"
        )
        assert page.evaluate(on_top, note)
        text = " ".join(page.inner_text(note).split())
        assert "needs a network connection" in text
        assert "atlas map RUN_DIR --offline" in text
    finally:
        page.close()
    # Leaflet from the CDN (answered here with the XStatic copies, tiles still aborted): the
    # map draws and the note is gone
    served = {a.url: Path(importlib.import_module(a.package).BASE_DIR) / a.file for a in ASSETS}
    page = context.new_page()
    try:
        aborted = _route_page(page, served)
        page.goto(path.resolve().as_uri())
        page.wait_for_function("() => window.atlasApp && window.atlasApp.legend")
        assert page.locator("path.atlas-area").count() == 30
        assert page.locator(note).count() == 0
        assert not any(url in served for url in aborted)
    finally:
        page.close()
    # the offline map has no note at all
    assert 'id="atlas-offline-note"' not in demo_page_file.read_text(encoding="utf-8")
    with open_page(context, demo_page_file) as (page, errors):
        assert page.locator(note).count() == 0
        assert errors == []
    assert blocked == []
