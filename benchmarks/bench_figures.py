"""Benchmark: what the summary figures add to a batch run.

On a SYNTHETIC study of N substations x 2 scenarios x 8760 h (benchmarks/synthetic_study.py),
times a whole ``atlas run`` (a fresh process, reading to writing, every core) with
``--figures none`` and with ``--figures summary`` (per PS the yearly envelopes, paper Fig. 7,
and the monthly box plots, Fig. 11), alternating, and prints the extra time of the figures
(goal: at most 30 % for 300 PS). Not part of the test run.

    python benchmarks/bench_figures.py --n-ps 300 [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_study import write_synthetic_study


def timed_run(study: Path, out: Path, figures: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "atlas.cli",
            "run",
            "--config",
            str(study),
            "--out",
            str(out),
            "--no-progress",
            "--figures",
            figures,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
    )
    elapsed = time.perf_counter() - t0
    manifest = json.loads((out / "run.json").read_text())
    return elapsed, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = write_synthetic_study(tmp / "study", args.n_ps)
        times: dict[str, list[float]] = {"none": [], "summary": []}
        for i in range(args.repeat):
            for figures in ("none", "summary"):
                elapsed, manifest = timed_run(study, tmp / f"out_{figures}", figures)
                times[figures].append(elapsed)
                print(
                    f"run {i + 1}, --figures {figures:7s}: {elapsed:6.1f} s, "
                    f"{manifest['figures_written']} PNG, stages "
                    + ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings_s"].items())
                )
        best = {k: min(v) for k, v in times.items()}
        extra = best["summary"] - best["none"]
        print(
            f"{args.n_ps} PS: best of {args.repeat}: none {best['none']:.1f} s, summary "
            f"{best['summary']:.1f} s: the figures add {extra:.1f} s = "
            f"{100 * extra / best['none']:.0f} % (goal <= 30 %)"
        )


if __name__ == "__main__":
    main()
