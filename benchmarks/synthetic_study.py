"""Write a SYNTHETIC study of N substations for benchmarks (seeded, every technology present).

Nothing here is real data: substations are placed on a grid around Milan, capacities and
load are random draws of plausible size, and EV charging follows simple daily shapes.

    python benchmarks/synthetic_study.py OUT_DIR --n-ps 50
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.conventions import EV_LOCATIONS
from atlas.inputs.timeaxis import hourly_axis

SEED = 20301


def write_synthetic_study(
    out_dir: Path, n_ps: int = 50, year: int = 2030, seed: int = SEED
) -> Path:
    """Write study.toml and its inputs; return the study file's path."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    axis = hourly_axis(year)
    stamps = axis.strftime("%Y-%m-%dT%H:%M:%SZ")
    ps_ids = [f"PS{k:03d}" for k in range(n_ps)]
    side = int(np.ceil(np.sqrt(n_ps)))
    pd.DataFrame(
        {
            "ps_id": ps_ids,
            "name": [f"Synthetic PS {k}" for k in range(n_ps)],
            "lat": 45.40 + 0.02 * (np.arange(n_ps) // side),
            "lon": 9.10 + 0.02 * (np.arange(n_ps) % side),
            "rated_mva": rng.choice([126.0, 189.0, 250.0, 376.0], n_ps),
        }
    ).to_csv(out_dir / "substations.csv", index=False)

    rows = []
    for scenario, growth in (("as-is", 1.0), ("2030", 2.5)):
        for ps in ps_ids:
            rows += [
                (scenario, ps, "pv", round(growth * rng.uniform(1, 8), 3), "MV"),
                (scenario, ps, "pv", round(growth * rng.uniform(0.5, 4), 3), "LV"),
                (scenario, ps, "chp", round(rng.uniform(2, 30), 3), "MV"),
                (scenario, ps, "biomass", round(rng.uniform(0.2, 3), 3), "MV"),
                (scenario, ps, "hydro", round(rng.uniform(0.1, 1), 3), "MV"),
            ]
    pd.DataFrame(rows, columns=["scenario", "ps_id", "technology", "capacity_mw", "level"]).to_csv(
        out_dir / "capacity.csv", index=False
    )

    hours = np.arange(len(axis))
    daily = np.sin(2 * np.pi * ((hours % 24) - 8) / 24)
    seasonal = np.cos(2 * np.pi * hours / len(axis))
    peak = rng.uniform(60, 200, n_ps)
    p = peak[:, None] * (
        0.65 + 0.2 * daily + 0.1 * seasonal + 0.02 * rng.standard_normal((n_ps, len(axis)))
    )
    q = p * np.tan(np.arccos(0.95))
    pd.DataFrame(
        {
            "time": np.tile(stamps, n_ps),
            "ps_id": np.repeat(ps_ids, len(axis)),
            "p_mw": p.ravel().round(4),
            "q_mvar": q.ravel().round(4),
        }
    ).to_csv(out_dir / "load.csv", index=False)

    shapes = {
        "home": np.clip(np.cos(2 * np.pi * ((hours % 24) - 21) / 24), 0, None),
        "work": np.clip(np.sin(2 * np.pi * ((hours % 24) - 7) / 20), 0, None),
        "b2c": np.clip(np.sin(2 * np.pi * ((hours % 24) - 9) / 22), 0, None),
        "public": 0.5 + 0.3 * np.sin(2 * np.pi * ((hours % 24) - 10) / 24),
    }
    ev = []
    for ps in ps_ids:
        scale = rng.uniform(0.5, 3.0)
        for loc in EV_LOCATIONS:
            pw = (scale * shapes[loc]).round(4)
            keep = pw > 0
            ev.append(
                pd.DataFrame(
                    {
                        "scenario": "2030",
                        "time": stamps[keep],
                        "ps_id": ps,
                        "location": loc,
                        "p_mw": pw[keep],
                    }
                )
            )
    pd.concat(ev).to_csv(out_dir / "ev.csv", index=False)

    study = out_dir / "study.toml"
    study.write_text(
        f"""# SYNTHETIC benchmark study: {n_ps} invented substations, seed {seed}
[study]
name = "synthetic-{n_ps}"
year = {year}
timezone = "Europe/Rome"
[inputs]
substations = "substations.csv"
capacity = "capacity.csv"
load = "load.csv"
[profiles.pv]
source = "clearsky"
[profiles.ev]
source = "file"
file = "ev.csv"
[scenarios]
names = ["as-is", "2030"]
""",
        encoding="utf-8",
    )
    return study


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n-ps", type=int, default=50)
    args = parser.parse_args()
    print(write_synthetic_study(args.out_dir, args.n_ps))
