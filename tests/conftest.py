"""Shared fixtures: a tiny study whose results can be checked by hand.

The study has three primary substations (``001`` keeps its leading zeros, ``N``, ``S``), the
scenarios ``as-is`` and ``2030`` on the 2030 axis, per-unit profiles of every technology read
from files (``source = "file"``) and an EV charging file. Every number is in :class:`TinyStudy`
so that tests compute the expected figures from METHOD.md, not from the code under test.

``make_study(**overrides)`` writes it into a fresh folder and returns the study file's path;
each file can be replaced (a string), edited (a function of the default text) or left out
(``False``):

>>> path = make_study(toml=lambda t: t.replace("year = 2030", "year = 1800"))  # doctest: +SKIP
"""

from __future__ import annotations

import os

# The test processes share the cores (pytest-xdist, one per core): one linear-algebra thread
# each, set before numpy loads, so that idle BLAS threads do not spin against the other
# process (the atlas's own worker processes do the same, atlas.engine.compute).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atlas.inputs.timeaxis import N_HOURS, hourly_axis

STUDY_TOML = """\
[study]
name = "tiny"
year = 2030
timezone = "Europe/Rome"

[inputs]
substations = "substations.csv"
capacity = "capacity.csv"
load = "load.csv"

[profiles.pv]
source = "file"
file = "pv.csv"

[profiles.chp]
source = "file"
file = "chp.csv"

[profiles.hydro]
source = "file"
file = "hydro.csv"

[profiles.biomass]
source = "file"
file = "biomass.csv"

[profiles.ev]
source = "file"
file = "ev.csv"

[scenarios]
names = ["as-is", "2030"]
"""

SUBSTATIONS_CSV = """\
ps_id,name,lat,lon,rated_mva
001,Uno,45.46,9.15,120
N,Nord,45.50,9.20,200
S,Sud,45.42,9.19,376
"""

#: (scenario, ps_id, technology, level written in the file, capacity_mw); "" = default MV.
CAPACITY_ROWS: list[tuple[str, str, str, str, float]] = [
    ("as-is", "001", "pv", "MV", 4.0),
    ("as-is", "001", "chp", "MV", 10.0),
    ("as-is", "N", "hydro", "MV", 1.5),
    ("as-is", "N", "biomass", "LV", 2.0),
    ("2030", "001", "pv", "MV", 6.0),
    ("2030", "001", "pv", "LV", 2.0),
    ("2030", "001", "chp", "", 12.0),
    ("2030", "001", "biomass", "MV", 3.0),
    ("2030", "N", "hydro", "MV", 1.5),
    ("2030", "N", "hydro", "LV", 0.5),
    ("2030", "N", "biomass", "LV", 2.0),
    ("2030", "N", "pv", "LV", 5.0),
]

#: (scenario, time, ps_id, location, p_mw) of ev.csv; every other hour charges 0 MW.
EV_ROWS: list[tuple[str, str, str, str, float]] = [
    ("2030", "2030-01-01T09:00:00Z", "001", "work", 2.0),
    ("2030", "2030-01-01T09:00:00Z", "001", "home", 1.5),
    ("2030", "2030-01-01T10:00:00Z", "001", "work", 0.5),
    ("2030", "2030-07-15T19:00:00Z", "001", "home", 3.0),
    ("2030", "2030-01-01T09:00:00Z", "S", "public", 1.25),
    ("as-is", "2030-03-02T08:00:00Z", "N", "b2c", 0.75),
]


def _stamps(year: int) -> pd.Index:
    return hourly_axis(year).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class TinyStudy:
    """The tiny study's numbers and its writer."""

    year: int = 2030
    scenarios: list[str] = field(default_factory=lambda: ["as-is", "2030"])
    ps_ids: list[str] = field(default_factory=lambda: ["001", "N", "S"])
    capacity_rows: list = field(default_factory=lambda: list(CAPACITY_ROWS))
    ev_rows: list = field(default_factory=lambda: list(EV_ROWS))

    # ---- per-unit profiles, row i = hour i of the 2030 axis -------------------------------
    @cached_property
    def profiles(self) -> dict[str, np.ndarray]:
        i = np.arange(N_HOURS)
        hod = i % 24  # UTC hour of day
        pv = np.where((hod > 6) & (hod < 18), 0.9 * np.sin(np.pi * (hod - 6) / 12), 0.0)
        chp = 0.5 + 0.2 * np.cos(2 * np.pi * i / N_HOURS)  # winter high, within 0.3..0.7
        hydro = 0.5 + 0.3 * np.sin(2 * np.pi * (i - 1500) / N_HOURS)
        biomass = np.where((i >= 4000) & (i < 4500), 0.2, 0.9)
        return {"pv": pv, "chp": chp, "hydro": hydro, "biomass": biomass}

    def load_pq(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Measured (P, Q) of the k-th PS, load convention. [MW, Mvar]"""
        i = np.arange(N_HOURS)
        p = 40.0 + 10.0 * k + 5.0 * np.sin(2 * np.pi * i / 24) + 3.0 * np.cos(2 * np.pi * i / 8760)
        q = 5.0 + k - 2.0 * np.sin(2 * np.pi * i / 168) + 0.5 * np.cos(2 * np.pi * i / 24)
        return p, q

    # ---- helpers for expectations ---------------------------------------------------------
    def sn(self, scenario: str, ps_id: str, tech: str, level: str | None = None) -> float:
        """Installed capacity of a technology (both levels unless given). [MVA]"""
        return sum(
            mw
            for s, p, t, lv, mw in self.capacity_rows
            if (s, p, t) == (scenario, ps_id, tech) and (level is None or (lv or "MV") == level)
        )

    def ev_mw(self, scenario: str, ps_id: str, location: str) -> np.ndarray:
        """Charging power of one location, (8760,). [MW]"""
        out = np.zeros(N_HOURS)
        axis = hourly_axis(self.year)
        for s, t, p, loc, mw in self.ev_rows:
            if (s, p, loc) == (scenario, ps_id, location):
                out[axis.get_loc(pd.Timestamp(t))] += mw
        return out

    def hour(self, stamp: str) -> int:
        """Position of a UTC stamp on the study axis."""
        return int(hourly_axis(self.year).get_loc(pd.Timestamp(stamp)))

    @staticmethod
    def line_of(text: str, needle: str) -> int:
        """1-based number of the first line of ``text`` containing ``needle``."""
        for n, line in enumerate(text.splitlines(), start=1):
            if needle in line:
                return n
        raise AssertionError(f"{needle!r} not in the text")

    # ---- default file texts ---------------------------------------------------------------
    def load_frame(self, year: int | None = None) -> pd.DataFrame:
        stamps = _stamps(year or self.year)
        frames = []
        for k, ps in enumerate(self.ps_ids):
            p, q = self.load_pq(k)
            frames.append(pd.DataFrame({"time": stamps, "ps_id": ps, "p_mw": p, "q_mvar": q}))
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def texts(self) -> dict[str, str]:
        cap = "scenario,ps_id,technology,capacity_mw,level\n" + "".join(
            f"{s},{p},{t},{mw:g},{lv}\n" for s, p, t, lv, mw in self.capacity_rows
        )
        ev = "scenario,time,ps_id,location,p_mw\n" + "".join(
            f"{s},{t},{p},{loc},{mw!r}\n" for s, t, p, loc, mw in self.ev_rows
        )
        texts = {
            "study.toml": STUDY_TOML,
            "substations.csv": SUBSTATIONS_CSV,
            "capacity.csv": cap,
            "load.csv": self.load_frame().to_csv(index=False, lineterminator="\n"),
            "ev.csv": ev,
        }
        for tech, pu in self.profiles.items():
            texts[f"{tech}.csv"] = pd.DataFrame({"pu": pu}).to_csv(index=False, lineterminator="\n")
        return texts

    def write(self, folder: Path, **overrides: str | bool | Callable[[str], str]) -> Path:
        """Write the study into ``folder`` and return the study file's path.

        Keywords: ``toml`` (the study file) or a CSV's stem (``substations``, ``capacity``,
        ``load``, ``pv``, ``chp``, ``hydro``, ``biomass``, ``ev``); a value is the file's
        new text, a function of the default text, or False to leave the file out. Other
        file names can be added with ``extra={"name.csv": text}``.
        """
        extra = overrides.pop("extra", None) or {}
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = {"toml": "study.toml"} | {Path(n).stem: n for n in self.texts if n != "study.toml"}
        unknown = set(overrides) - set(names)
        if unknown:
            raise TypeError(f"unknown study file(s) {sorted(unknown)}, expected {sorted(names)}")
        for key, name in names.items():
            value = overrides.get(key, True)
            if value is False:
                continue
            text = self.texts[name]
            if callable(value):
                text = value(text)
            elif isinstance(value, str):
                text = value
            (folder / name).write_text(text, encoding="utf-8")
        for name, text in extra.items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder / "study.toml"


@pytest.fixture(scope="session")
def tiny() -> TinyStudy:
    """The tiny study's numbers (shared, read-only)."""
    return TinyStudy()


@pytest.fixture
def make_study(tmp_path, tiny):
    """Factory: ``make_study(**overrides)`` writes the tiny study under ``tmp_path``.

    Pass ``folder=`` to choose the folder (default ``tmp_path / "study"``); see
    :meth:`TinyStudy.write` for the overrides.
    """

    def _make(folder: Path | None = None, **overrides) -> Path:
        return tiny.write(folder or tmp_path / "study", **overrides)

    return _make


@pytest.fixture(scope="session")
def tiny_study_path(tmp_path_factory, tiny) -> Path:
    """The unmodified tiny study, written once per session (do not edit its files)."""
    return tiny.write(tmp_path_factory.mktemp("tiny") / "study")


@pytest.fixture(scope="session")
def tiny_inputs(tiny_study_path):
    """``load_inputs`` of the unmodified tiny study, once per session (read-only)."""
    from atlas.pipeline import load_inputs

    return load_inputs(tiny_study_path)


@pytest.fixture(scope="session")
def tiny_result(tiny_inputs):
    """``run`` of the unmodified tiny study, once per session (read-only)."""
    from atlas.engine.compute import compute as run

    return run(tiny_inputs)


@pytest.fixture(scope="session")
def demo_inputs():
    """``load_inputs`` of the embedded Milan demo, once per session (read-only)."""
    from atlas.demo import demo_study_path
    from atlas.pipeline import load_inputs

    return load_inputs(demo_study_path())


@pytest.fixture(scope="session")
def demo_run_dir(tmp_path_factory, demo_inputs) -> Path:
    """The embedded demo's run folder, made once per session: every figure for PS Sud
    (``--figures all --figures-for SUD``), summary figures for no other PS, an offline map.
    Read-only: copy it (``map_fixtures.copy_run``) to change it."""
    from atlas.pipeline import run_study

    out = tmp_path_factory.mktemp("demo") / "run"
    run_study(demo_inputs, out, figures="all", figures_for=["SUD"], webmap="offline", workers=1)
    return out
