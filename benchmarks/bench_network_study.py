"""A study of N PS, each with a SimBench MV network, through `atlas run`: the product's
network-aware stage at the demo's size (issue 14: 30 networks in at most 10 minutes).

The study is assembled from SimBench's twelve MV grids with switches (rural, semi-urban,
urban, commercial; scenarios 0, 1, 2), cycled: PS k has grid k mod 12 as its
``[network.grids]`` entry, its generators as register rows on their buses (``bus`` given), its
HV/MV transformers as rating, and its exchange from an AC power flow of every hour as load
(``atlas import simbench``'s files, :func:`atlas.network.simbench.study_files`). The PS
sites are laid out on a SYNTHETIC grid of points 20 km apart (Voronoi areas in a
rectangle around them), each PS's DERs at its own site: SimBench's coordinates are not
used, the buses are. Shared profiles per technology (the first grid's that has it).
SimBench data (c) Meinecke et al., ODbL 1.0. Prints the wall time of `atlas run` and of its
network stage, the peak memory of the process tree, the binding hours and AC checks, and
pandapower's AC OPF per snapshot measured in the same run; asserts nothing.

    python benchmarks/bench_network_study.py --n-ps 30 --workers 2    # in .venv-network
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

MV_GRIDS = [
    f"1-MV-{kind}--{scenario}-sw"
    for scenario in (0, 1, 2)
    for kind in ("rural", "semiurb", "urban", "comm")
]


def write_study(folder: Path, n_ps: int) -> Path:
    """The study of ``n_ps`` PS on SimBench's grids; returns study.toml's path."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from atlas.network.simbench import read_simbench, study_files

    folder.mkdir(parents=True, exist_ok=True)
    codes = [MV_GRIDS[k % len(MV_GRIDS)] for k in range(n_ps)]
    files = {}
    for code in dict.fromkeys(codes):
        t0 = time.perf_counter()
        files[code] = study_files(read_simbench(code))
        print(f"  {code}: study files in {time.perf_counter() - t0:.1f} s", flush=True)
    side = int(np.ceil(np.sqrt(n_ps)))
    lat = 50.0 + 0.18 * (np.arange(n_ps) // side)  # about 20 km
    lon = 9.0 + 0.28 * (np.arange(n_ps) % side)
    subs, ders, loads, grids = [], [], [], []
    for k, code in enumerate(codes):
        ps_id = f"PS{k:02d}"
        sub = pd.read_csv(io.StringIO(files[code]["substations.csv"]))
        subs.append((ps_id, f"SimBench {code} (synthetic site {k})", lat[k], lon[k],
                     float(sub["rated_mva"].iloc[0])))  # fmt: skip
        reg = pd.read_csv(io.StringIO(files[code]["ders.csv"]), dtype={"bus": str})
        reg["der_id"] = ps_id + "-" + reg["der_id"]
        reg["lat"], reg["lon"] = lat[k], lon[k]  # at the PS's site; placed by their bus
        ders.append(reg)
        load = pd.read_csv(io.StringIO(files[code]["load.csv"]))
        loads.append(load.assign(ps_id=ps_id))
        grids.append(f'[network.grids.{ps_id}]\nsimbench = "{code}"\n')
    pd.DataFrame(subs, columns=["ps_id", "name", "lat", "lon", "rated_mva"]).to_csv(
        folder / "substations.csv", index=False
    )
    pd.concat(ders).to_csv(folder / "ders.csv", index=False)
    pd.concat(loads).to_csv(folder / "load.csv", index=False)
    ring = [[lon.min() - 0.2, lat.min() - 0.12], [lon.max() + 0.2, lat.min() - 0.12],
            [lon.max() + 0.2, lat.max() + 0.12], [lon.min() - 0.2, lat.max() + 0.12]]  # fmt: skip
    ring.append(ring[0])
    boundary = {
        "type": "Feature",
        "properties": {"name": "synthetic"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    (folder / "boundary.geojson").write_text(json.dumps(boundary))
    profiles = ""
    for tech in ("pv", "wind", "biomass", "hydro"):
        first = next((c for c in files if f"{tech}.csv" in files[c]), None)
        if first is not None:
            (folder / f"{tech}.csv").write_text(files[first][f"{tech}.csv"])
            profiles += f'\n[profiles.{tech}]\nsource = "file"\nfile = "{tech}.csv"\n'
    largest = max(float(d["capacity_mw"].max()) for d in ders)
    (folder / "study.toml").write_text(
        f"""# SYNTHETIC sites; SimBench's grids, generators and 2016 profiles (ODbL 1.0)
[study]
name = "simbench-{n_ps}-networks"
year = 2016
timezone = "Europe/Berlin"

[inputs]
substations = "substations.csv"
ders = "ders.csv"
boundary = "boundary.geojson"
load = "load.csv"
{profiles}
[scenarios]
names = ["2016"]

[checks]
der_max_mw = {{ LV = {max(10.0, np.ceil(largest)):g}, MV = {max(10.0, np.ceil(largest)):g} }}

[network]
check_hours = 8
{"".join(grids)}"""
    )
    return folder / "study.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ps", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/atlas-bench/network-study"))
    parser.add_argument("--opf-snapshots", type=int, default=5)
    args = parser.parse_args()

    study = args.folder / f"study{args.n_ps}" / "study.toml"
    if not study.is_file():
        print(f"writing the study of {args.n_ps} PS into {study.parent}")
        write_study(study.parent, args.n_ps)
    out = args.folder / f"run{args.n_ps}"
    command = [sys.executable, "-m", "atlas.cli", "run", "--config", str(study), "--out",
               str(out), "--figures", "none", "--map", "none", "--no-progress",
               "--workers", str(args.workers)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = _watch_rss(proc)
    output = proc.communicate()[0]
    wall = time.perf_counter() - t0
    if proc.returncode:
        print(output)
        raise SystemExit(proc.returncode)
    manifest = json.loads((out / "run.json").read_text())
    timings = manifest["timings_s"]
    ps = manifest["network"]["ps"]
    print(
        f"{args.n_ps} PS, each with a SimBench MV network, `atlas run --workers {args.workers}`: "
        f"{wall:.1f} s wall (goal 600 s), network stage {timings['network']:.1f} s, peak RSS "
        f"of the process tree {peak / 1e9:.2f} GB"
    )
    seconds = np.array([v["seconds"] for v in ps.values()])
    print(f"  per PS (in its worker): {seconds.mean():.1f} s mean, {seconds.max():.1f} s max, "
          f"{seconds.sum():.1f} s summed")  # fmt: skip
    bound = {}
    beyond = 0
    checked = 0
    for info in ps.values():
        sc = info["scenarios"]["2016"]
        for f, n in sc["hours_bound"].items():
            bound[f] = bound.get(f, 0) + n
        checks = sc["ac_checks"]
        checked += len(checks["hours"])
        beyond += sum(len(checks[d]["violations"]) for d in ("p_up", "p_down", "q_up", "q_down"))
    print(f"  hours a network limit binds, summed over the PS: {bound}")
    print(f"  AC power flow of the dispatch at {checked} PS-hours x 4 directions: {beyond} beyond "
          "tolerance")  # fmt: skip
    if args.opf_snapshots:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_network_simbench import opf_seconds

        per, ok = opf_seconds(MV_GRIDS[1], args.opf_snapshots)
        print(f"  pandapower AC OPF on {MV_GRIDS[1]} (upward Q, P-Q boxes, numba off): {per:.2f} s "
              f"per snapshot ({ok}/{args.opf_snapshots} converged); {args.n_ps} grid-years of "
              f"8760 h x 4 directions would take {per * 8760 * 4 * args.n_ps / 3600:.0f} h")  # fmt: skip


def _watch_rss(proc) -> int:
    """Peak summed RSS of ``proc`` and its descendants, sampled every 0.2 s. [bytes]"""
    import psutil

    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            total = 0
        peak = max(peak, total)
        time.sleep(0.2)
    return peak


if __name__ == "__main__":
    main()
