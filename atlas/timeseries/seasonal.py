"""Seasonal profiles of synchronous units: CHP and run-of-river hydro as fifth-degree
polynomials of the hour of the year (the seed paper's form), biomass/biogas as baseload.

The polynomial is written in the **scaled hour** ``x = h / 8760``, h = 0, 1, ..., 8759 the
position on the study's hourly axis (h = 0 is 1 January 00:00 UTC), so that x lies in
[0, 1) and the fit is well conditioned; coefficients ``c0..c5`` are in increasing powers:
``pu(x) = c0 + c1 x + c2 x**2 + ... + c5 x**5``, clipped to [0, 1].

Default coefficients ship in ``profiles/seasonal_coefficients.csv`` with their rationale
(docs/profiles.md); ``atlas profiles fit`` fits them to a measured series.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.polynomial import polynomial as P

from atlas._compat import EXACT_FLOATS, to_float
from atlas.inputs.timeaxis import N_HOURS

#: Degree of the seasonal polynomial (seed paper).
DEGREE = 5

#: Biomass/biogas default: baseload at 0.9 pu with a two-week maintenance dip to 0.45 pu in
#: the first half of August (invented, docs/profiles.md).
BIOMASS_BASE_PU = 0.9
BIOMASS_MAINTENANCE_PU = 0.45
BIOMASS_MAINTENANCE_DAYS = (212.0, 226.0)  # local day-of-year window [start, end), 1-14 August


def scaled_hour(n_hours: int = N_HOURS) -> np.ndarray:
    """The scaled hour x = h / 8760 of each step h of the axis, shape (n_hours,). [-]"""
    return np.arange(n_hours) / N_HOURS


@dataclass(frozen=True)
class PolynomialFit:
    """A fitted seasonal polynomial.

    Attributes
    ----------
    coefficients : tuple of float
        c0..c5 in increasing powers of the scaled hour x = h / 8760. [-]
    r2 : float
        Coefficient of determination against the fitted series. [-]
    n : int
        Hours used (finite values).
    """

    coefficients: tuple[float, ...]
    r2: float
    n: int


def polynomial_profile(coefficients, n_hours: int = N_HOURS) -> np.ndarray:
    """Evaluate a seasonal polynomial on the axis, clipped to [0, 1].

    Parameters
    ----------
    coefficients : sequence of 6 floats
        c0..c5, increasing powers of x = h / 8760.
    n_hours : int, default 8760

    Returns
    -------
    numpy.ndarray
        (n_hours,) per unit of installed capacity. [-]
    """
    c = np.asarray(coefficients, dtype=float)
    if c.shape != (DEGREE + 1,):
        raise ValueError(f"expected {DEGREE + 1} coefficients c0..c{DEGREE}, got {c.size}")
    return np.clip(P.polyval(scaled_hour(n_hours), c), 0.0, 1.0)


def fit_polynomial(pu: np.ndarray, degree: int = DEGREE) -> PolynomialFit:
    """Least-squares fit of the seasonal polynomial to an hourly series.

    Parameters
    ----------
    pu : numpy.ndarray
        (8760,) per-unit series on the axis; NaN values (gaps) are left out. [-]
    degree : int, default 5

    Returns
    -------
    PolynomialFit
    """
    y = np.asarray(pu, dtype=float)
    if y.shape != (N_HOURS,):
        raise ValueError(f"expected {N_HOURS} hourly values, got {y.shape}")
    ok = np.isfinite(y)
    if ok.sum() <= degree:
        raise ValueError("too few finite values to fit the polynomial")
    x = scaled_hour()[ok]
    c = P.polyfit(x, y[ok], degree)
    resid = y[ok] - P.polyval(x, c)
    ss_tot = float(np.sum((y[ok] - y[ok].mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return PolynomialFit(tuple(float(v) for v in c), r2, int(ok.sum()))


def read_coefficients(path: Path) -> dict[str, tuple[float, ...]]:
    """Read ``technology,c0..c5`` rows (``#`` comment lines allowed)."""
    table = pd.read_csv(path, comment="#")
    cols = [f"c{k}" for k in range(DEGREE + 1)]
    return {
        row.technology: tuple(float(getattr(row, c)) for c in cols)
        for row in table.itertuples(index=False)
    }


def default_coefficients() -> dict[str, tuple[float, ...]]:
    """The shipped default coefficients ``{technology: (c0..c5)}`` (profiles/)."""
    from atlas.demo import data_root

    return read_coefficients(data_root("profiles") / "seasonal_coefficients.csv")


def biomass_profile(axis: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Biomass/biogas default: baseload with a maintenance dip (local days), (8760,). [-]"""
    local = (axis + pd.Timedelta(minutes=30)).tz_convert(timezone)
    doy = np.asarray(local.day_of_year - 1 + local.hour / 24.0, dtype=float)
    lo, hi = BIOMASS_MAINTENANCE_DAYS
    return np.where((doy >= lo) & (doy < hi), BIOMASS_MAINTENANCE_PU, BIOMASS_BASE_PU)


def read_measured(path: Path, column: str = "pu", sn_mva: float | None = None) -> np.ndarray:
    """Read a measured hourly series for a fit: 8760 rows, per unit (or MW / ``sn_mva``).

    Empty cells are gaps (NaN); other values must be numbers within [0, 1] once per unit.
    """
    from atlas.errors import AtlasInputError

    try:
        # an empty line of a one-column file is a gap (an empty cell), not nothing
        df = pd.read_csv(path, skip_blank_lines=False, **EXACT_FLOATS)
    except (
        OSError,
        EOFError,
        ValueError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as exc:
        raise AtlasInputError(path, "", f"cannot be read as CSV ({exc})") from None
    if column not in df.columns:
        raise AtlasInputError(
            path, "header", f"no column {column!r}, expected the series to fit (--column)", line=1
        )
    if len(df) != N_HOURS:
        raise AtlasInputError(
            path, "rows", f"{len(df)} rows, expected {N_HOURS} (row i = hour i of the axis)"
        )
    raw = df[column]
    values = to_float(raw)
    bad = raw.notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AtlasInputError(
            path,
            f"row {i + 1}, {column}",
            f"{raw.iloc[i]!r}, expected a number or an empty cell",
            line=i + 2,
        )
    pu = values / sn_mva if sn_mva else values
    out = np.isfinite(pu) & ((pu < 0) | (pu > 1))
    if out.any():
        i = int(np.flatnonzero(out)[0])
        unit = f"/ {sn_mva:g} MVA" if sn_mva else ""
        raise AtlasInputError(
            path,
            f"row {i + 1}, {column}",
            f"{values[i]:g}{unit} is outside [0, 1] per unit (use --sn-mva for MW)",
            line=i + 2,
        )
    given = int(np.isfinite(pu).sum())
    if given <= DEGREE:  # a fifth-degree polynomial needs six values at least
        raise AtlasInputError(
            path,
            column,
            f"{given} values and {N_HOURS - given} empty cells, expected more than {DEGREE} "
            "values to fit the polynomial (empty cells are gaps)",
        )
    return pu
