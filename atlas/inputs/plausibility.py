"""Plausibility checks of the inputs: values that parse but cannot be right.

A register row of 1e9 kW (a 1 TW plant under a 63 MVA substation), a register whose
``capacity_kw`` column was renamed ``capacity_mw`` with its values left in kW, or a PS whose
DERs add up to forty times its rating all read without a parsing error. These checks find
them after reading, as :class:`Finding` objects; :func:`settle` raises the first one as the
atlas's error, or, for the checks the study accepts on purpose (``[checks] accept``), returns
them as warnings that the command prints and run.json lists.

The limits and their sources are in docs/study-file.md (``[checks]``):

``der_max_mw``
    A single installation larger than the level's limit: 0.2 MW on LV, 10 MW on MV by
    default (ARERA's TICA connects up to 100 kW on LV and up to 6 MW on MV, CEI 0-16
    applies to MV users up to 10 MW when the DSO decides so).
``capacity_unit``
    A capacity column whose values look like the other unit: most of a level's rows beyond
    its limit in ``capacity_mw`` (values in kW), or a level's typical installation below
    the smallest real ones (0.5 kW on LV, 10 kW on MV) in ``capacity_kw`` (values in MW).
``ps_capacity_max_ratio``
    The DER capacity of a PS in a scenario beyond a multiple (3 by default) of its rating.
``ps_rated_mva_max``
    A substation rated beyond 1000 MVA (a rating in kVA where MVA is expected).
``load_max_ratio``
    A measured load whose apparent power goes beyond twice the PS's rating in some hour.
``boundary_max_km``
    A substation more than 50 km from the boundary, or a part of the boundary more than
    50 km from every substation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atlas.errors import AtlasInputError
from atlas.inputs.checks import record_label

#: Records a finding names by number before it counts the rest.
SHOWN_RECORDS = 5

#: Below this typical installation of a level (the median of its non-zero capacities) a
#: ``capacity_kw`` column holds MW: the smallest LV DERs are single PV modules of about
#: 0.3 kW (a home of 3-6 kW is typical), and MV connections start around 100 kW. [kW]
KW_MEDIAN_MIN = {"LV": 0.5, "MV": 10.0}


@dataclass(frozen=True)
class Finding:
    """One implausible value (or set of values) found in an input.

    Attributes
    ----------
    check : str
        The check's name (``der_max_mw``, ``capacity_unit``, ``ps_capacity_max_ratio``).
    path : str
        The file at fault.
    where : str
        The rows or key (``rows 3, 9 and 12``, ``ps_id 'SUD', scenario '2030'``).
    problem : str
        What is wrong and what is expected.
    line : int or None
        File line of the last row named (CSV), if known.
    """

    check: str
    path: str
    where: str
    problem: str
    line: int | None = None

    def error(self) -> AtlasInputError:
        """The finding as the atlas's error (with the setting that accepts it)."""
        return AtlasInputError(
            self.path,
            self.where,
            f"{self.problem} (or, if this is right, accept it: [checks] accept = "
            f"[{self.check!r}] in the study file)",
            line=self.line,
        )

    def as_dict(self) -> dict[str, str | int | None]:
        """For run.json's ``warnings``."""
        return {
            "check": self.check,
            "file": self.path,
            "where": self.where,
            "problem": self.problem,
            "line": self.line,
        }

    def one_line(self) -> str:
        """``path[:line]: where: problem``, as printed after ``warning:``."""
        return AtlasInputError(self.path, self.where, self.problem, line=self.line).one_line()


def _records(positions: np.ndarray, is_csv: bool) -> tuple[str, int | None]:
    """``rows 3, 9 and 12`` (the first :data:`SHOWN_RECORDS`), ``and N more`` after them."""
    positions = np.asarray(positions)
    label, line = record_label([int(p) for p in positions[:SHOWN_RECORDS]], is_csv=is_csv)
    if len(positions) > SHOWN_RECORDS:
        label = label.replace(" and ", ", ") + f" and {len(positions) - SHOWN_RECORDS} more"
    return label, line


def _rated_in(path: Path | None) -> str:
    return "" if path is None else f" (rated_mva in {path})"


def _worst_over(ratio: np.ndarray, max_ratio: float) -> tuple[int, int] | None:
    """Position of the largest finite ratio beyond ``max_ratio`` and how many others are
    beyond it; None if none is. [-]"""
    over = np.isfinite(ratio) & (ratio > max_ratio)
    if not over.any():
        return None
    return int(np.argmax(np.where(over, ratio, -np.inf))), int(over.sum()) - 1


def der_limits(technology, level, der_max_mw: dict[str, float]) -> np.ndarray:
    """The largest plausible installation of each register row. [MW]

    Parameters
    ----------
    technology, level : numpy.ndarray or pandas.Series
        (n,) text per row.
    der_max_mw : dict
        Limits per level (``"LV"``) and per ``technology.level`` (``"chp.MV"``, which wins).

    Returns
    -------
    numpy.ndarray
        (n,) limit per row; inf where none is set. [MW]
    """
    limit = np.full(len(level), np.inf)
    for key, value in der_max_mw.items():
        tech, _, lv = key.rpartition(".")
        if not tech:
            limit[np.asarray(level == lv, dtype=bool)] = value
    for key, value in der_max_mw.items():
        tech, _, lv = key.rpartition(".")
        if tech:
            limit[np.asarray((level == lv) & (technology == tech), dtype=bool)] = value
    return limit


def register_findings(
    register: pd.DataFrame,
    path: Path,
    column: str,
    der_max_mw: dict[str, float],
    is_csv: bool = True,
) -> list[Finding]:
    """Installations beyond their level's limit, and a capacity column in the wrong unit.

    Parameters
    ----------
    register : pandas.DataFrame
        The normalised register (technology, level, capacity_mw [MW]) in file order.
    path : pathlib.Path
        The register file.
    column : {"capacity_kw", "capacity_mw"}
        The capacity column the file has (the unit the values were read in).
    der_max_mw : dict
        ``[checks] der_max_mw``. [MW]
    is_csv : bool
        Rows (with lines) or features.

    Returns
    -------
    list of Finding
        A ``capacity_unit`` finding first where one applies (it explains the others), then
        a ``der_max_mw`` finding naming the rows beyond their limit.
    """
    if len(register) == 0:
        return []
    # Arrow text compared in place (a national register has 1.5 million rows)
    tech = register["technology"]
    level = register["level"]
    mw = register["capacity_mw"].to_numpy(dtype=float)
    limit = der_limits(tech, level, der_max_mw)
    over = mw > limit
    findings = []
    if column == "capacity_mw":
        for lv in sorted(set(level[over])):
            rows = (level == lv).to_numpy()
            if over[rows].mean() > 0.5:
                median = float(np.median(mw[rows]))
                where, line = _records(np.flatnonzero(over & rows), is_csv)
                findings.append(
                    Finding(
                        "capacity_unit",
                        str(path),
                        f"{where}, capacity_mw",
                        f"{int((over & rows).sum())} of {int(rows.sum())} {lv} installations "
                        f"are beyond the {lv} limit (their median is {median:g} MW), which "
                        "looks like kW; expected MW (rename the column capacity_kw if the "
                        "values are in kW)",
                        line,
                    )
                )
                break
    else:
        for lv, floor in KW_MEDIAN_MIN.items():
            kw = mw[(level == lv).to_numpy() & (mw > 0)] * 1000.0
            if len(kw) and float(np.median(kw)) < floor:
                findings.append(
                    Finding(
                        "capacity_unit",
                        str(path),
                        "capacity_kw",
                        f"the typical {lv} installation is {float(np.median(kw)):.3g} kW (the "
                        f"median of {len(kw)} non-zero rows), below the smallest real ones "
                        f"({floor:g} kW), which looks like MW; expected kW (rename the column "
                        "capacity_mw if the values are in MW)",
                    )
                )
                break
    if over.any():
        where, line = _records(np.flatnonzero(over), is_csv)
        first = int(np.flatnonzero(over)[0])
        findings.append(
            Finding(
                "der_max_mw",
                str(path),
                f"{where}, {column}",
                f"{int(over.sum())} installation(s) beyond the plausible size of their "
                f"technology and level, the first a {tech.iloc[first]} {level.iloc[first]} "
                f"installation of {mw[first]:g} MW above {limit[first]:g} MW; expected "
                "one installation per row, within [checks] der_max_mw",
                line,
            )
        )
    return findings


def ps_capacity_findings(
    capacity: pd.DataFrame,
    rated_mva: pd.Series,
    path: Path,
    max_ratio: float,
    rated_in: Path | None = None,
) -> list[Finding]:
    """Substations whose installed DER capacity is beyond a multiple of their rating.

    Parameters
    ----------
    capacity : pandas.DataFrame
        scenario, ps_id, capacity_mw [MW] (every technology and level).
    rated_mva : pandas.Series
        Rating per ps_id; missing ratings are not checked. [MVA]
    path : pathlib.Path
        The file the capacities come from (the register or the capacity table).
    max_ratio : float
        ``[checks] ps_capacity_max_ratio``. [-]
    rated_in : pathlib.Path, optional
        The substations file the ratings come from (named too: either may be wrong).

    Returns
    -------
    list of Finding
        One finding naming the worst PS and scenario and how many others there are.
    """
    if capacity.empty:
        return []
    total = capacity.groupby(["scenario", "ps_id"], sort=False)["capacity_mw"].sum()
    rated = rated_mva.reindex(total.index.get_level_values("ps_id")).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = total.to_numpy() / rated
    found = _worst_over(ratio, max_ratio)
    if found is None:
        return []
    worst, others = found
    scenario, ps_id = total.index[worst]
    more = f" ({others} other PS and scenario(s) too)" if others else ""
    return [
        Finding(
            "ps_capacity_max_ratio",
            str(path),
            f"ps_id {ps_id!r}, scenario {scenario!r}",
            f"{total.iloc[worst]:g} MW of DER under a PS rated {rated[worst]:g} MVA"
            f"{_rated_in(rated_in)}, "
            f"{ratio[worst]:.3g} times its rating{more}; expected at most {max_ratio:g} "
            "times ([checks] ps_capacity_max_ratio): a capacity in kW where MW is expected?",
        )
    ]


def rating_findings(rated_mva: np.ndarray, path: Path, limit: float, is_csv: bool) -> list[Finding]:
    """Substations rated beyond a plausible primary substation (a rating in kVA?).

    Parameters
    ----------
    rated_mva : numpy.ndarray
        (n_ps,) rating per PS in file order; NaN where not given. [MVA]
    path : pathlib.Path
        The substations file.
    limit : float
        ``[checks] ps_rated_mva_max``. [MVA]
    is_csv : bool
        Rows (with lines) or features.
    """
    rated = np.asarray(rated_mva, dtype=float)
    over = np.flatnonzero(np.nan_to_num(rated, nan=0.0) > limit)
    if not len(over):
        return []
    where, line = _records(over, is_csv)
    return [
        Finding(
            "ps_rated_mva_max",
            str(path),
            f"{where}, rated_mva",
            f"a rating of {rated[over[0]]:g} MVA, beyond any primary substation (at most "
            f"{limit:g} MVA, [checks] ps_rated_mva_max): a rating in kVA? expected MVA",
            line,
        )
    ]


def load_peaks(load: np.ndarray) -> np.ndarray:
    """Largest hourly apparent power of each PS's measured load.

    Parameters
    ----------
    load : numpy.ndarray
        (n_ps, n_hours, 2) P [MW] and Q [Mvar].

    Returns
    -------
    numpy.ndarray
        (n_ps,) max over the hours of sqrt(P^2 + Q^2). [MVA]
    """
    return np.hypot(load[..., 0], load[..., 1]).max(axis=1)


def load_findings(
    peak_mva: np.ndarray,
    ps_ids: list[str],
    rated_mva: np.ndarray,
    path: Path,
    max_ratio: float,
    rated_in: Path | None = None,
) -> list[Finding]:
    """Substations whose measured load is beyond a multiple of their rating (kW or kvar
    where MW and Mvar are expected?).

    Parameters
    ----------
    peak_mva : numpy.ndarray
        (n_ps,) largest hourly apparent power of the load (:func:`load_peaks`). [MVA]
    ps_ids : list of str
    rated_mva : numpy.ndarray
        (n_ps,) rating; NaN or 0 where not known (not checked). [MVA]
    path : pathlib.Path
        The load file.
    max_ratio : float
        ``[checks] load_max_ratio``. [-]
    rated_in : pathlib.Path, optional
        The substations file the ratings come from (named too: either may be wrong).
    """
    rated = np.asarray(rated_mva, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(peak_mva, dtype=float) / rated
    found = _worst_over(ratio, max_ratio)
    if found is None:
        return []
    worst, others = found
    more = f" ({others} other PS too)" if others else ""
    return [
        Finding(
            "load_max_ratio",
            str(path),
            f"ps_id={ps_ids[worst]}",
            f"a load of {peak_mva[worst]:g} MVA under a PS rated {rated[worst]:g} MVA"
            f"{_rated_in(rated_in)}, "
            f"{ratio[worst]:.3g} times its rating{more}; expected at most {max_ratio:g} "
            "times ([checks] load_max_ratio): kW and kvar where MW and Mvar are expected?",
        )
    ]


def boundary_findings(
    sites: np.ndarray,
    boundary_parts: np.ndarray,
    ps_ids: list[str],
    substations: Path,
    boundary: Path,
    max_km: float,
    sites_are_csv: bool = True,
) -> list[Finding]:
    """Substations far from the boundary, or boundary parts far from every substation (a
    lat/lon swapped, a boundary of another place, a stray polygon).

    Parameters
    ----------
    sites : numpy.ndarray of shapely Points
        (n_ps,) the substations in a metric CRS, in file order.
    boundary_parts : numpy.ndarray of shapely Polygons
        The boundary's polygons, same CRS.
    ps_ids : list of str
    substations, boundary : pathlib.Path
        The two files, for the message.
    max_km : float
        ``[checks] boundary_max_km``. [km]
    sites_are_csv : bool
        Rows (with lines) or features in the substations file.

    Returns
    -------
    list of Finding
        The boundary named when most substations are far from it (or a part of it is far
        from all of them); else the substations far from it.
    """
    import shapely

    if len(sites) == 0 or len(boundary_parts) == 0:
        return []
    whole = shapely.union_all(boundary_parts)
    site_km = shapely.distance(sites, whole) / 1000.0
    far = np.flatnonzero(site_km > max_km)
    if len(far) > len(sites) / 2:
        return [
            Finding(
                "boundary_max_km",
                str(boundary),
                "",
                f"{len(far)} of {len(sites)} substations of {substations} lie more than "
                f"{max_km:g} km from the boundary (the nearest {site_km.min():.4g} km), "
                "expected a boundary around the substations (of the same place, in the CRS "
                "it declares)",
            )
        ]
    if len(far):
        where, line = _records(far, sites_are_csv)
        return [
            Finding(
                "boundary_max_km",
                str(substations),
                f"{where}, ps_id {ps_ids[far[0]]!r}",
                f"{site_km[far[0]]:.4g} km from the boundary of {boundary} (lat and lon "
                f"swapped?), expected substations within {max_km:g} km of it",
                line,
            )
        ]
    parts = np.asarray(boundary_parts)
    part_km = np.array([shapely.distance(part, sites).min() for part in parts]) / 1000.0
    stray = np.flatnonzero(part_km > max_km)
    if len(stray):
        return [
            Finding(
                "boundary_max_km",
                str(boundary),
                f"polygon {int(stray[0]) + 1}",
                f"{part_km[stray[0]]:.4g} km from the nearest substation of {substations}, "
                f"expected every part of the boundary within {max_km:g} km of a substation "
                "(its Voronoi cell would take it in)",
            )
        ]
    return []


def settle(findings: list[Finding], accept: list[str]) -> list[Finding]:
    """Raise the first finding the study does not accept; return the accepted ones.

    Raises
    ------
    AtlasInputError
        The first finding whose check is not in ``accept``.
    """
    for finding in findings:
        if finding.check not in accept:
            raise finding.error()
    return list(findings)
