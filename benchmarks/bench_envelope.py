"""Benchmark: vectorised envelopes against the brute-force per-hour shapely loop.

On a SYNTHETIC study of N substations x 2 scenarios x 8760 h with every technology present
(benchmarks/synthetic_study.py), this script

1. times a whole ``atlas run`` of the study (a fresh process, reading to writing);
2. builds every PS and scenario's DER groups (the same vertex sets for both methods) and times
   the vectorised polygons and figures (:func:`atlas.engine.envelope.ps_flexibility`);
3. times the brute-force loop of :mod:`atlas.testing` over the same vertex sets, hour by hour;
4. checks that figures (1e-9 MW/Mvar absolute) and polygon areas (1e-9 relative) agree;

and prints the times, their ratios and the agreement. Not part of the test run.

    python benchmarks/bench_envelope.py --n-ps 50
    python benchmarks/bench_envelope.py --n-ps 50 --loop-every 10   # loop on 1 hour in 10

With ``--loop-every K`` the loop runs on every K-th hour and its time is scaled by K (the
loop's cost is the same for every hour); the output says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_study import write_synthetic_study

from atlas.engine.compute import der_groups
from atlas.engine.envelope import ps_flexibility, shoelace_area
from atlas.inputs.timeaxis import N_HOURS
from atlas.pipeline import load_inputs
from atlas.testing import bruteforce_extents, bruteforce_minkowski


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ps", type=int, default=50)
    parser.add_argument(
        "--loop-every", type=int, default=1, help="run the loop on every K-th hour and scale"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = write_synthetic_study(tmp / "study", n_ps=args.n_ps)

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
                str(tmp / "out"),
                "--no-progress",
                "--figures",
                "none",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
        )
        t_run = time.perf_counter() - t0

        inputs = load_inputs(study)
        cases = [(s, ps) for ps in inputs.ps_ids for s in inputs.study.scenarios]
        groups = {case: der_groups(inputs, *case) for case in cases}

        t_vec = 0.0
        flex = {}
        for case in cases:
            t0 = time.perf_counter()
            flex[case] = ps_flexibility(groups[case], N_HOURS)
            t_vec += time.perf_counter() - t0

        hours = range(0, N_HOURS, args.loop_every)
        t_loop = 0.0
        worst_fig = 0.0
        worst_area = 0.0
        for case in cases:
            sets = [g.sets.vertices for g in groups[case]]
            t0 = time.perf_counter()
            oracle = bruteforce_minkowski(sets, hours)
            t_loop += time.perf_counter() - t0
            areas = shoelace_area(flex[case].vertices[list(hours)])
            for h, geom, area in zip(hours, oracle, areas, strict=True):
                ext = bruteforce_extents(geom)
                for name, value in ext.items():
                    worst_fig = max(worst_fig, abs(value - flex[case].figures[name][h]))
                worst_area = max(
                    worst_area,
                    abs(area - geom.area) / max(geom.area, 1e-300) if geom.area > 0 else abs(area),
                )
        t_loop_full = t_loop * args.loop_every

    n_polygons = len(cases) * N_HOURS
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"study: {args.n_ps} synthetic PS x {len(inputs.study.scenarios)} scenarios x {N_HOURS} h = {n_polygons} hourly polygons"
    )
    print(
        f"groups per PS and scenario: {sorted({len(g) for g in groups.values()})}, vertices per polygon: {sorted({f.vertices.shape[1] for f in flex.values()})}"
    )
    print(f"vectorised polygons + figures: {t_vec:9.2f} s")
    loop_note = (
        ""
        if args.loop_every == 1
        else f" (measured on 1 hour in {args.loop_every}: {t_loop:.2f} s, scaled x{args.loop_every})"
    )
    print(f"brute-force shapely loop:      {t_loop_full:9.2f} s{loop_note}")
    print(f"speed-up of the vectorised polygons: {t_loop_full / t_vec:9.1f} x  (goal >= 100)")
    print(
        f"whole `atlas run` (fresh process):  {t_run:9.2f} s = {100 * t_run / t_loop_full:.2f} % of the loop  (goal <= 1 %)"
    )
    agree = worst_fig <= 1e-9 and worst_area <= 1e-9
    print(
        f"agreement on {len(cases) * len(hours)} polygons: max |figure diff| = {worst_fig:.2e} MW/Mvar, max area rel. diff = {worst_area:.2e} -> {'AGREE' if agree else 'DISAGREE'}"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
