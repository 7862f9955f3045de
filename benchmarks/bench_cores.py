"""How much faster does this machine run two CPU-bound processes than one?

The ceiling of ``atlas run --workers 2`` against ``--workers 1``: two copies of the same
work, run one after the other and then at the same time in two processes. Two kernels:
pure Python (cache-resident) and numpy over 8760-hour arrays like the engine's (a few MB
per process: caches and memory bandwidth are shared). Prints the figures; asserts nothing.

    python benchmarks/bench_cores.py --repeat 5
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time

# one BLAS thread per process, as the atlas's workers use the cores (set before numpy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np


def python_kernel(n: int = 4_000_000) -> float:
    """A pure-Python loop. [s]"""
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - t0


def numpy_kernel(rounds: int = 600) -> float:
    """Support functions and sorts over (8760, 2) points, as the envelope code does. [s]"""
    rng = np.random.default_rng(0)
    points = rng.random((8760, 2))
    directions = rng.random((2, 64))
    t0 = time.perf_counter()
    for _ in range(rounds):
        support = points @ directions
        support.max(axis=0)
        np.sort(points[:, 0])
        np.cumsum(support, axis=0)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        for name, kernel in (("pure Python", python_kernel), ("numpy 8760 h", numpy_kernel)):
            ratios = []
            for _ in range(args.repeat):
                serial = kernel() + kernel()
                t0 = time.perf_counter()
                pool.map(_call, [kernel, kernel])
                parallel = time.perf_counter() - t0
                ratios.append(serial / parallel)
            print(f"{name}: two processes {statistics.median(ratios):.2f}x faster than one "
                  f"(median of {args.repeat}; {min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip


def _call(kernel) -> float:
    return kernel()


if __name__ == "__main__":
    main()
