"""A whole country in one batch: wall time and peak memory of `atlas run` on SYNTHETIC studies.

Writes (once, cached) seeded synthetic national studies with `atlas synth`, runs `atlas run`
on them in a fresh process, and samples the resident memory of the whole process tree (the
command, its worker processes and their server) every 0.1 s. Prints the figures; asserts
nothing.

    python benchmarks/bench_scale.py --n-ps 200 2200              # the memory bound
    python benchmarks/bench_scale.py --n-ps 200 --speedup         # 1 vs 2 workers, 3 runs each
    python benchmarks/bench_scale.py --n-ps 200 --speedup --dask  # and the dask engine

Every study here is SYNTHETIC (atlas.synth).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

CACHE = Path(os.environ.get("ATLAS_BENCH_CACHE", "/tmp/atlas-bench"))


def synth(n_ps: int) -> Path:
    """The synthetic study of n_ps PS (680 DER points per PS), written once."""
    folder = CACHE / f"synth{n_ps}"
    if not (folder / "study.toml").is_file():
        subprocess.run(
            [sys.executable, "-m", "atlas.cli", "synth", str(folder), "--n-ps", str(n_ps)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder / "study.toml"


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants. [bytes]"""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(args: list[str]) -> tuple[float, float, int]:
    """Run a command; return its wall time [s], peak tree RSS [GB] and exit code."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, tree_rss(ps))
            except psutil.Error:
                pass
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = proc.communicate()
    done.set()
    thread.join()
    if proc.returncode:
        print(err.decode()[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, peak / 1e9, proc.returncode


def atlas_run(study: Path, out: Path, *extra: str) -> tuple[float, float, dict]:
    wall, peak, rc = measure(
        [sys.executable, "-m", "atlas.cli", "run", "--config", str(study), "--out", str(out),
         "--no-progress", *extra]
    )  # fmt: skip
    if rc:
        raise SystemExit(f"atlas run failed ({rc})")
    return wall, peak, json.loads((out / "run.json").read_text())


def stages(manifest: dict) -> str:
    t = manifest["timings_s"]
    keys = ["read", "chunks", "write", "report", "map", "total"]
    return ", ".join(f"{k} {t[k]:.1f}" for k in keys if k in t)


def same_data(a: Path, b: Path) -> list[str]:
    """Files of two run folders whose bytes differ (run.json aside)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "run.json")
    other = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "run.json")
    if files != other:
        return ["(different file lists)"]
    return [str(f) for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ps", type=int, nargs="+", default=[200, 2200])
    parser.add_argument("--map", default="offline", choices=["online", "offline", "none"])
    parser.add_argument("--chunk-size", type=int, default=8)
    parser.add_argument("--speedup", action="store_true", help="1 vs 2 workers, no figures/map")
    parser.add_argument("--dask", action="store_true", help="also the dask engine (LocalCluster)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each worker count with --speedup"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    out = CACHE / "runs"
    peaks = {}
    for n in args.n_ps:
        study = synth(n)
        if args.speedup:
            walls: dict[int, list[float]] = {1: [], 2: []}
            chunk_walls: dict[int, list[float]] = {1: [], 2: []}
            for r in range(args.repeat):  # 1 and 2 workers in turn: both see the same machine
                for w in (1, 2):
                    wall, peak, m = atlas_run(
                        study, out / f"{n}-w{w}", "--figures", "none", "--map", "none",
                        "--workers", str(w), "--chunk-size", str(args.chunk_size),
                    )  # fmt: skip
                    walls[w].append(wall)
                    chunk_walls[w].append(m["timings_s"]["chunks"])
                    print(f"{n} PS, --workers {w} (run {r + 1}): {wall:6.1f} s, peak tree RSS "
                          f"{peak:.2f} GB ({stages(m)})")  # fmt: skip
            best = {w: min(v) for w, v in walls.items()}
            median = {w: statistics.median(v) for w, v in walls.items()}
            print(f"{n} PS: 2 workers {best[1] / best[2]:.2f}x faster than 1, best of "
                  f"{args.repeat} each ({best[1]:.1f} s / {best[2]:.1f} s); median "
                  f"{median[1] / median[2]:.2f}x (goal >= 1.7)")  # fmt: skip
            # the same split of each run: the chunk stage, and everything else (start,
            # imports, read, write, report), which one or two workers do alike
            c = {w: statistics.median(v) for w, v in chunk_walls.items()}
            rest = {w: median[w] - c[w] for w in walls}
            print(f"{n} PS: chunk stage alone {c[1] / c[2]:.2f}x faster with 2 workers (median "
                  f"{c[1]:.1f} s / {c[2]:.1f} s); outside the chunks {rest[1]:.1f} s with 1 "
                  f"worker, {rest[2]:.1f} s with 2")  # fmt: skip
            # Amdahl's ceiling: the chunks split perfectly (the busier of two workers runs
            # ceil(k / 2) of the k equal chunks, each as fast as alone, no start-up of its
            # own), everything else as measured with 2 workers
            k = m["engine"]["chunks"]
            split = c[1] * -(-k // 2) / k
            print(f"{n} PS: ceiling with a perfect split of the {k} chunks: "
                  f"{median[1] / (rest[2] + split):.2f}x ({median[1]:.1f} s / "
                  f"({rest[2]:.1f} s + {split:.1f} s))")  # fmt: skip
            diff = same_data(out / f"{n}-w1", out / f"{n}-w2")
            print(f"outputs of 1 and 2 workers: {'identical' if not diff else diff[:5]}")
            if args.dask:
                wall, peak, m = atlas_run(
                    study, out / f"{n}-dask", "--figures", "none", "--map", "none",
                    "--engine", "dask", "--workers", "2", "--chunk-size", str(args.chunk_size),
                )  # fmt: skip
                diff = same_data(out / f"{n}-w1", out / f"{n}-dask")
                print(f"{n} PS, --engine dask (LocalCluster, 2 workers): {wall:.1f} s, peak "
                      f"{peak:.2f} GB; outputs {'identical' if not diff else diff[:5]}")  # fmt: skip
            continue
        wall, peak, m = atlas_run(
            study, out / f"{n}", "--figures", "none", "--map", args.map,
            "--chunk-size", str(args.chunk_size),
        )  # fmt: skip
        peaks[n] = peak
        print(f"{n} PS, {m['summary'].get('ders_total', '?')} DERs, --figures none --map {args.map}: "
              f"{wall:.1f} s (goal <= 180 s at 2200), peak tree RSS {peak:.2f} GB (goal <= 8) "
              f"[{stages(m)}; {m.get('memory')}]")  # fmt: skip
        for cmd in (["screen", str(out / f"{n}"), "--threshold-mw", "5"],
                    ["map", str(out / f"{n}")]):  # fmt: skip
            wall, peak, rc = measure([sys.executable, "-m", "atlas.cli", *cmd])
            print(f"  atlas {cmd[0]}: {wall:.1f} s, peak tree RSS {peak:.2f} GB (exit {rc})")
    if len(peaks) > 1:
        lo, hi = min(peaks), max(peaks)
        print(f"peak at {hi} PS / peak at {lo} PS = {peaks[hi] / peaks[lo]:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
