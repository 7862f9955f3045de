"""Matplotlib figures of the atlas (written headless, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_seasonal_fit(
    pu: np.ndarray, fitted: np.ndarray, technology: str, r2: float, path: Path
) -> Path:
    """Hourly series against its fitted seasonal polynomial, saved as PNG.

    Parameters
    ----------
    pu : numpy.ndarray
        (8760,) measured per-unit series (NaN for gaps). [-]
    fitted : numpy.ndarray
        (8760,) the polynomial on the same axis. [-]
    technology : str
    r2 : float
        Coefficient of determination, shown in the title. [-]
    path : pathlib.Path
        The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = np.arange(len(pu)) / 24.0
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    ax.plot(days, pu, lw=0.4, color="0.6", label="data (hourly)")
    ax.plot(days, fitted, lw=2.0, color="tab:red", label="fifth-degree fit")
    ax.set_xlim(0, 365)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30]))
    ax.set_xticklabels(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
    ax.set_xlabel("hour of the year (UTC axis, by month)")
    ax.set_ylabel("output [p.u. of installed capacity]")
    ax.set_title(f"{technology}: seasonal polynomial fit, R² = {r2:.4f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_profile_year(
    axis,
    pu: np.ndarray,
    technology: str,
    title: str,
    path: Path,
    ylabel: str = "output [p.u. of installed capacity]",
) -> Path:
    """A year of hourly values with their daily mean, saved as PNG.

    Parameters
    ----------
    axis : pandas.DatetimeIndex
        The study's UTC axis (8760 stamps).
    pu : numpy.ndarray
        (8760,) hourly values. [p.u.] or [MW]
    technology : str
    title : str
    path : pathlib.Path
    ylabel : str
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = np.arange(len(pu)) / 24.0
    daily = np.asarray(pu, dtype=float).reshape(-1, 24).mean(axis=1)
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    ax.plot(days, pu, lw=0.3, color="0.6", label="hourly")
    ax.plot(np.arange(len(daily)) + 0.5, daily, lw=1.8, color="tab:blue", label="daily mean")
    ax.set_xlim(0, 365)
    ax.set_ylim(bottom=0)
    ax.set_xticks(np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30]))
    ax.set_xticklabels(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
    ax.set_xlabel(f"{axis[0].year} (hours of the UTC axis, by month)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return path
