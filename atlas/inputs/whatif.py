"""What-if additions: ``SUD:bess=10MW/20MWh``, ``SUD:statcom=15Mvar``.

A what-if scenario copies the study's last listed scenario and adds resources at named
substations (``atlas run --add``, or ``[scenarios] what_if`` in the study file), so that the
screening shows the base and the what-if side by side (docs/study-file.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atlas.conventions import INSTALLED_TECHNOLOGIES

#: Units of a rating, to MW (MVA and Mvar are the rating's apparent power). [MW per unit]
POWER_UNITS = {"mw": 1.0, "kw": 1e-3, "mva": 1.0, "kva": 1e-3, "mvar": 1.0, "kvar": 1e-3}
#: Units of a battery's energy, to MWh. [MWh per unit]
ENERGY_UNITS = {"mwh": 1.0, "kwh": 1e-3}

_PATTERN = re.compile(
    r"^(?P<ps>[^:=]+):(?P<tech>[a-z]+)=(?P<power>[0-9.eE+-]+)\s*(?P<punit>[a-zA-Z]+)"
    r"(?:/(?P<energy>[0-9.eE+-]+)\s*(?P<eunit>[a-zA-Z]+))?$"
)


@dataclass(frozen=True)
class Addition:
    """One resource added at one PS.

    Attributes
    ----------
    text : str
        As given (stripped), e.g. ``"SUD:bess=10MW/20MWh"``.
    ps_id : str
    technology : str
        One of :data:`atlas.conventions.INSTALLED_TECHNOLOGIES`.
    capacity_mw : float
        The rating (a battery's converter, a STATCOM's in MVA). [MW]
    energy_mwh : float or None
        A battery's usable energy. [MWh]
    level : str
        Connection level: MV (a resource at the PS's busbar or its MV network).
    """

    text: str
    ps_id: str
    technology: str
    capacity_mw: float
    energy_mwh: float | None = None
    level: str = "MV"


def parse_addition(text: str) -> Addition:
    """Read ``PS:technology=RATING[/ENERGY]``, e.g. ``SUD:bess=10MW/20MWh``.

    Ratings in MW, kW, MVA, kVA, Mvar or kvar; a battery's energy (required for ``bess``,
    refused for the others) in MWh or kWh.

    Raises
    ------
    ValueError
        Saying what is expected.
    """
    raw = str(text).strip()
    match = _PATTERN.match(raw)
    expected = (
        "expected PS:technology=RATING[/ENERGY], e.g. SUD:bess=10MW/20MWh or SUD:statcom=15Mvar"
    )
    if match is None:
        raise ValueError(f"{raw!r}: {expected}")
    tech = match["tech"]
    if tech not in INSTALLED_TECHNOLOGIES:
        raise ValueError(
            f"{raw!r}: unknown technology {tech!r}, expected one of {list(INSTALLED_TECHNOLOGIES)}"
        )
    power = _quantity(raw, match["power"], match["punit"], POWER_UNITS, "rating")
    energy = None
    if match["energy"] is not None:
        if tech != "bess":
            raise ValueError(f"{raw!r}: an energy is only given for bess")
        energy = _quantity(raw, match["energy"], match["eunit"], ENERGY_UNITS, "energy")
    elif tech == "bess":
        raise ValueError(f"{raw!r}: a battery needs its energy, e.g. SUD:bess=10MW/20MWh")
    return Addition(raw, match["ps"].strip(), tech, power, energy)


def _quantity(raw: str, number: str, unit: str, units: dict[str, float], what: str) -> float:
    """``number`` in ``unit`` converted by ``units`` (MW or MWh), finite and > 0."""
    if unit.lower() not in units:
        names = {"rating": "MW, kW, MVA or Mvar", "energy": "MWh or kWh"}[what]
        raise ValueError(f"{raw!r}: {what} unit {unit!r}, expected {names}")
    try:
        value = float(number) * units[unit.lower()]
    except ValueError:
        raise ValueError(f"{raw!r}: {number!r} is not a number") from None
    if not 0.0 < value < float("inf"):
        raise ValueError(f"{raw!r}: the {what} must be a finite number > 0")
    return value


def what_if_name(base: str, additions: list[Addition]) -> str:
    """The what-if scenario's name: ``<base>+<addition>+<addition>...``."""
    return "+".join([base, *(a.text for a in additions)])
