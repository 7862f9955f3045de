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

With ``--engine`` it times instead the per-PS engine, :func:`atlas.engine.compute.compute_ps`
for every PS, on one linear-algebra thread, for the embedded Milan demo and the synthetic
study (CPU seconds per PS, the best of ``--repeat`` passes). ``--save FILE`` keeps the
outputs (figures, envelopes, over-rating hours) and ``--compare FILE`` reports how far the
current outputs are from kept ones: run it with ``--save`` before a change to the engine and
with ``--compare`` after.

    python benchmarks/bench_envelope.py --engine --n-ps 50 --save /tmp/before.pkl
    python benchmarks/bench_envelope.py --engine --n-ps 50 --compare /tmp/before.pkl
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_study import write_synthetic_study

from atlas.demo import demo_study_path
from atlas.engine.compute import compute_ps, der_groups
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
    parser.add_argument("--engine", action="store_true", help="time compute_ps per PS instead")
    parser.add_argument("--repeat", type=int, default=3, help="passes of --engine (best kept)")
    parser.add_argument("--save", type=Path, help="with --engine: keep the outputs here")
    parser.add_argument("--compare", type=Path, help="with --engine: compare with kept outputs")
    args = parser.parse_args()
    if args.engine:
        engine_main(args)
        return

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


def time_compute_ps(study: Path, repeat: int) -> tuple[float, list]:
    """CPU seconds per PS of ``compute_ps`` over every PS (best of ``repeat`` passes) [s],
    and the outputs of the last pass."""
    from threadpoolctl import threadpool_limits

    inputs = load_inputs(study)
    n_ps = len(inputs.ps_ids)
    best = float("inf")
    outputs: list = []
    with threadpool_limits(limits=1):
        compute_ps(inputs, 0)  # warm-up: imports, caches
        for _ in range(repeat):
            t0 = time.process_time()
            outputs = [compute_ps(inputs, k) for k in range(n_ps)]
            best = min(best, (time.process_time() - t0) / n_ps)
    return best, outputs


def compare_outputs(kept: list, now: list) -> str:
    """How far two lists of ``compute_ps`` outputs are apart, as one line."""
    import shapely

    max_diff = 0.0
    values_unequal = over_unequal = geoms_inexact = 0
    worst_hausdorff = 0.0
    for (v0, env0, over0), (v1, env1, over1) in zip(kept, now, strict=True):
        max_diff = max(max_diff, float(np.nanmax(np.abs(v0 - v1))))
        values_unequal += not np.array_equal(v0, v1, equal_nan=True)
        over_unequal += int(np.sum(over0 != over1))
        for row0, row1 in zip(env0, env1, strict=True):
            if row0[:3] != row1[:3]:
                raise ValueError(f"envelope rows differ: {row0[:3]} != {row1[:3]}")
            if not shapely.equals_exact(row0[3], row1[3], tolerance=0.0):
                geoms_inexact += 1
                worst_hausdorff = max(worst_hausdorff, shapely.hausdorff_distance(row0[3], row1[3]))
    n_geoms = sum(len(env) for _, env, _ in kept)
    return (
        f"max |figure diff| {max_diff:.3g} MW/Mvar ({values_unequal} of {len(kept)} PS not bit "
        f"for bit), {over_unequal} over-rating hours differ, {geoms_inexact} of {n_geoms} "
        f"envelopes not vertex for vertex equal (largest Hausdorff distance "
        f"{worst_hausdorff:.3g} MW/Mvar)"
    )


def engine_main(args: argparse.Namespace) -> None:
    """Time compute_ps per PS on the demo and a synthetic study; save or compare outputs."""
    kept = pickle.loads(args.compare.read_bytes()) if args.compare else None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        studies = {
            "milan demo": demo_study_path(),
            f"synthetic {args.n_ps} PS": write_synthetic_study(Path(tmp) / "study", args.n_ps),
        }
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; one linear-algebra thread"
        )
        for name, study in studies.items():
            per_ps, outputs = time_compute_ps(study, args.repeat)
            results[name] = outputs
            line = f"{name:>18}: compute_ps {1000 * per_ps:7.1f} ms CPU per PS ({len(outputs)} PS, best of {args.repeat})"
            print(line)
            if kept is not None and name not in kept:
                print(f"{'':>18}  {args.compare.name} holds no outputs of this study")
            elif kept is not None:
                print(
                    f"{'':>18}  against {args.compare.name}: {compare_outputs(kept[name], outputs)}"
                )
    if args.save:
        args.save.write_bytes(pickle.dumps(results))
        print(f"outputs kept in {args.save}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
