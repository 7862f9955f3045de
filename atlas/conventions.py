"""Units and sign conventions, stated once.

Units: active power in MW, reactive power in Mvar, apparent power in MVA, time in UTC.

Two sign conventions, never mixed inside one function:

``GENERATOR`` (DER side)
    p > 0 injects active power into the grid, q > 0 injects reactive power
    (over-excited, capacitive behaviour).
``LOAD`` (PS side, point of common coupling, as the TSO meters it)
    P > 0 is power flowing from transmission into distribution, Q > 0 is reactive power
    absorbed by the distribution network.

A DER deviation (dp, dq) in generator convention moves the PS point by (-dp, -dq) in load
convention (:func:`der_deviation_to_ps`).

The four flexibility figures are magnitudes (>= 0) in generator convention:
``p_up`` extra active injection available, ``p_down`` injection that can be removed (or load
added), ``q_up`` extra reactive injection, ``q_down`` extra reactive absorption.
"""

from __future__ import annotations

import numpy as np

GENERATOR = "generator"
LOAD = "load"

#: The four flexibility figures, in the order used by every table of the atlas, with units.
FIGURES: dict[str, str] = {
    "p_up_mw": "MW",
    "p_down_mw": "MW",
    "q_up_mvar": "Mvar",
    "q_down_mvar": "Mvar",
}

#: Technologies with a per-technology breakdown column in the outputs.
TECHNOLOGIES: tuple[str, ...] = (
    "pv", "chp", "biomass", "hydro", "ev", "wind", "bess", "statcom", "oltc",
)  # fmt: skip
#: Readable names of the technologies, for figures and reports.
TECHNOLOGY_NAMES: dict[str, str] = {
    "pv": "rooftop PV",
    "chp": "CHP",
    "biomass": "biomass/biogas",
    "hydro": "run-of-river hydro",
    "ev": "EV charging",
    "wind": "wind",
    "bess": "battery storage",
    "statcom": "STATCOM",
    "oltc": "tap changers",
}

#: Technologies with a per-unit profile whose capacity comes from the capacity table or the
#: register (EV comes from charging power).
CAPACITY_TECHNOLOGIES: tuple[str, ...] = ("pv", "chp", "biomass", "hydro", "wind")
#: Resources installed by capacity without a per-unit profile (METHOD.md, "Beyond the seed
#: paper"): batteries (converter rating and energy, a schedule) and STATCOMs (rating, MVA).
RESOURCE_TECHNOLOGIES: tuple[str, ...] = ("bess", "statcom")
#: Every technology of the capacity table and the register but EV.
INSTALLED_TECHNOLOGIES: tuple[str, ...] = CAPACITY_TECHNOLOGIES + RESOURCE_TECHNOLOGIES

#: Connection levels: CEI 0-16 (MV) and CEI 0-21 (LV).
LEVELS: tuple[str, ...] = ("MV", "LV")

#: EV charging locations (lower case, as in METHOD.md).
EV_LOCATIONS: tuple[str, ...] = ("home", "work", "b2c", "public")

#: Locations whose chargers are V2G-capable by default (seed paper).
EV_V2G_DEFAULT: frozenset[str] = frozenset({"work", "public"})


def der_deviation_to_ps(dp_mw, dq_mvar):
    """Move from a DER deviation (generator convention) to the PS point's shift (load).

    Parameters
    ----------
    dp_mw, dq_mvar : array_like
        Deviation of the DERs' output, generator convention. [MW], [Mvar]

    Returns
    -------
    dP_mw, dQ_mvar : numpy.ndarray
        Shift of the PS point, load convention. [MW], [Mvar]
    """
    return -np.asarray(dp_mw, dtype=float), -np.asarray(dq_mvar, dtype=float)


#: Default relief thresholds: 10 MW changes Milan's line flows appreciably, 10 Mvar moves the
#: PS voltage by about 0.5 kV (seed paper, METHOD.md). The study file's ``[screening]``
#: defaults and the analysis functions' defaults both come from here. [MW], [Mvar]
THRESHOLD_MW = 10.0
THRESHOLD_MVAR = 10.0
#: Default availability of the firm value: the level reached in at least 90 % of the hours
#: (METHOD.md). [-]
AVAILABILITY = 0.90
