"""Run folders and a network-less headless browser for the map's tests.

- the embedded Milan demo's run folder is the session fixture ``demo_run_dir`` (conftest.py);
  :func:`copy_run` copies a run folder for a test that changes it.
- :func:`hostile_run` builds a tiny study (three PS, Voronoi areas in a box, a six-point DER
  register) whose PS and DER names are HTML/JS injections.
- :func:`offline_browser` starts Debian's Chromium (``/usr/bin/chromium``) through Playwright
  with a fresh profile and every request that is not ``file:`` or ``data:`` aborted and
  recorded; :func:`skip_without_browser` skips a test where the browser or the driver is
  missing.

Import from a test module (pytest puts ``tests/`` on ``sys.path``)::

    from map_fixtures import copy_run  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

#: The PS name of the hostile study: it must show as text and run nothing.
HOSTILE_PS = "<img src=x onerror=\"document.body.setAttribute('data-pwned',1)\">"
#: A DER name that tries to close the data's script element.
HOSTILE_DER = "</script><img src=x onerror=\"document.body.setAttribute('data-pwned',2)\">"
#: A scenario-free id that is also markup.
HOSTILE_ID = "<b>N</b>"

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium flags: headless, no sandbox (root in CI), nothing that calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_CACHE: dict[str, Path] = {}


def with_register(toml: str) -> str:
    """The tiny study file reading a DER register (``ders.csv``) and a boundary
    (``boundary.geojson``, e.g. :data:`BOUNDARY`) instead of the capacity table."""
    return toml.replace(
        'capacity = "capacity.csv"', 'ders = "ders.csv"\nboundary = "boundary.geojson"'
    )


def run_study(study: Path, out: Path, workers: int | None = 1) -> Path:
    """``atlas run`` without figures and map: the map's inputs (the run screens itself)."""
    from atlas.pipeline import run_study as run

    run(study, out, workers=workers, figures="none", webmap="none")
    return out


def copy_run(run_dir: Path, dest: Path) -> Path:
    """Copy a run folder without its hourly table (the map does not read it)."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("flexibility_hourly.*"))
    return dest


BOUNDARY = {
    "type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "box"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[9.10, 45.39], [9.26, 45.39], [9.26, 45.54], [9.10, 45.54], [9.10, 45.39]]
                ],
            },
        }
    ],
}


def hostile_run(tmp_path_factory, tiny) -> Path:
    """A screened run of the tiny study with injection attempts as names (built once).

    The conftest's tiny study, with Voronoi areas in a box instead of a capacity table and a
    DER register of six points: PS ``N`` is named :data:`HOSTILE_PS`, one DER
    :data:`HOSTILE_DER`, another has the id :data:`HOSTILE_ID`.
    """
    if "hostile" not in _CACHE:
        folder = tmp_path_factory.mktemp("map_hostile")
        name_csv = HOSTILE_PS.replace('"', '""')
        der_csv = HOSTILE_DER.replace('"', '""')
        ders = (
            "der_id,name,technology,capacity_kw,level,location,scenario,lat,lon\n"
            "D1,Uno PV,pv,4000,MV,,,45.461,9.151\n"
            "D2,Uno CHP,chp,10000,MV,,,45.459,9.149\n"
            f'D3,"{der_csv}",hydro,1500,MV,,,45.501,9.201\n'
            f"{HOSTILE_ID},,biomass,2000,LV,,,45.499,9.199\n"
            "D5,Sud PV,pv,3000,LV,,2030,45.421,9.191\n"
            "D6,,ev,500,LV,work,,45.462,9.152\n"
        )
        study = tiny.write(
            folder / "study",
            toml=lambda t: (
                with_register(t)
                # the points stand for whole technologies of a PS, beyond one installation
                + '\n[checks]\naccept = ["der_max_mw"]\n'
            ),
            substations=lambda t: t.replace("N,Nord,", f'N,"{name_csv}",'),
            capacity=False,
            extra={"ders.csv": ders, "boundary.geojson": json.dumps(BOUNDARY)},
        )
        _CACHE["hostile"] = run_study(study, folder / "run")
    return _CACHE["hostile"]


def skip_without_browser() -> None:
    """Skip the calling test unless Debian's Chromium and Playwright for Python are there."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"headless browser test: Debian's chromium is not installed at {CHROMIUM} "
            "(apt-get install chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("headless browser test: playwright is not installed (pip install '.[test]')")


@contextmanager
def offline_browser(viewport: tuple[int, int] = (1400, 900)):
    """A Chromium context that can open only ``file:`` and ``data:`` URLs.

    Yields
    ------
    context : playwright.sync_api.BrowserContext
    blocked : list of str
        Every URL the pages tried to fetch from elsewhere (each request aborted).
    """
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    profile = tempfile.mkdtemp(prefix="atlas-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
                service_workers="block",
            )

            def route(r):
                url = r.request.url
                if url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            context.route("**/*", route)
            try:
                yield context, blocked
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def open_page(context, path: Path):
    """Open ``path`` from file:// and collect the console's errors and uncaught exceptions.

    Yields
    ------
    page : playwright.sync_api.Page
    errors : list of str
    """
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => window.atlasApp && window.atlasApp.legend")
    try:
        yield page, errors
    finally:
        page.close()
