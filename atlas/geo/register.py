"""The DER register: points of installations -> installed capacity per PS, scenario,
technology and connection level; city-wide growth allocated to the service areas.

Register columns (docs/study-file.md, "DER register"):

``technology``
    pv, chp, biomass, hydro, or ev (a charging point).
``capacity_kw`` or ``capacity_mw``
    Exactly one of them; the unit is in the name and converted to MW once, here.
``level``
    MV (CEI 0-16) or LV (CEI 0-21); empty means MV.
``location``
    For ev: home, work, b2c or public.
``v2g``
    For ev, optional: true/false overrides the location's default V2G capability.
``scenario``
    Optional: empty means the installation exists in every scenario; a name means only in
    that scenario (a planned plant).
``bus``
    Optional: the bus of the PS's MV network the installation is connected to (with
    ``[network]``, docs/network.md); else the nearest bus.
``der_id``, ``name``
    Optional identifiers (``der_id`` defaults to the row number). A ``der_id`` given twice
    for the same scenario is an error (an empty scenario counts as every scenario).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from atlas._compat import TEXT
from atlas.conventions import EV_LOCATIONS, INSTALLED_TECHNOLOGIES, LEVELS
from atlas.errors import AtlasInputError
from atlas.inputs.checks import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    check_text,
    first_duplicate,
    float_values,
    raise_first_bad,
    record_label,
)
from atlas.inputs.plausibility import Finding
from atlas.inputs.tables import storage_energy

REGISTER_TECHNOLOGIES: tuple[str, ...] = (*INSTALLED_TECHNOLOGIES, "ev")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def normalise_register(
    raw: gpd.GeoDataFrame,
    path: Path,
    scenarios: list[str],
    is_csv: bool = True,
    warnings: list | None = None,
) -> gpd.GeoDataFrame:
    """Check a register layer and bring it to the atlas's columns and units.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        Points, as read by :func:`atlas.geo.layers.read_layer`.
    path : pathlib.Path
        The register file (for messages).
    scenarios : list of str
        The study's scenarios.
    is_csv : bool
        Whether rows are CSV lines (for line numbers in messages).
    warnings : list, optional
        Where to add a :class:`~atlas.inputs.plausibility.Finding` (``ignored_values``)
        naming the rows of another technology than ``ev`` that give a ``location`` or a
        ``v2g`` (only charging points have them: the values are not used).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns der_id (str), name (str), technology, level, capacity_mw [MW] (of a bess
        its converter's rating, of a statcom its rating in MVA), energy_mwh (a bess's
        usable energy, NaN on other rows) [MWh], location ("" for non-EV), v2g (float: 1, 0
        or NaN when not given), scenario ("" = all), bus where the layer has that column (the network bus it is
        connected to, ``""`` where not given: docs/network.md), and the point geometry, same CRS.

    Raises
    ------
    AtlasInputError
        A missing or doubled capacity column, no technology column, or the first bad
        record (row or feature): unknown technology, level, EV location or scenario,
        negative or non-numeric capacity, a ``v2g`` that is not true/false, a ``der_id``
        given twice for the same scenario (naming both records).
    """
    cols = set(raw.columns)
    has_kw, has_mw = "capacity_kw" in cols, "capacity_mw" in cols
    if has_kw == has_mw:
        problem = "both capacity_kw and capacity_mw" if has_kw else "no capacity column"
        raise AtlasInputError(
            path,
            "header",
            f"{problem}, expected exactly one of capacity_kw or capacity_mw",
            line=1 if is_csv else None,
        )
    if "technology" not in cols:
        raise AtlasInputError(
            path, "header", "missing column 'technology'", line=1 if is_csv else None
        )
    n = len(raw)

    def text(col: str, default: str = "") -> pd.Series:
        """The column as stripped text (Arrow strings: no Python object per cell, registers
        are long), empty and missing cells as ``default``."""
        if col not in cols:
            return pd.Series(default, index=raw.index, dtype=TEXT)
        values = raw[col]
        if values.dtype != "str":  # numbers or mixed cells (GeoJSON): each distinct one once
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            as_text = np.empty(len(uniques) + 1, dtype=object)  # the last: missing cells
            as_text[:-1] = pd.Series(np.asarray(uniques, dtype=object), dtype=TEXT).to_numpy()
            values = pd.Series(as_text[codes], index=raw.index, dtype=TEXT)
        stripped = values.str.strip()
        return stripped.where(stripped.notna() & (stripped != ""), default)

    tech = text("technology").str.lower()
    raise_first_bad(
        ~tech.isin(REGISTER_TECHNOLOGIES),
        path,
        "technology",
        lambda i: f"{tech.iloc[i]!r}, expected one of {list(REGISTER_TECHNOLOGIES)}",
        is_csv=is_csv,
    )
    cap_col = "capacity_kw" if has_kw else "capacity_mw"
    cap = float_values(raw[cap_col])
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(cap) | (cap < 0)
    raise_first_bad(
        bad,
        path,
        cap_col,
        lambda i: f"{raw[cap_col].iloc[i]!r}, expected a number >= 0",
        is_csv=is_csv,
    )
    capacity_mw = cap / 1000.0 if has_kw else cap
    if "energy_kwh" in cols and "energy_mwh" in cols:
        raise AtlasInputError(
            path,
            "header",
            "both energy_kwh and energy_mwh, expected one of them (a battery's usable energy)",
            line=1 if is_csv else None,
        )
    in_kwh = "energy_kwh" in cols
    energy_mwh = storage_energy(
        raw,
        tech,
        capacity_mw,
        path,
        "energy_kwh" if in_kwh else "energy_mwh",
        1e-3 if in_kwh else 1.0,
        is_csv=is_csv,
    )
    level = text("level", "MV").str.upper()
    raise_first_bad(
        ~level.isin(LEVELS),
        path,
        "level",
        lambda i: f"{level.iloc[i]!r}, expected one of {list(LEVELS)}",
        is_csv=is_csv,
    )
    location = text("location").str.lower()
    is_ev = (tech == "ev").to_numpy()
    raise_first_bad(
        is_ev & ~location.isin(EV_LOCATIONS).to_numpy(),
        path,
        "location",
        lambda i: (
            f"{location.iloc[i]!r} for a charging point, expected one of {list(EV_LOCATIONS)}"
        ),
        is_csv=is_csv,
    )
    v2g_text = text("v2g").str.lower()
    v2g = np.full(n, np.nan)
    v2g[v2g_text.isin(_TRUE).to_numpy()] = 1.0
    v2g[v2g_text.isin(_FALSE).to_numpy()] = 0.0
    raise_first_bad(
        (v2g_text != "").to_numpy() & np.isnan(v2g),
        path,
        "v2g",
        lambda i: f"{v2g_text.iloc[i]!r}, expected true, false or empty",
        is_csv=is_csv,
    )
    ignored = ~is_ev & ((location != "").to_numpy() | (v2g_text != "").to_numpy())
    if warnings is not None and ignored.any():
        rows = np.flatnonzero(ignored)
        where, line = record_label(rows[:5].tolist(), is_csv=is_csv)
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        warnings.append(
            Finding(
                "ignored_values",
                str(path),
                f"{where}{more}, location/v2g",
                f"{len(rows)} installation(s) of another technology than ev give a location "
                f"or a v2g (the first a {tech.iloc[rows[0]]!r} row): not used, only charging "
                "points (technology ev) have them",
                line,
            )
        )
    location = location.where(is_ev, "")
    v2g[~is_ev] = np.nan
    scenario = text("scenario")
    raise_first_bad(
        (scenario != "") & ~scenario.isin(scenarios),
        path,
        "scenario",
        lambda i: f"{scenario.iloc[i]!r}, expected empty (all scenarios) or one of {scenarios}",
        is_csv=is_csv,
    )
    der_id = text("der_id")
    names = text("name")
    check_text(der_id, path, "der_id", MAX_ID_CHARS, is_csv=is_csv)
    check_text(names, path, "name", MAX_NAME_CHARS, is_csv=is_csv)
    if "bus" in cols:
        check_text(text("bus"), path, "bus", MAX_ID_CHARS, is_csv=is_csv)
    _check_unique_der_ids(
        der_id, scenario, scenarios, path, is_csv=is_csv, per_scenario="scenario" in cols
    )
    der_id = der_id.where(der_id != "", pd.Series(np.arange(1, n + 1).astype(str), index=raw.index))
    return gpd.GeoDataFrame(
        {
            "der_id": der_id.array,
            "name": names.array,
            "technology": tech.array,
            "level": level.array,
            "capacity_mw": capacity_mw,
            "energy_mwh": energy_mwh,
            "location": location.array,
            "v2g": v2g,
            "scenario": scenario.array,
        }
        | ({"bus": text("bus").array} if "bus" in cols else {}),
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )


def _check_unique_der_ids(
    der_id: pd.Series,
    scenario: pd.Series,
    scenarios: list[str],
    path: Path,
    is_csv: bool,
    per_scenario: bool,
) -> None:
    """Refuse a ``der_id`` given twice for the same scenario.

    A register may list one installation once per scenario (``scenario`` column: a plant
    repowered in 2030, say); an empty scenario means every scenario, so it clashes with any
    other row of that ``der_id``. Empty ids (numbered by row later) are not compared.

    Parameters
    ----------
    der_id, scenario : pandas.Series
        Each row's stripped id and scenario ("" for none and for every scenario); every
        scenario given is one of ``scenarios``.

    Raises
    ------
    AtlasInputError
        Naming both records of the first clash, e.g. ``rows 3 and 7, der_id: duplicate
        'PV12', expected each der_id once``.
    """
    given = np.flatnonzero((der_id != "").to_numpy(dtype=bool))
    if len(given) < 2:
        return
    # ids and scenarios as integer codes: a million rows compared without a Python object
    id_code = pd.factorize(der_id)[0].astype(np.int64)
    sc_code = pd.Index(scenarios).get_indexer(scenario).astype(np.int64)  # "": -1
    # one (row, scenario) for each scenario a row belongs to, in row order
    members = [given[(sc_code[given] == -1) | (sc_code[given] == k)] for k in range(len(scenarios))]
    row = np.concatenate(members)
    named = np.concatenate([np.full(len(m), k) for k, m in enumerate(members)])
    order = np.argsort(row, kind="stable")
    row, named = row[order], named[order]
    pair = first_duplicate(id_code[row] * len(scenarios) + named)
    if pair is None:
        return
    a, b = int(row[pair[0]]), int(row[pair[1]])
    label, line = record_label([a, b], is_csv)
    value = der_id.iloc[b]
    sc_a, sc_b = scenario.iloc[a], scenario.iloc[b]
    if not per_scenario:
        problem = f"duplicate {value!r}, expected each der_id once"
    elif sc_a == sc_b == "":
        problem = f"duplicate {value!r} in every scenario, expected each der_id once per scenario"
    else:
        shared = scenarios[int(named[pair[1]])]
        problem = f"duplicate {value!r} in scenario {shared!r}"
        if "" in (sc_a, sc_b):
            problem += " (an empty scenario means every scenario)"
        problem += ", expected each der_id once per scenario"
    raise AtlasInputError(path, f"{label}, der_id", problem, line=line)


def _per_scenario(register: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    """One copy of each row per scenario it belongs to (empty scenario = all)."""
    parts = []
    for s in scenarios:
        rows = register[(register["scenario"] == "") | (register["scenario"] == s)]
        parts.append(rows.assign(scenario=s))
    return pd.concat(parts, ignore_index=True)


def capacity_from_register(register: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    """Installed capacity per scenario, PS, technology and level (EV excluded).

    Parameters
    ----------
    register : pandas.DataFrame
        The normalised register with a ``ps_id`` column (unassigned rows removed).
    scenarios : list of str

    Returns
    -------
    pandas.DataFrame
        scenario, ps_id, technology, level, capacity_mw [MW], energy_mwh [MWh]: the
        engine's capacity table. Batteries of a PS and level add up only when their
        energy per MW of converter is equal (their sets scale then, METHOD.md): one row
        per such group, so a (scenario, ps_id, bess, level) key may appear more than once.
    """
    columns = ["scenario", "ps_id", "technology", "level", "capacity_mw", "energy_mwh"]
    rows = _per_scenario(register[register["technology"] != "ev"], scenarios)
    is_bess = (rows["technology"] == "bess").to_numpy()
    keys = ["scenario", "ps_id", "technology", "level"]
    other = rows[~is_bess].groupby(keys, sort=True, as_index=False)["capacity_mw"].sum()
    other["energy_mwh"] = np.nan
    if not is_bess.any():
        return other[columns]
    bess = rows[is_bess]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = bess["energy_mwh"].to_numpy(dtype=float) / bess["capacity_mw"].to_numpy(dtype=float)
    bess = bess.assign(ratio=np.where(np.isfinite(ratio), ratio, 0.0))
    grouped = bess.groupby([*keys, "ratio"], sort=True, as_index=False)[
        ["capacity_mw", "energy_mwh"]
    ].sum()
    out = pd.concat([other, grouped[columns]], ignore_index=True)
    return out.sort_values(keys, kind="stable", ignore_index=True)[columns]


def ev_points_from_register(
    register: pd.DataFrame, scenarios: list[str], v2g_locations: frozenset[str]
) -> pd.DataFrame:
    """Charging points per scenario, PS and location, and the V2G share of their capacity.

    A point's ``v2g`` flag, where given, overrides its location's default
    (``v2g_locations``). The share is by charger capacity, or by count where every
    capacity is zero.

    Returns
    -------
    pandas.DataFrame
        scenario, ps_id, location, points (count), capacity_mw [MW], v2g_share [-].
    """
    ev = _per_scenario(register[register["technology"] == "ev"], scenarios)
    if ev.empty:
        return pd.DataFrame(
            columns=["scenario", "ps_id", "location", "points", "capacity_mw", "v2g_share"]
        )
    default = ev["location"].isin(v2g_locations).to_numpy(dtype=float)
    flag = np.where(
        np.isnan(ev["v2g"].to_numpy(dtype=float)), default, ev["v2g"].to_numpy(dtype=float)
    )
    ev = ev.assign(points=1, v2g_cap=flag * ev["capacity_mw"], v2g_points=flag)
    g = ev.groupby(["scenario", "ps_id", "location"], sort=True, as_index=False)[
        ["points", "capacity_mw", "v2g_cap", "v2g_points"]
    ].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            g["capacity_mw"] > 0, g["v2g_cap"] / g["capacity_mw"], g["v2g_points"] / g["points"]
        )
    return g.assign(v2g_share=share)[
        ["scenario", "ps_id", "location", "points", "capacity_mw", "v2g_share"]
    ]


def allocate_growth(added_mw: float, weights: pd.Series, what: str) -> pd.Series:
    """Split ``added_mw`` over PS in proportion to ``weights`` (indexed by ps_id).

    The parts sum to ``added_mw`` exactly up to rounding. All-zero weights are an error
    naming ``what``.
    """
    w = weights.astype(float).clip(lower=0.0)
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"cannot allocate {added_mw} MW by {what}: every weight is zero")
    return added_mw * w / total
