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


GroupKind = Literal["box_disc", "ev_v2g", "ev_charge"]


@dataclass(frozen=True)
class DerSpec:
    """One group of DERs under a PS, as inputs: its sets can be built for any hours.

    Attributes
    ----------
    technology : str
        One of :data:`atlas.conventions.TECHNOLOGIES`.
    label : str
        A readable name, e.g. ``"pv/MV"`` or ``"ev/v2g"``.
    kind : {'box_disc', 'ev_v2g', 'ev_charge'}
        Which set (see the module docstring).
    series : numpy.ndarray
        (n_hours,): the per-unit profile for ``box_disc`` [-], the charging power d(t) for
        the EV kinds [MW].
    sn_mva : float
        Installed capacity of a ``box_disc`` group. [MVA]
    params : CapabilityParams or None
        Grid-code parameters of a ``box_disc`` group.
    """

    technology: str
    label: str
    kind: GroupKind
    series: np.ndarray
    sn_mva: float = 0.0
    params: CapabilityParams | None = None

    def sets(self, hours: np.ndarray | None = None, with_vertices: bool = True) -> DeviationSet:
        """The group's deviation sets for ``hours`` (indices into the axis; default all)."""
        series = self.series if hours is None else self.series[hours]
        if self.kind == "box_disc":
            assert self.params is not None, "a box_disc group has parameters"
            return box_disc_set(self.params, self.sn_mva, series, with_vertices=with_vertices)
        return ev_set(series, v2g=self.kind == "ev_v2g", with_vertices=with_vertices)

    def enclosing_disc(self) -> tuple[np.ndarray, np.ndarray]:
        """A disc containing each hour's deviation set: centre dp on the p axis and radius.

        Returns
        -------
        centre_dp_mw, radius : numpy.ndarray, each (n_hours,). [MW], [MVA]

        Notes
        -----
        box_disc: the set lies in the circle of radius Sn about the origin of the (p, q)
        plane, i.e. about (-p0, 0) in deviation coordinates. A V2G disc is its own bound; a
        charging segment [-d, 0] lies in the disc of radius d/2 about -d/2.
        """
        s = np.asarray(self.series, dtype=float)
        if self.kind == "box_disc":
            return -s * self.sn_mva, np.full_like(s, self.sn_mva)
        if self.kind == "ev_v2g":
            return np.zeros_like(s), s
        return -0.5 * s, 0.5 * s
