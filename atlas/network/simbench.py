"""SimBench MV grids as atlas inputs: the grid, its yearly profiles in hours, its generators
as atlas technologies.

SimBench (Meinecke et al., Energies 2020; data under ODbL 1.0, the ``simbench`` package,
offline) ships German benchmark grids with 15-minute profiles of 2016 for every load and
generator. The atlas takes hourly means with 29 February dropped (2016 is a leap year; the
atlas's years have 8,760 hours).

Generators by SimBench type, as atlas technologies and grid-code levels (:data:`TECHNOLOGY`):
``PV_MV`` -> pv MV, ``Wind_MV`` -> wind MV, ``Biomass_MV`` -> biomass MV, ``Hydro_MV`` -> hydro
MV, and ``lv_RES``, the renewable generation of the LV grids below each MV/LV substation
aggregated by SimBench (mostly rooftop PV), -> pv LV (CEI 0-21's reactive range).

Needs the ``network`` extra (``pip install ".[network]"``: pandapower, simbench).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: SimBench generator type -> (atlas technology, grid-code level).
TECHNOLOGY = {
    "PV_MV": ("pv", "MV"),
    "Wind_MV": ("wind", "MV"),
    "Biomass_MV": ("biomass", "MV"),
    "Hydro_MV": ("hydro", "MV"),
    "lv_RES": ("pv", "LV"),
}

#: Quarter-hours in SimBench's profile year (2016, a leap year).
QUARTER_HOURS = 366 * 96


def hourly_means(quarter_hours: np.ndarray) -> np.ndarray:
    """(35136, n) quarter-hour values of 2016 -> (8760, n) hourly means, 29 February dropped.

    Raises
    ------
    ValueError
        Not a year of quarter-hours of a leap year.
    """
    values = np.asarray(quarter_hours, dtype=float)
    if values.ndim != 2 or values.shape[0] != QUARTER_HOURS:
        raise ValueError(
            f"profiles of shape {values.shape}, expected ({QUARTER_HOURS}, n): the quarter-hours "
            "of 2016"
        )
    hours = values.reshape(-1, 4, values.shape[1]).mean(axis=1)  # (8784, n)
    feb29 = np.arange(59 * 24, 60 * 24)  # day 60 of a leap year
    return np.delete(hours, feb29, axis=0)


@dataclass
class SimbenchYear:
    """A SimBench grid and its year in hours.

    Attributes
    ----------
    code : str
    net : pandapower.pandapowerNet
    load_p, load_q : numpy.ndarray
        (8760, n_load) each load's hourly mean, load convention. [MW], [Mvar]
    gen_p : numpy.ndarray
        (8760, n_sgen) each generator's hourly mean. [MW]
    """

    code: str
    net: Any
    load_p: np.ndarray
    load_q: np.ndarray
    gen_p: np.ndarray

    def technologies(self) -> list[tuple[str, str]]:
        """Each generator's (technology, level) (:data:`TECHNOLOGY`).

        Raises
        ------
        ValueError
            A generator type the mapping does not know.
        """
        out = []
        for i, kind in zip(self.net.sgen.index, self.net.sgen["type"], strict=True):
            if kind not in TECHNOLOGY:
                raise ValueError(
                    f"SimBench grid {self.code}: generator {i} of type {kind!r}, expected one of "
                    + ", ".join(TECHNOLOGY)
                )
            out.append(TECHNOLOGY[kind])
        return out

    def limits(self, hours) -> dict[str, np.ndarray]:
        """Each generator's operating point and grid-code limits at ``hours``
        (:func:`atlas.engine.capability.box_disc_limits`): ``p0``, ``p_lo``, ``p_hi``,
        ``q_inject``, ``q_absorb``, each (n_hours, n_sgen), or (n_sgen,) for one hour given as an
        int; generator convention. The profile is clipped to [0, 1] of the rating. [MW],
        [Mvar]"""
        from atlas.engine.capability import box_disc_limits, default_parameters

        params = default_parameters()
        sn = self.ratings()
        out: dict[str, list[np.ndarray]] = {}
        for k, tech in enumerate(self.technologies()):
            pu = np.clip(self.gen_p[hours, k] / sn[k], 0.0, 1.0)
            for name, value in box_disc_limits(params[tech], sn[k], np.atleast_1d(pu)).items():
                out.setdefault(name, []).append(value)
        stacked = {name: np.stack(v, axis=-1) for name, v in out.items()}
        if isinstance(hours, int | np.integer):  # one hour: (n_sgen,)
            return {name: v[0] for name, v in stacked.items()}
        return stacked

    def deviation_sets(self, hours, box: bool = False) -> list[np.ndarray]:
        """Each generator's hourly deviation polygons at ``hours``: its grid-code set
        (:func:`atlas.engine.capability.box_disc_set`) or, with ``box``, the P-Q box without
        the circle (:func:`~atlas.engine.capability.box_set`, pandapower's OPF's variant).
        One (n_hours, n_vertices, 2) array per generator. [MW], [Mvar]"""
        from atlas.engine.capability import box_disc_set, box_set, default_parameters

        params = default_parameters()
        make = box_set if box else box_disc_set
        sn = self.ratings()
        out = []
        for k, tech in enumerate(self.technologies()):
            pu = np.atleast_1d(np.clip(self.gen_p[hours, k] / sn[k], 0.0, 1.0))
            vertices = make(params[tech], sn[k], pu).vertices
            assert vertices is not None  # both make polygons by default
            out.append(vertices)
        return out

    def at_hour(self, h: int) -> None:
        """Set the network's loads and generators to hour ``h``: loads at their means,
        generators at the grid code's operating point (:meth:`limits`), reactive power 0."""
        self.net.load["p_mw"] = self.load_p[h]
        self.net.load["q_mvar"] = self.load_q[h]
        self.net.sgen["p_mw"] = self.limits(h)["p0"]
        self.net.sgen["q_mvar"] = 0.0

    def ratings(self) -> np.ndarray:
        """Each generator's apparent-power rating (its ``p_mw`` where SimBench gives none). [MVA]"""
        sn = self.net.sgen["sn_mva"].to_numpy(dtype=float)
        return np.where(sn > 0, sn, self.net.sgen["p_mw"].to_numpy(dtype=float))


def read_simbench(code: str) -> SimbenchYear:
    """A SimBench grid (its code, such as ``1-MV-semiurb--0-sw``) and its year in hours.

    Raises
    ------
    ValueError
        Not a SimBench grid code.
    """
    import simbench as sb

    if code not in sb.collect_all_simbench_codes():
        mv = [c for c in sb.collect_all_simbench_codes() if c.startswith("1-MV-") and "sw" in c]
        raise ValueError(
            f"{code!r} is not a SimBench grid code, expected one such as "
            + ", ".join(c for c in mv if c.endswith("--0-sw"))
        )
    net = sb.get_simbench_net(code)
    profiles = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    return SimbenchYear(
        code=code,
        net=net,
        load_p=hourly_means(profiles[("load", "p_mw")].to_numpy()),
        load_q=hourly_means(profiles[("load", "q_mvar")].to_numpy()),
        gen_p=hourly_means(profiles[("sgen", "p_mw")].to_numpy()),
    )
