"""P-Q capability sets of each DER technology, vectorised over hours.

Every function here works in the generator convention (see :mod:`atlas.conventions`):
p > 0 injects active power, q > 0 injects reactive power. A *deviation set* is the capability
set minus the hour's operating point (p0, 0); its extents are the four flexibility figures.

Three shapes cover all technologies of METHOD.md:

``box_disc``
    ``p_lo <= p <= p_hi``, ``-q_absorb_cap <= q <= q_inject_cap``, ``p**2 + q**2 <= Sn**2``
    with ``0 <= p_lo <= p_hi <= Sn``: PV (static converter), CHP, biomass/biogas and
    run-of-river hydro (synchronous machines), which differ only in their active range.
``disc``
    a four-quadrant disc of radius d(t) centred on the operating point: EV chargers with V2G.
``segment``
    ``-d(t) <= dp <= 0``, ``dq = 0``: EV chargers without V2G (charging can only add load).

Circle arcs become polygon segments of at most :data:`MAX_ARC_STEP_DEG` degrees whose vertices
include the arc's points of extreme p and extreme q, so a polygon's extents equal the exact
figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd

from atlas.conventions import LEVELS
from atlas.errors import AtlasInputError

#: Largest angle spanned by one polygon segment of a circle arc. [deg] (METHOD.md)
MAX_ARC_STEP_DEG = 5.0

ActiveRange = Literal["curtail", "dispatch", "reduce"]
ACTIVE_RANGES: tuple[str, ...] = ("curtail", "dispatch", "reduce")


@dataclass(frozen=True)
class CapabilityParams:
    """Grid-code parameters of one technology at one connection level.

    Attributes
    ----------
    technology : str
        ``pv``, ``chp``, ``biomass`` or ``hydro``.
    level : str
        ``MV`` (CEI 0-16) or ``LV`` (CEI 0-21).
    active_range : {'curtail', 'dispatch', 'reduce'}
        ``curtail``: 0 <= p <= p0 (PV: output can only be reduced, down to 0);
        ``dispatch``: p_min <= p <= Sn (CHP, biomass: up to the rating);
        ``reduce``: p_min <= p <= p0 (run-of-river hydro: no water for more).
    pf_inject : float
        Power factor at the largest reactive injection (over-excited). The reactive
        injection limit is ``Sn * sin(acos(pf_inject))``. [-]
    pf_absorb : float
        Power factor at the largest reactive absorption (under-excited). [-]
    p_min_pu : float
        Minimum active power of a synchronous unit per unit of Sn (ignored for
        ``curtail``, whose minimum is 0). [-]
    q_at_night : bool
        Whether the reactive range holds in hours whose profile is 0 (PV at night). If
        False, such hours offer no reactive flexibility.
    source : str
        Where the values come from.
    """

    technology: str
    level: str
    active_range: ActiveRange
    pf_inject: float
    pf_absorb: float
    p_min_pu: float = 0.0
    q_at_night: bool = True
    source: str = ""

    def __post_init__(self) -> None:
        if self.active_range not in ACTIVE_RANGES:
            raise ValueError(
                f"active_range must be one of {ACTIVE_RANGES}, got {self.active_range!r}"
            )
        for name in ("pf_inject", "pf_absorb"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if not 0.0 <= self.p_min_pu <= 1.0:
            raise ValueError(f"p_min_pu must be within [0, 1], got {self.p_min_pu}")

    @property
    def q_inject_pu(self) -> float:
        """Reactive injection limit per unit of Sn, ``sin(acos(pf_inject))``. [-]"""
        return math.sqrt(1.0 - self.pf_inject**2)

    @property
    def q_absorb_pu(self) -> float:
        """Reactive absorption limit per unit of Sn, ``sin(acos(pf_absorb))``. [-]"""
        return math.sqrt(1.0 - self.pf_absorb**2)

    def shape_key(self) -> tuple:
        """What makes two groups' sets scale copies of one another (level and source aside)."""
        return (
            self.technology,
            self.active_range,
            self.pf_inject,
            self.pf_absorb,
            self.p_min_pu,
            self.q_at_night,
        )


def _parameter_file():
    return resources.files("atlas") / "data" / "der_parameters.csv"


@lru_cache(maxsize=1)
def default_parameter_table() -> pd.DataFrame:
    """The shipped table of grid-code parameters, one row per technology and level.

    Returns
    -------
    pandas.DataFrame
        Columns technology, level, active_range, pf_inject, pf_absorb, p_min_pu,
        q_at_night, source. See docs/parameters.md for each row's rationale.
    """
    with resources.as_file(_parameter_file()) as path:
        table = pd.read_csv(path, comment="#", dtype={"technology": str, "level": str})
    table["q_at_night"] = (
        table["q_at_night"].astype(str).str.lower().map({"true": True, "false": False})
    )
    return table


def default_parameters() -> dict[tuple[str, str], CapabilityParams]:
    """The shipped parameters as ``{(technology, level): CapabilityParams}``."""
    out = {}
    for row in default_parameter_table().itertuples(index=False):
        out[(row.technology, row.level)] = CapabilityParams(
            technology=row.technology,
            level=row.level,
            active_range=row.active_range,
            pf_inject=float(row.pf_inject),
            pf_absorb=float(row.pf_absorb),
            p_min_pu=float(row.p_min_pu),
            q_at_night=bool(row.q_at_night),
            source=row.source,
        )
    return out


def override_parameters(
    base: dict[tuple[str, str], CapabilityParams],
    overrides: dict[str, dict[str, dict[str, Any]]],  # TOML values, checked by replace()
    path=None,
) -> dict[tuple[str, str], CapabilityParams]:
    """Apply study-file overrides ``{technology: {level: {field: value}}}`` to a table.

    A level of ``"*"`` applies to both levels. Unknown technologies, levels or fields are
    an :class:`~atlas.errors.AtlasInputError` naming the key.
    """
    out = dict(base)
    fields = {"active_range", "pf_inject", "pf_absorb", "p_min_pu", "q_at_night"}
    for tech, per_level in overrides.items():
        if not any(t == tech for t, _ in base):
            raise AtlasInputError(
                path,
                f"capability.{tech}",
                f"unknown technology, expected one of {sorted({t for t, _ in base})}",
            )
        for level, values in per_level.items():
            levels = LEVELS if level == "*" else (level,)
            for lv in levels:
                key = (tech, lv)
                if key not in base:
                    raise AtlasInputError(
                        path,
                        f"capability.{tech}.{level}",
                        f"unknown level, expected one of {LEVELS} or '*'",
                    )
                unknown = set(values) - fields
                if unknown:
                    raise AtlasInputError(
                        path,
                        f"capability.{tech}.{level}.{sorted(unknown)[0]}",
                        f"unknown parameter, expected one of {sorted(fields)}",
                    )
                try:
                    out[key] = replace(out[key], **values, source="study file override")
                except (ValueError, TypeError) as exc:
                    raise AtlasInputError(path, f"capability.{tech}.{level}", str(exc)) from None
    return out


def arc_segments(q_cap_pu: float) -> int:
    """Number of polygon segments for the arc between the q cap and the p axis.

    Parameters
    ----------
    q_cap_pu : float
        Reactive limit per unit of the circle's radius. [-]

    Returns
    -------
    int
        Smallest n such that the largest arc of the set, ``asin(min(q_cap_pu, 1))``,
        split in n equal parts has parts of at most :data:`MAX_ARC_STEP_DEG`.
    """
    span_deg = math.degrees(math.asin(min(max(q_cap_pu, 0.0), 1.0)))
    return max(1, math.ceil(span_deg / MAX_ARC_STEP_DEG - 1e-12))


@dataclass(frozen=True)
class DeviationSet:
    """A group's deviation sets over hours, generator convention.

    Attributes
    ----------
    p_up, p_down, q_up, q_down : numpy.ndarray
        The four figures, shape (n_hours,), each >= 0. [MW] or [Mvar]
    vertices : numpy.ndarray or None
        Polygon vertices of each hour's deviation set, counter-clockwise, shape
        (n_hours, n_vertices, 2) with ``[..., 0] = dp`` [MW] and ``[..., 1] = dq`` [Mvar].
        Repeated vertices (zero-length edges) keep the vertex count fixed across hours.
    """

    p_up: np.ndarray
    p_down: np.ndarray
    q_up: np.ndarray
    q_down: np.ndarray
    vertices: np.ndarray | None = None


def box_disc_limits(
    params: CapabilityParams, sn_mva: float, pu: np.ndarray
) -> dict[str, np.ndarray]:
    """Operating point and limits of a ``box_disc`` set, hour by hour.

    Parameters
    ----------
    params : CapabilityParams
        Grid-code parameters of the group.
    sn_mva : float
        Installed capacity taken as apparent power (AC rating for PV). [MVA]
    pu : numpy.ndarray
        Hourly profile per unit of ``sn_mva``, in [0, 1], shape (n_hours,). [-]

    Returns
    -------
    dict of numpy.ndarray, each (n_hours,)
        ``p0`` operating point, ``p_lo`` and ``p_hi`` the active range, ``q_inject`` and
        ``q_absorb`` the reactive caps (>= 0), all generator convention. [MW], [Mvar]

    Notes
    -----
    If p0 < p_min the operating point stays p0 and the range starts at p0: no downward
    active flexibility, never a negative figure (METHOD.md).
    """
    pu = np.asarray(pu, dtype=float)
    sn = float(sn_mva)
    p0 = pu * sn
    if params.active_range == "curtail":
        p_lo = np.zeros_like(p0)
        p_hi = p0
    else:
        p_lo = np.minimum(params.p_min_pu * sn, p0)
        p_hi = np.full_like(p0, sn) if params.active_range == "dispatch" else p0
    q_inject = np.full_like(p0, params.q_inject_pu * sn)
    q_absorb = np.full_like(p0, params.q_absorb_pu * sn)
    if not params.q_at_night:
        night = pu <= 0.0
        q_inject[night] = 0.0
        q_absorb[night] = 0.0
    return {"p0": p0, "p_lo": p_lo, "p_hi": p_hi, "q_inject": q_inject, "q_absorb": q_absorb}


def box_set(params: CapabilityParams, sn_mva: float, pu: np.ndarray) -> DeviationSet:
    """Deviation sets of a ``box_disc`` group's limits without the apparent-power circle.

    The P-Q box ``p_lo <= p <= p_hi``, ``-q_absorb <= q <= q_inject``
    (:func:`box_disc_limits`) minus the operating point ``(p0, 0)``: the variant that
    pandapower's optimal power flow can take (a generator's limits are a box), solved by the
    network-aware mode to compare with it (docs/network.md). The atlas's own figures keep the
    circle (:func:`box_disc_set`).

    Returns
    -------
    DeviationSet
        Figures and 4-vertex polygons (counter-clockwise) per hour. [MW], [Mvar]
    """
    lim = box_disc_limits(params, sn_mva, pu)
    dp_lo, dp_hi = lim["p_lo"] - lim["p0"], lim["p_hi"] - lim["p0"]
    dq_lo, dq_hi = -lim["q_absorb"], lim["q_inject"]
    vertices = np.stack(
        [
            np.column_stack([dp_lo, dq_lo]),
            np.column_stack([dp_hi, dq_lo]),
            np.column_stack([dp_hi, dq_hi]),
            np.column_stack([dp_lo, dq_hi]),
        ],
        axis=1,
    )
    return DeviationSet(p_up=dp_hi, p_down=-dp_lo, q_up=dq_hi, q_down=-dq_lo, vertices=vertices)


def box_disc_set(
    params: CapabilityParams, sn_mva: float, pu: np.ndarray, with_vertices: bool = True
) -> DeviationSet:
    """Deviation sets of a PV, CHP, biomass or hydro group, vectorised over hours.

    The capability set is ``p_lo <= p <= p_hi``, ``-q_absorb <= q <= q_inject``,
    ``p**2 + q**2 <= sn**2`` (see :func:`box_disc_limits`); the deviation set is that set
    minus the operating point ``(p0, 0)``.

    Parameters
    ----------
    params : CapabilityParams
    sn_mva : float
        Installed capacity as apparent power. [MVA]
    pu : numpy.ndarray
        Hourly profile, shape (n_hours,), in [0, 1]. [-]
    with_vertices : bool, default True
        Also build the polygons (the figures alone need none).

    Returns
    -------
    DeviationSet
        Figures (exact, closed form) and, if asked, polygons with
        ``4 + n_absorb + n_inject`` vertices per hour (see :func:`arc_segments`).

    Notes
    -----
    With ``0 <= p_lo``, the largest |q| over the set is reached at ``p = p_lo``:
    ``q_up = min(q_inject, sqrt(sn**2 - p_lo**2))``, likewise ``q_down``. So PV offers its
    full reactive range at any hour, curtailing if needed (a caveat of the figures being
    single-direction maxima, see docs/method.md).
    """
    lim = box_disc_limits(params, sn_mva, pu)
    sn = float(sn_mva)
    p0, p_lo, p_hi = lim["p0"], lim["p_lo"], lim["p_hi"]
    q_circle_lo = np.sqrt(np.maximum(sn * sn - p_lo * p_lo, 0.0))
    q_up = np.minimum(lim["q_inject"], q_circle_lo)
    q_down = np.minimum(lim["q_absorb"], q_circle_lo)
    p_up = p_hi - p0
    p_down = p0 - p_lo
    vertices = None
    if with_vertices:
        n_up = arc_segments(params.q_inject_pu)
        n_dn = arc_segments(params.q_absorb_pu)
        vertices = _box_disc_vertices(sn, p_lo, p_hi, lim["q_inject"], lim["q_absorb"], n_up, n_dn)
        vertices[..., 0] -= p0[:, None]
    return DeviationSet(p_up, p_down, q_up, q_down, vertices)


def _q_bound(sn: float, p: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """min(cap, sqrt(sn^2 - p^2)), the |q| bound at active power p (generator conv.)."""
    return np.minimum(cap, np.sqrt(np.maximum(sn * sn - p * p, 0.0)))


def _arc_chain(sn, start, end, on_circle, n):
    """n points from ``start`` (excluded) to ``end`` (included) along the circle of radius sn.

    start, end : (n_hours, 2); on_circle : (n_hours,) bool, where False every point is ``end``.
    Returns (n_hours, n, 2).
    """
    a0 = np.arctan2(start[:, 1], start[:, 0])
    a1 = np.arctan2(end[:, 1], end[:, 0])
    frac = np.arange(1, n + 1) / n  # (n,)
    ang = a0[:, None] + (a1 - a0)[:, None] * frac[None, :]  # (n_hours, n)
    pts = np.stack([sn * np.cos(ang), sn * np.sin(ang)], axis=-1)  # (n_hours, n, 2)
    pts[:, -1, :] = end  # the exact end point (extreme p or q of the arc)
    return np.where(on_circle[:, None, None], pts, end[:, None, :])


def _box_disc_vertices(sn, p_lo, p_hi, q_inject, q_absorb, n_up, n_dn) -> np.ndarray:
    """Counter-clockwise vertices (n_hours, 4 + n_dn + n_up, 2) of the box-disc sets."""
    # bottom chain, p increasing: (p_lo, -qa(p_lo)) -> kink -> arc -> (p_hi, -qa(p_hi))
    kink_dn = np.sqrt(np.maximum(sn * sn - q_absorb * q_absorb, 0.0))
    pk_dn = np.clip(kink_dn, p_lo, p_hi)
    b0 = np.stack([p_lo, -_q_bound(sn, p_lo, q_absorb)], axis=-1)
    b1 = np.stack([pk_dn, -_q_bound(sn, pk_dn, q_absorb)], axis=-1)
    b_end = np.stack([p_hi, -_q_bound(sn, p_hi, q_absorb)], axis=-1)
    b_arc = _arc_chain(sn, b1, b_end, kink_dn < p_hi, n_dn)
    # top chain, p decreasing: (p_hi, qi(p_hi)) -> arc -> kink -> (p_lo, qi(p_lo))
    kink_up = np.sqrt(np.maximum(sn * sn - q_inject * q_inject, 0.0))
    pk_up = np.clip(kink_up, p_lo, p_hi)
    t0 = np.stack([p_hi, _q_bound(sn, p_hi, q_inject)], axis=-1)
    t_kink = np.stack([pk_up, _q_bound(sn, pk_up, q_inject)], axis=-1)
    t_arc = _arc_chain(sn, t0, t_kink, kink_up < p_hi, n_up)
    t_end = np.stack([p_lo, _q_bound(sn, p_lo, q_inject)], axis=-1)
    return np.concatenate(
        [b0[:, None], b1[:, None], b_arc, t0[:, None], t_arc, t_end[:, None]], axis=1
    )


#: Vertices of the unit disc every 5 degrees starting at angle 0, with exact 0 and +-1 at
#: the quadrant points so that the extents are exact.
def _unit_disc(step_deg: float = MAX_ARC_STEP_DEG) -> np.ndarray:
    n = round(360.0 / step_deg)
    if n % 4:
        raise ValueError("the disc step must divide 90 degrees")
    ang = np.arange(n) * (2.0 * np.pi / n)
    xy = np.stack([np.cos(ang), np.sin(ang)], axis=-1)
    quarter = n // 4
    exact = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    xy[::quarter] = exact
    return xy


UNIT_DISC = _unit_disc()
UNIT_DISC.setflags(write=False)


def ev_set(charging_mw: np.ndarray, v2g: bool, with_vertices: bool = True) -> DeviationSet:
    """Deviation sets of a group of EV chargers, vectorised over hours.

    Parameters
    ----------
    charging_mw : numpy.ndarray
        The hour's charging power d(t) of the group, >= 0, shape (n_hours,). [MW]
    v2g : bool
        True: a four-quadrant disc of radius d(t) (V2G chargers). False: the segment
        ``-d(t) <= dp <= 0``, ``dq = 0`` (charging can only add load).
    with_vertices : bool, default True

    Returns
    -------
    DeviationSet
        Figures and polygons (72 vertices for a disc, 2 for a segment).

    Notes
    -----
    The seed paper's model: the operating point is the PS measured point, planned charging
    counts as downward flexibility, the disc is sized by the hour's average charging power,
    and energy limits across hours are ignored (see docs/method.md).
    """
    d = np.asarray(charging_mw, dtype=float)
    zero = np.zeros_like(d)
    vertices = None
    if v2g:
        if with_vertices:
            vertices = d[:, None, None] * UNIT_DISC[None, :, :]
        return DeviationSet(d.copy(), d.copy(), d.copy(), d.copy(), vertices)
    if with_vertices:
        vertices = np.zeros((*d.shape, 2, 2))
        vertices[:, 0, 0] = -d
    return DeviationSet(zero, d.copy(), zero.copy(), zero.copy(), vertices)


GroupKind = Literal["box_disc", "ev_v2g", "ev_charge", "bess", "statcom", "oltc"]


@dataclass(frozen=True)
class DerSpec:
    """One group of DERs under a PS, as inputs: its sets can be built for any hours.

    Attributes
    ----------
    technology : str
        One of :data:`atlas.conventions.TECHNOLOGIES`.
    label : str
        A readable name, e.g. ``"pv/MV"`` or ``"ev/v2g"``.
    kind : {'box_disc', 'ev_v2g', 'ev_charge', 'bess', 'statcom'}
        Which set (see the module docstring, and :func:`bess_set`, :func:`statcom_set`).
    series : numpy.ndarray
        (n_hours,): the per-unit profile for ``box_disc`` [-], the charging power d(t) for
        the EV kinds [MW], the schedule p0(t) of a battery [MW], zeros for a STATCOM.
    sn_mva : float
        Installed capacity of a ``box_disc`` group, a battery's converter or a STATCOM's
        rating. [MVA]
    params : CapabilityParams or None
        Grid-code parameters of a ``box_disc`` group.
    energy_mwh : float
        A battery's usable energy. [MWh]
    energy : numpy.ndarray or None
        (n_hours,) a battery's state of energy at the start of each hour
        (:func:`bess_energy`). [MWh]
    eta : tuple of float
        A battery's charging and discharging efficiencies. [-]
    q_series : numpy.ndarray or None
        (n_hours,) the tap changers' gross reactive load Q_L (their ``series`` is P_L). [Mvar]
    oltc : tuple of float or None
        The tap changers' ``(dv_down, dv_up, kp, kq)``. [-]
    """

    technology: str
    label: str
    kind: GroupKind
    series: np.ndarray
    sn_mva: float = 0.0
    params: CapabilityParams | None = None
    energy_mwh: float = 0.0
    energy: np.ndarray | None = None
    eta: tuple[float, float] = (0.95, 0.95)
    q_series: np.ndarray | None = None
    oltc: tuple[float, float, float, float] | None = None

    def sets(self, hours: np.ndarray | None = None, with_vertices: bool = True) -> DeviationSet:
        """The group's deviation sets for ``hours`` (indices into the axis; default all)."""
        series = self.series if hours is None else self.series[hours]
        if self.kind == "box_disc":
            assert self.params is not None, "a box_disc group has parameters"
            return box_disc_set(self.params, self.sn_mva, series, with_vertices=with_vertices)
        if self.kind == "bess":
            assert self.energy is not None, "a battery group has its state of energy"
            energy = self.energy if hours is None else self.energy[hours]
            return bess_set(
                self.sn_mva, self.energy_mwh, series, energy, *self.eta, with_vertices=with_vertices
            )
        if self.kind == "statcom":
            return statcom_set(self.sn_mva, len(series), with_vertices=with_vertices)
        if self.kind == "oltc":
            assert self.q_series is not None and self.oltc is not None
            q_l = self.q_series if hours is None else self.q_series[hours]
            return oltc_set(series, q_l, *self.oltc, with_vertices=with_vertices)
        return ev_set(series, v2g=self.kind == "ev_v2g", with_vertices=with_vertices)

    def enclosing_disc(self) -> tuple[np.ndarray, np.ndarray]:
        """A disc containing each hour's deviation set: centre dp on the p axis and radius.

        Returns
        -------
        centre_dp_mw, radius : numpy.ndarray, each (n_hours,). [MW], [MVA]

        Notes
        -----
        box_disc: the set lies in the circle of radius Sn about the origin of the (p, q)
        plane, i.e. about (-p0, 0) in deviation coordinates; so does a battery's (its
        series is p0 itself). A V2G disc is its own bound; a charging segment [-d, 0] lies
        in the disc of radius d/2 about -d/2; a STATCOM's segment in the disc of radius Sn
        about the origin.
        """
        s = np.asarray(self.series, dtype=float)
        if self.kind == "box_disc":
            return -s * self.sn_mva, np.full_like(s, self.sn_mva)
        if self.kind == "bess":
            return -s, np.full_like(s, self.sn_mva)
        if self.kind == "statcom":
            return np.zeros_like(s), np.full_like(s, self.sn_mva)
        if self.kind == "oltc":  # about the origin, through the farthest corner of its box
            f = self.sets(with_vertices=False)
            radius = np.hypot(np.maximum(f.p_up, f.p_down), np.maximum(f.q_up, f.q_down))
            return np.zeros_like(s), radius
        if self.kind == "ev_v2g":
            return np.zeros_like(s), s
        return -0.5 * s, 0.5 * s


# ---------------------------------------------------------------------------------------------
# Beyond the seed paper: storage, STATCOMs, tap changers (METHOD.md, "Beyond the seed paper")
# ---------------------------------------------------------------------------------------------

#: Relative tolerance on a battery's state of energy leaving [0, E] (rounding of the
#: recursion, not a real excursion). [-]
ENERGY_TOLERANCE = 1e-9


class EnergyLimitError(ValueError):
    """A battery schedule that empties or overfills it.

    Attributes
    ----------
    hour : int
        The first hour (index into the axis) at whose end the state of energy leaves [0, E].
    energy_mwh : float
        The state of energy it would reach. [MWh]
    """

    def __init__(self, hour: int, energy_mwh: float, capacity_mwh: float):
        self.hour = hour
        self.energy_mwh = energy_mwh
        self.capacity_mwh = capacity_mwh
        side = "below 0 (empty)" if energy_mwh < 0 else f"above its {capacity_mwh:g} MWh (full)"
        super().__init__(
            f"the schedule takes the state of energy to {energy_mwh:.6g} MWh at the end of "
            f"hour {hour}, {side}"
        )


def bess_energy(
    p0_mw: np.ndarray,
    energy_mwh: float,
    e_init: float = 0.5,
    eta_charge: float = 0.95,
    eta_discharge: float = 0.95,
) -> np.ndarray:
    """State of energy of a battery following its schedule, at the start of every hour.

    ``e(0) = e_init * E`` and ``e(t+1) = e(t) - max(p0(t), 0) / eta_d + max(-p0(t), 0) * eta_c``
    (one-hour steps; METHOD.md).

    Parameters
    ----------
    p0_mw : numpy.ndarray
        (n_hours,) scheduled power, generator convention: > 0 discharges. [MW]
    energy_mwh : float
        Usable energy E. [MWh]
    e_init : float, default 0.5
        State of energy at the start of the first hour per unit of E. [-]
    eta_charge, eta_discharge : float, default 0.95
        Charging and discharging efficiencies, in (0, 1]. [-]

    Returns
    -------
    numpy.ndarray
        (n_hours + 1,): ``e(t)`` at the start of each hour, then after the last. [MWh]

    Raises
    ------
    EnergyLimitError
        If the state leaves [0, E] (beyond a relative :data:`ENERGY_TOLERANCE`), naming the
        first hour at whose end it does.

    Notes
    -----
    The running sum is numpy's ``cumsum``, which adds in order: each value is bit for bit
    the recursion's, then clipped to [0, E] (a schedule that empties the battery exactly
    in real numbers may end a few 1e-16 MWh below 0 in floating point).
    """
    p0 = np.asarray(p0_mw, dtype=float)
    if not 0.0 < eta_charge <= 1.0 or not 0.0 < eta_discharge <= 1.0:
        raise ValueError("the efficiencies must be within (0, 1]")
    if not 0.0 <= e_init <= 1.0:
        raise ValueError(f"e_init must be within [0, 1], got {e_init}")
    steps = np.empty(len(p0) + 1)
    steps[0] = e_init * energy_mwh
    steps[1:] = np.maximum(-p0, 0.0) * eta_charge - np.maximum(p0, 0.0) / eta_discharge
    energy = np.cumsum(steps)
    slack = ENERGY_TOLERANCE * max(energy_mwh, 1.0)
    outside = np.flatnonzero((energy < -slack) | (energy > energy_mwh + slack))
    if len(outside):
        first = int(outside[0])
        raise EnergyLimitError(first - 1, float(energy[first]), float(energy_mwh))
    return np.clip(energy, 0.0, energy_mwh)


def battery_groups(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Batteries of one PS that form one group: those with equal energy per MW.

    Their sets are scale copies then (same e_init, efficiencies and per-unit schedule: a
    study's), so one group with the summed rating and energy is exact; batteries with
    another ratio form their own group (METHOD.md, aggregation).

    Parameters
    ----------
    rows : list of (sn_mva, energy_mwh)
        Ratings [MVA] and usable energies [MWh], in table order; rows of zero rating are
        left out.

    Returns
    -------
    list of (sn_mva, energy_mwh)
        One per distinct ratio, in order of first appearance.
    """
    groups: dict[float, tuple[float, float]] = {}
    for sn, energy in rows:
        if not sn > 0:
            continue
        ratio = energy / sn
        total_sn, total_e = groups.get(ratio, (0.0, 0.0))
        groups[ratio] = (total_sn + sn, total_e + energy)
    return list(groups.values())


def bess_limits(
    sn_mva: float,
    energy_mwh: float,
    energy_start: np.ndarray,
    eta_charge: float = 0.95,
    eta_discharge: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Active range of a battery held for a whole hour from its state of energy.

    Parameters
    ----------
    sn_mva : float
        Converter rating. [MVA]
    energy_mwh : float
        Usable energy E. [MWh]
    energy_start : numpy.ndarray
        (n_hours,) state of energy at the start of each hour (:func:`bess_energy`). [MWh]
    eta_charge, eta_discharge : float

    Returns
    -------
    p_min, p_max : numpy.ndarray
        ``p_max = min(Sn, eta_d e)`` and ``p_min = -min(Sn, (E - e) / eta_c)``, generator
        convention. [MW]
    """
    e = np.asarray(energy_start, dtype=float)
    sn = float(sn_mva)
    p_max = np.minimum(sn, eta_discharge * e)
    p_min = -np.minimum(sn, (energy_mwh - e) / eta_charge)
    return p_min, p_max


#: Segments of each quarter-circle arc of a battery's set (5 degrees at most).
_QUARTER_STEPS = math.ceil(90.0 / MAX_ARC_STEP_DEG - 1e-12)


def bess_set(
    sn_mva: float,
    energy_mwh: float,
    p0_mw: np.ndarray,
    energy_start: np.ndarray,
    eta_charge: float = 0.95,
    eta_discharge: float = 0.95,
    with_vertices: bool = True,
) -> DeviationSet:
    """Deviation sets of a battery, vectorised over hours.

    The capability set of the hour is ``p_min(t) <= p <= p_max(t)``,
    ``p**2 + q**2 <= Sn**2`` (:func:`bess_limits`); the deviation set is that set minus the
    scheduled point ``(p0(t), 0)``.

    Parameters
    ----------
    sn_mva : float
        Converter rating. [MVA]
    energy_mwh : float
        Usable energy. [MWh]
    p0_mw : numpy.ndarray
        (n_hours,) schedule, generator convention. [MW]
    energy_start : numpy.ndarray
        (n_hours,) state of energy at the start of each hour. [MWh]
    eta_charge, eta_discharge : float
    with_vertices : bool, default True

    Returns
    -------
    DeviationSet
        ``p_up = p_max - p0``, ``p_down = p0 - p_min``, ``q_up = q_down = Sn`` (the range
        holds p = 0, where the circle is widest), and polygons of ``4 * 18 + 2`` vertices:
        the circle's points at the two active limits and at q = +-Sn exactly, arcs between
        them in steps of at most :data:`MAX_ARC_STEP_DEG`.
    """
    sn = float(sn_mva)
    p0 = np.asarray(p0_mw, dtype=float)
    p_min, p_max = bess_limits(sn, energy_mwh, energy_start, eta_charge, eta_discharge)
    p_up = np.maximum(p_max - p0, 0.0)
    p_down = np.maximum(p0 - p_min, 0.0)
    q = np.full_like(p0, sn)
    vertices = None
    if with_vertices:
        vertices = _bess_vertices(sn, p_min, p_max)
        vertices[..., 0] -= p0[:, None]
    return DeviationSet(p_up, p_down, q, q.copy(), vertices)


def _bess_vertices(sn: float, p_min: np.ndarray, p_max: np.ndarray) -> np.ndarray:
    """Counter-clockwise vertices (n_hours, 4 n + 2, 2) of the disc of radius sn between
    the vertical lines p_min <= 0 <= p_max."""
    n = _QUARTER_STEPS
    if sn <= 0.0:
        return np.zeros((len(p_min), 4 * n + 2, 2))
    left = np.arccos(np.clip(p_min / sn, -1.0, 1.0))  # in [pi/2, pi]
    right = np.arccos(np.clip(p_max / sn, -1.0, 1.0))  # in [0, pi/2]
    frac = np.arange(n + 1) / n
    half = 0.5 * np.pi
    # angles counter-clockwise from the bottom-left corner: -left .. -pi/2 .. -right, then
    # right .. pi/2 .. left (the two vertical sides are the closing edges)
    angles = np.concatenate(
        [
            -left[:, None] + (left - half)[:, None] * frac,
            -half + (half - right)[:, None] * frac[1:],
            right[:, None] + (half - right)[:, None] * frac,
            half + (left - half)[:, None] * frac[1:],
        ],
        axis=1,
    )
    out = np.stack([sn * np.cos(angles), sn * np.sin(angles)], axis=-1)
    # a quarter arc of zero span (an empty or a full battery) is one point, exactly (0, +-sn)
    # (cos(pi/2) is 6e-17 in floating point, a spike against the exact points below)
    out[np.abs(angles) == half] = 0.0
    out[..., 1][angles == half] = sn
    out[..., 1][angles == -half] = -sn
    # the extreme points exact: the active limits, and q = -sn, +sn at p = 0
    height_l = np.sqrt(np.maximum(sn * sn - p_min * p_min, 0.0))
    height_r = np.sqrt(np.maximum(sn * sn - p_max * p_max, 0.0))
    out[:, 0] = np.stack([p_min, -height_l], axis=-1)
    out[:, n] = (0.0, -sn)
    out[:, 2 * n] = np.stack([p_max, -height_r], axis=-1)
    out[:, 2 * n + 1] = np.stack([p_max, height_r], axis=-1)
    out[:, 3 * n + 1] = (0.0, sn)
    out[:, 4 * n + 1] = np.stack([p_min, height_l], axis=-1)
    # an arc of a span near zero (p_max or p_min within rounding of 0) may put its points
    # a few 1e-16 MW beyond its vertical side, a self-intersecting sliver: onto the side
    np.clip(out[..., 0], p_min[:, None], p_max[:, None], out=out[..., 0])
    return out


def statcom_set(
    sn_mva: float, n_hours: int, q0_mvar: float = 0.0, with_vertices: bool = True
) -> DeviationSet:
    """Deviation sets of a STATCOM: the segment ``{0} x [-Sn - q0, Sn - q0]`` every hour.

    Parameters
    ----------
    sn_mva : float
        Rating. [MVA]
    n_hours : int
    q0_mvar : float, default 0
        Set point, generator convention (> 0 injects), within [-Sn, Sn]. [Mvar]
    with_vertices : bool, default True

    Returns
    -------
    DeviationSet
        ``p_up = p_down = 0`` (losses neglected), ``q_up = Sn - q0``, ``q_down = Sn + q0``;
        two vertices per hour.
    """
    sn = float(sn_mva)
    if not -sn <= q0_mvar <= sn:
        raise ValueError(f"the set point {q0_mvar} Mvar is beyond the rating {sn} MVA")
    zero = np.zeros(n_hours)
    vertices = None
    if with_vertices:
        vertices = np.zeros((n_hours, 2, 2))
        vertices[:, 0, 1] = -sn - q0_mvar
        vertices[:, 1, 1] = sn - q0_mvar
    return DeviationSet(
        zero, zero.copy(), np.full(n_hours, sn - q0_mvar), np.full(n_hours, sn + q0_mvar), vertices
    )


#: Voltages sampled on each side of 1 p.u. for a tap changer's curve.
OLTC_SAMPLES = 8


def oltc_curve(
    p_load_mw: np.ndarray,
    q_load_mvar: np.ndarray,
    dv_down: float,
    dv_up: float,
    kp: float,
    kq: float,
    n: int = OLTC_SAMPLES,
) -> np.ndarray:
    """Points of the tap changer's deviation curve, vectorised over hours.

    ``v -> (-P_L (v**kp - 1), -Q_L (v**kq - 1))`` for ``v`` from ``1 - dv_down`` to
    ``1 + dv_up`` (generator convention: a lower voltage draws less load, an upward
    deviation), ``n`` voltages on each side of 1 p.u., both ends and 1 itself included.

    Parameters
    ----------
    p_load_mw, q_load_mvar : numpy.ndarray
        (n_hours,) gross load ``P_L``, ``Q_L`` at 1 p.u., load convention. [MW], [Mvar]
    dv_down, dv_up : float
        The band below and above the set point, p.u. (0.1 for 10 %). [-]
    kp, kq : float
        Exponents of the load's voltage dependence. [-]
    n : int

    Returns
    -------
    numpy.ndarray
        (n_hours, 2 n + 1, 2) points in increasing voltage. [MW, Mvar]
    """
    if not 0.0 <= dv_down < 1.0 or dv_up < 0.0:
        raise ValueError("the band must have 0 <= dv_down < 1 and dv_up >= 0")
    volts = np.concatenate(
        [np.linspace(1.0 - dv_down, 1.0, n + 1), np.linspace(1.0, 1.0 + dv_up, n + 1)[1:]]
    )
    p_l = np.asarray(p_load_mw, dtype=float)[:, None]
    q_l = np.asarray(q_load_mvar, dtype=float)[:, None]
    out = np.empty((p_l.shape[0], len(volts), 2))
    out[..., 0] = -p_l * (volts**kp - 1.0)
    out[..., 1] = -q_l * (volts**kq - 1.0)
    out[:, n] = 0.0  # v = 1: no deviation, exactly
    return out


def oltc_set(
    p_load_mw: np.ndarray,
    q_load_mvar: np.ndarray,
    dv_down: float,
    dv_up: float,
    kp: float,
    kq: float,
    with_vertices: bool = True,
) -> DeviationSet:
    """Deviation sets of a PS's tap changers over a voltage-dependent load.

    The set of the hour is the convex hull of :func:`oltc_curve`. Each coordinate of the
    curve is monotonic in v, so the figures are those of the band's ends (and of v = 1,
    which gives 0): exact. The curve is the graph of a power function (of one coordinate
    in the other), convex or concave, so the sampled curve closed by the chord between its
    ends is a convex polygon; its vertices are put counter-clockwise hour by hour.

    Parameters
    ----------
    p_load_mw, q_load_mvar : numpy.ndarray
        (n_hours,) gross load at 1 p.u., load convention. [MW], [Mvar]
    dv_down, dv_up : float
        The voltage band, p.u. of the set point. [-]
    kp, kq : float
        Load exponents. [-]
    with_vertices : bool, default True

    Returns
    -------
    DeviationSet
    """
    curve = oltc_curve(p_load_mw, q_load_mvar, dv_down, dv_up, kp, kq)
    dp, dq = curve[..., 0], curve[..., 1]
    vertices = None
    if with_vertices:
        x, y = dp, dq
        twice_area = np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
        vertices = np.where((twice_area < 0.0)[:, None, None], curve[:, ::-1], curve)
    # + 0.0: no negative zero from a curve that is all zeros
    return DeviationSet(
        dp.max(axis=1) + 0.0, -dp.min(axis=1) + 0.0, dq.max(axis=1) + 0.0,
        -dq.min(axis=1) + 0.0, vertices,
    )  # fmt: skip
