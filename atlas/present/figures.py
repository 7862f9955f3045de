"""Matplotlib figures of the atlas, written headless with matplotlib's object API and the Agg
canvas: no pyplot state, so a notebook's backend is left as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    days = np.arange(len(pu)) / 24.0
    fig = _figure(9, 4)
    ax = fig.subplots()
    ax.plot(days, pu, lw=0.4, color="0.6", label="data (hourly)")
    ax.plot(days, fitted, lw=2.0, color="tab:red", label="fifth-degree fit")
    _month_ticks(ax)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("hour of the year (UTC axis, by month)")
    ax.set_ylabel("output [p.u. of installed capacity]")
    ax.set_title(f"{plain(technology)}: seasonal polynomial fit, R² = {r2:.4f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=110, format="png")
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
    days = np.arange(len(pu)) / 24.0
    daily = np.asarray(pu, dtype=float).reshape(-1, 24).mean(axis=1)
    fig = _figure(9, 3.6)
    ax = fig.subplots()
    ax.plot(days, pu, lw=0.3, color="0.6", label="hourly")
    ax.plot(np.arange(len(daily)) + 0.5, daily, lw=1.8, color="tab:blue", label="daily mean")
    _month_ticks(ax)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"{axis[0].year} (hours of the UTC axis, by month)")
    ax.set_ylabel(ylabel)
    ax.set_title(plain(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=100, format="png")
    return path


# ---- the seed paper's figures for one PS ----------------------------------------------------
# Pure functions: arrays and shapely geometries in, one PNG out. Figures are made with
# matplotlib's object API (no pyplot state), so they can be drawn in worker processes.

#: Month labels. [-]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
#: Colour and label of each flexibility figure (generator convention, magnitudes).
FIGURE_STYLE = {
    "p_up": ("tab:green", "P up [MW]"),
    "p_down": ("tab:red", "P down [MW]"),
    "q_up": ("tab:blue", "Q up [Mvar]"),
    "q_down": ("tab:orange", "Q down [Mvar]"),
}
#: Colours of scenarios, in study order (the reference first). [-]
SCENARIO_COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown", "tab:olive"]
#: Resolution of the PNGs: 100 dpi, so a 9 x 5 in figure is 900 x 500 px. [dpi]
DPI = 100
#: Resolution of the summary figures drawn for every PS of a batch (paper Fig. 7 and 11):
#: 85 dpi keeps them readable (1,020 x 638 px for Fig. 11) and a third cheaper to encode. [dpi]
DPI_BATCH = 85


def plain(text: str) -> str:
    """User text for a matplotlib label: ``$`` escaped so it is never read as mathtext."""
    return str(text).replace("$", r"\$")


def _max_n_locator(n):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n)


def _figure(
    width: float,
    height: float,
    layout: Literal["constrained", "compressed", "tight"] | None = "constrained",
    **kwargs,
):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout, **kwargs)
    FigureCanvasAgg(fig)  # headless: the Agg canvas, whatever pyplot's backend
    return fig


def _save(fig, path: Path) -> Path:
    """Write the figure as PNG, atomically (a reader never sees half a file)."""
    from atlas.files import write_atomic

    # zlib level 1: a few per cent larger files, several times faster than the default 6
    return write_atomic(
        Path(path),
        lambda p: fig.savefig(p, dpi=DPI, format="png", pil_kwargs={"compress_level": 1}),
    )


def _polygon_xy(geom) -> tuple[np.ndarray, np.ndarray] | None:
    """Exterior (or line, or point) coordinates of a shapely geometry, closed."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        xy = np.asarray(geom.exterior.coords)
    else:
        xy = np.asarray(geom.coords)
    return xy[:, 0], xy[:, 1]


def _cloud(ax, p_mw, q_mvar, hulls: dict | None = None) -> None:
    """The measured PS cloud (load convention) with its convex and concave hulls."""
    ax.plot(p_mw, q_mvar, ",", color="0.45", alpha=0.6, label="as-is PS point (hourly)")
    styles = {
        "cloud_convex": dict(color="0.2", lw=1.0, ls="--", label="cloud: convex hull"),
        "cloud_concave": dict(color="0.2", lw=1.2, ls="-", label="cloud: concave hull"),
    }
    for kind, style in styles.items():
        xy = _polygon_xy((hulls or {}).get(kind))
        if xy is not None:
            ax.plot(*xy, **style)


def _pq_axes(ax) -> None:
    ax.set_xlabel("P at the PS [MW] (load convention: > 0 from transmission)")
    ax.set_ylabel("Q at the PS [Mvar] (> 0 absorbed)")
    ax.grid(alpha=0.3)


def _month_ticks(ax, days_in_year: int = 365) -> None:
    starts = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])
    ax.set_xticks(starts)
    ax.set_xticklabels(MONTHS)
    ax.set_xlim(0, days_in_year)


def plot_ps_cloud(
    day_of_year: np.ndarray,
    p_mw: np.ndarray,
    q_mvar: np.ndarray,
    hulls: dict,
    title: str,
    path: Path,
) -> Path:
    """Seed paper Fig. 2: the PS's hourly P and Q with their trend, and the as-is P-Q cloud.

    Parameters
    ----------
    day_of_year : numpy.ndarray
        (n,) fractional local day of the year of each hour (0 = 1 January 00:00). [d]
    p_mw, q_mvar : numpy.ndarray
        (n,) measured PS point, load convention. [MW], [Mvar]
    hulls : dict
        ``cloud_convex`` and ``cloud_concave`` geometries (P-Q plane).
    title : str
    path : pathlib.Path
    """
    fig = _figure(12, 4.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.6, 1])
    week = np.ones(168) / 168
    for values, color, label in ((p_mw, "tab:blue", "P [MW]"), (q_mvar, "tab:orange", "Q [Mvar]")):
        left.plot(day_of_year, values, lw=0.3, color=color, alpha=0.45)
        trend = np.convolve(values, week, mode="same")
        edge = slice(84, len(values) - 84)  # a full week on both sides
        left.plot(day_of_year[edge], trend[edge], lw=2.0, color=color, label=f"{label}, 7-day mean")
    left.axhline(0, color="0.3", lw=0.6)
    _month_ticks(left)
    left.set_xlabel("local time (month)")
    left.set_ylabel("P [MW], Q [Mvar] (load convention)")
    left.set_title("hourly P and Q with trend")
    left.grid(alpha=0.3)
    left.legend(loc="upper right", fontsize=9)
    _cloud(right, p_mw, q_mvar, hulls)
    _pq_axes(right)
    right.set_title("as-is P-Q cloud and its boundary")
    right.legend(loc="best", fontsize=8, markerscale=20)
    fig.suptitle(plain(title))
    return _save(fig, path)


def plot_capability(
    technology: str,
    curves: list[tuple[str, np.ndarray, tuple[float, float] | None]],
    curve_unit: str,
    envelopes: dict[str, object],
    p_mw: np.ndarray,
    q_mvar: np.ndarray,
    hulls: dict,
    title: str,
    path: Path,
    basis: str = "CEI 0-16/0-21 parameters",
) -> Path:
    """Seed paper Fig. 3-6: a technology's capability curve and its flexibility at the PS.

    Parameters
    ----------
    technology : str
    curves : list of (label, vertices, operating point)
        Capability sets in the DER's P-Q plane, generator convention, each (n, 2) polygon
        vertices, with the operating point (p0, 0) or None. Identical sets are drawn once
        with their labels joined. [curve_unit]
    curve_unit : str
        ``"p.u. of Sn"`` or ``"MW"``.
    envelopes : dict
        ``{scenario: geometry}``: the yearly envelope of the PS with this technology's
        flexibility alone (load convention, P-Q plane). [MW, Mvar]
    p_mw, q_mvar : numpy.ndarray
        The as-is PS cloud. [MW], [Mvar]
    hulls : dict
        The cloud's hulls.
    title : str
    path : pathlib.Path
    basis : str
        What the capability set rests on, in the left panel's title.
    """
    fig = _figure(12, 5.6)
    left, right = fig.subplots(1, 2)
    shown: list[tuple[np.ndarray, list[str], list]] = []  # identical sets drawn once
    for label, verts, point in curves:
        v = np.asarray(verts, dtype=float)
        for seen in shown:
            if seen[0].shape == v.shape and np.allclose(seen[0], v):
                seen[1].append(label)
                seen[2].append(point)
                break
        else:
            shown.append((v, [label], [point]))
    for i, (v, labels, points) in enumerate(shown):
        color = SCENARIO_COLORS[i % 6]
        closed = np.vstack([v, v[:1]]) if len(v) > 2 else v
        if len(v) > 2:
            left.fill(closed[:, 0], closed[:, 1], color=color, alpha=0.08)
        left.plot(closed[:, 0], closed[:, 1], lw=1.8, color=color, label=plain("; ".join(labels)))
        pts = np.array([p for p in points if p is not None])
        if len(pts):
            left.plot(pts[:, 0], pts[:, 1], "o", color=color, ms=6)
    left.plot([], [], "o", color="0.3", label="operating point (hour's output, q = 0)")
    left.axhline(0, color="0.3", lw=0.6)
    left.axvline(0, color="0.3", lw=0.6)
    left.set_aspect("equal", adjustable="datalim")
    left.set_xlabel(f"p [{curve_unit}] (generator convention: > 0 injected)")
    left.set_ylabel(f"q [{curve_unit.replace('MW', 'Mvar')}] (> 0 injected, over-excited)")
    left.set_title(f"{technology}: capability set ({basis})")
    left.grid(alpha=0.3)
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
    _cloud(right, p_mw, q_mvar, hulls)
    for i, (scenario, geom) in enumerate(envelopes.items()):
        xy = _polygon_xy(geom)
        if xy is not None:
            color = SCENARIO_COLORS[i % 6]
            right.fill(*xy, color=color, alpha=0.12)
            right.plot(*xy, color=color, lw=1.6, label=f"yearly envelope, {plain(scenario)}")
    _pq_axes(right)
    right.set_title(f"flexibility of {technology} alone over the as-is cloud")
    right.legend(loc="best", fontsize=8, markerscale=20)
    fig.suptitle(plain(title))
    return _save(fig, path)


def _static_axis_labels(fig, ax) -> None:
    """Move an axes' labels into the figure (drawn once with the background) so that redrawing
    the axes for each PS does not render them again (rotated text is costly)."""
    fig.canvas.draw()  # lay out the ticks to place the labels beside them
    box = ax.get_position()
    renderer = fig.canvas.get_renderer()
    for axis, rotation in ((ax.xaxis, 0), (ax.yaxis, 90)):
        label = axis.label
        text = label.get_text()
        if not text:
            continue
        x, y = fig.transFigure.inverted().transform(
            label.get_window_extent(renderer).get_points().mean(axis=0)
        )
        if rotation:  # left of the widest tick labels this canvas will see (5 characters)
            x = box.x0 - 0.055 * 10 / fig.get_figwidth()
        fig.text(
            x,
            y,
            text,
            rotation=rotation,
            ha="center",
            va="center",
            fontsize=label.get_fontsize(),
        )
        axis.set_label_text("")


class _Blit:
    """Draw a figure's changing artists over a background rendered once (blitting).

    The static artists (axes frames, fixed axes, legends, labels) are rendered once; each
    :meth:`save` restores that background, draws the ``dynamic`` artists in order and
    encodes the Agg buffer as PNG.
    """

    def __init__(self, fig, dynamic: list):
        self.fig, self.dynamic = fig, dynamic
        for artist in dynamic:
            artist.set_animated(True)
        fig.canvas.draw()
        self.background = fig.canvas.copy_from_bbox(fig.bbox)

    def save(self, path: Path) -> Path:
        from PIL import Image

        from atlas.files import write_atomic

        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for artist in self.dynamic:
            self.fig.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())
        image = Image.fromarray(rgba[..., :3], mode="RGB")
        return write_atomic(Path(path), lambda p: image.save(p, format="png", compress_level=1))


class _EnvelopeCanvas:
    """Paper Fig. 7 on one reusable canvas: axes, ticks and the legend are built once per
    process, the legend (beside the plot) and frame are rendered once, and each PS only
    updates and draws the artists that change (:class:`_Blit`)."""

    def __init__(self, scenarios: tuple[str, ...]):
        from matplotlib.patches import Polygon

        self.fig = _figure(10, 6, layout=None, dpi=DPI_BATCH)
        self.fig.subplots_adjust(left=0.075, right=0.70, bottom=0.09, top=0.90)
        ax = self.ax = self.fig.subplots()
        (self.cloud,) = ax.plot(
            [], [], ",", color="0.45", alpha=0.6, label="as-is PS point (hourly)"
        )
        self.hulls = {
            "cloud_convex": ax.plot(
                [], [], color="0.2", lw=1.0, ls="--", label="cloud: convex hull"
            )[0],
            "cloud_concave": ax.plot([], [], color="0.2", lw=1.2, label="cloud: concave hull")[0],
        }
        self.fills, self.edges = [], []
        for i, scenario in enumerate(scenarios):
            color = SCENARIO_COLORS[i % 6]
            patch = Polygon(np.zeros((3, 2)), closed=True, color=color, alpha=0.10)
            ax.add_patch(patch)
            self.fills.append(patch)
            self.edges.append(
                ax.plot(
                    [],
                    [],
                    color=color,
                    lw=1.8,
                    solid_capstyle="round",
                    solid_joinstyle="round",
                    label=f"yearly envelope, {plain(scenario)}",
                )[0]
            )
        (self.rating,) = ax.plot(
            [], [], color="k", lw=1.0, ls=":", label="PS rating (apparent power)"
        )
        _pq_axes(ax)
        ax.xaxis.set_major_locator(_max_n_locator(8))
        ax.yaxis.set_major_locator(_max_n_locator(8))
        _static_axis_labels(self.fig, ax)
        self.fig.legend(
            *ax.get_legend_handles_labels(),
            loc="upper left",
            bbox_to_anchor=(0.71, 0.90),
            fontsize=9,
            markerscale=20,
            frameon=False,
        )
        self.title = self.fig.suptitle("", x=0.39, y=0.975, fontsize=11)
        dynamic = [
            self.title,
            ax.xaxis,
            ax.yaxis,
            *self.fills,
            self.cloud,
            *self.hulls.values(),
            *self.edges,
            self.rating,
        ]
        self.blit = _Blit(self.fig, dynamic)

    def draw(self, p_mw, q_mvar, hulls, envelopes, title, path, rated_mva) -> Path:
        self.cloud.set_data(p_mw, q_mvar)
        xs, ys = [np.asarray(p_mw, float)], [np.asarray(q_mvar, float)]
        for kind, line in self.hulls.items():
            xy = _polygon_xy(hulls.get(kind))
            line.set_data(*(xy if xy is not None else ([], [])))
        for patch, edge, geom in zip(self.fills, self.edges, envelopes.values(), strict=True):
            xy = _polygon_xy(geom)
            if xy is None:
                patch.set_visible(False)
                edge.set_data([], [])
                continue
            patch.set_visible(True)
            patch.set_xy(np.column_stack(xy))
            edge.set_data(*xy)
            xs.append(xy[0])
            ys.append(xy[1])
        x, y = np.concatenate(xs), np.concatenate(ys)
        dx, dy = np.ptp(x) or 1.0, np.ptp(y) or 1.0
        self.ax.set_xlim(x.min() - 0.05 * dx, x.max() + 0.05 * dx)
        self.ax.set_ylim(y.min() - 0.05 * dy, y.max() + 0.05 * dy)
        reach = float(np.hypot(x, y).max())
        if rated_mva is not None and np.isfinite(rated_mva):
            t = np.linspace(-np.pi / 2, np.pi / 2, 721)
            self.rating.set_data(rated_mva * np.cos(t), rated_mva * np.sin(t))
            rating = f"rating {rated_mva:g} MVA, envelopes reach {reach:.0f} MVA"
        else:
            self.rating.set_data([], [])
            rating = f"rating not given, envelopes reach {reach:.0f} MVA"
        self.title.set_text(f"{plain(title)}\n{rating}")
        return self.blit.save(path)


_CANVASES: dict[tuple, object] = {}


def _canvas(kind, scenarios: tuple[str, ...]):
    """The process's reusable canvas of a kind for these scenarios."""
    key = (kind, scenarios)
    if key not in _CANVASES:
        _CANVASES[key] = kind(scenarios)
    return _CANVASES[key]


def plot_envelopes(
    p_mw: np.ndarray,
    q_mvar: np.ndarray,
    hulls: dict,
    envelopes: dict[str, object],
    title: str,
    path: Path,
    rated_mva: float | None = None,
) -> Path:
    """Seed paper Fig. 7: the yearly envelope of each scenario over the as-is PS cloud.

    Parameters
    ----------
    p_mw, q_mvar : numpy.ndarray
        The as-is PS cloud, load convention. [MW], [Mvar]
    hulls : dict
        The cloud's hulls (``cloud_convex``, ``cloud_concave``).
    envelopes : dict
        ``{scenario: geometry or None}`` yearly envelopes (load convention). [MW, Mvar]
    title : str
    path : pathlib.Path
    rated_mva : float, optional
        The PS rating, drawn as an arc (seen when the envelopes come near it). [MVA]
    """
    canvas = _canvas(_EnvelopeCanvas, tuple(envelopes))
    return canvas.draw(p_mw, q_mvar, hulls, envelopes, title, path, rated_mva)


def plot_normal(values: dict[str, np.ndarray], unit: str, title: str, path: Path) -> Path:
    """Seed paper Fig. 8: histograms of hourly figures with their normal fit.

    Parameters
    ----------
    values : dict
        ``{figure: (n,) hourly values}``, e.g. p_up and p_down of one scenario. [unit]
    unit : str
    title : str
    path : pathlib.Path
    """
    fig = _figure(9, 4.8)
    ax = fig.subplots()
    hi = max(float(np.max(v)) for v in values.values()) if values else 1.0
    lo = min(float(np.min(v)) for v in values.values()) if values else 0.0
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 60)
    grid = np.linspace(bins[0], bins[-1], 400)
    for name, v in values.items():
        v = np.asarray(v, dtype=float)
        color, label = FIGURE_STYLE[name]
        mu, sigma = float(v.mean()), float(v.std())
        ax.hist(v, bins=bins, density=True, color=color, alpha=0.3)
        if sigma > 0:
            pdf = np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            ax.plot(
                grid,
                pdf,
                color=color,
                lw=2.0,
                label=f"{label}: normal fit, mean {mu:.2f}, std {sigma:.2f}",
            )
        else:
            ax.axvline(mu, color=color, lw=2.0, label=f"{label}: constant {mu:.2f}")
    ax.set_xlabel(f"hourly flexibility [{unit}]")
    ax.set_ylabel(f"probability density [1/{unit}]")
    ax.set_title(plain(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    return _save(fig, path)


def plot_trend(day_of_year: np.ndarray, values: dict[str, np.ndarray], title: str, path: Path):
    """Seed paper Fig. 9: the hourly trend of the four figures over the year.

    Parameters
    ----------
    day_of_year : numpy.ndarray
        (n,) fractional local day of the year. [d]
    values : dict
        ``{figure: (n,)}`` for p_up, p_down, q_up, q_down. [MW], [Mvar]
    title : str
    path : pathlib.Path
    """
    fig = _figure(12, 7.5)
    axes = fig.subplots(4, 1, sharex=True)
    for ax, (name, v) in zip(axes, values.items(), strict=True):
        color, label = FIGURE_STYLE[name]
        ax.plot(day_of_year, v, lw=0.3, color=color)
        ax.set_ylabel(label, fontsize=9)
        top = float(np.max(v, initial=0.0))
        ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)
        ax.grid(alpha=0.3)
    _month_ticks(axes[-1])
    axes[-1].set_xlabel("local time (month)")
    fig.suptitle(plain(title))
    return _save(fig, path)


def plot_daily_maxima(
    day_index: np.ndarray,
    day_max: dict[str, np.ndarray],
    night_max: dict[str, np.ndarray],
    title: str,
    path: Path,
) -> Path:
    """Seed paper Fig. 10: each day's maximum of the four figures, in daylight and at night.

    Parameters
    ----------
    day_index : numpy.ndarray
        (n_days,) local day of the year of each day (0 = 1 January). [d]
    day_max, night_max : dict
        ``{figure: (n_days,)}``, NaN where a day has no such hours. [MW], [Mvar]
    title : str
    path : pathlib.Path
    """
    fig = _figure(12, 7.5)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    for ax, name in zip(axes, FIGURE_STYLE, strict=True):
        color, label = FIGURE_STYLE[name]
        ax.plot(day_index, day_max[name], lw=1.0, color=color, label="daylight (sun up)")
        ax.plot(day_index, night_max[name], lw=1.0, color="0.25", ls="-", alpha=0.8, label="night")
        ax.set_ylabel(f"daily max of {label}", fontsize=9)
        top = np.nanmax(np.r_[day_max[name], night_max[name], 0.0])
        ax.set_ylim(0, 1.3 * top if top > 0 else 1.0)  # room for the legend
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        _month_ticks(ax)
    fig.suptitle(plain(title))
    return _save(fig, path)


class _BoxCanvas:
    """Paper Fig. 11 on one reusable canvas (see :class:`_EnvelopeCanvas`)."""

    def __init__(self, scenarios: tuple[str, ...]):
        from matplotlib.collections import LineCollection, PolyCollection

        self.fig = _figure(12, 7.5, layout=None, dpi=DPI_BATCH)
        self.fig.subplots_adjust(
            left=0.06, right=0.99, bottom=0.05, top=0.87, hspace=0.12, wspace=0.14
        )
        self.axes = self.fig.subplots(2, 2, sharex=True).ravel()
        self.n_sc = len(scenarios)
        self.boxes, self.lines, self.thresholds = [], [], []
        months = np.arange(1, 13)
        for ax, name in zip(self.axes, FIGURE_STYLE, strict=True):
            row_b, row_l = [], []
            for s, scenario in enumerate(scenarios):
                color = SCENARIO_COLORS[s % 6]
                # cap and join styles given (matplotlib's defaults): a collection without
                # them takes the renderer's, which a library may change for the whole
                # process (pandapower.plotting makes every cap round on import)
                boxes = PolyCollection(
                    [],
                    facecolors=color,
                    alpha=0.35,
                    edgecolors=color,
                    label=plain(scenario),
                    capstyle="butt",
                    joinstyle="round",
                )
                lines = LineCollection(
                    [], colors=color, linewidths=1.2, capstyle="butt", joinstyle="round"
                )
                ax.add_collection(boxes)
                ax.add_collection(lines)
                row_b.append(boxes)
                row_l.append(lines)
            self.boxes.append(row_b)
            self.lines.append(row_l)
            self.thresholds.append(
                ax.axhline(0, color="k", lw=0.9, ls=":", label="relief threshold")
            )
            ax.set_xlim(0.4, 12.6)
            ax.set_xticks(months)
            ax.set_xticklabels(MONTHS, fontsize=8)
            ax.set_ylabel(FIGURE_STYLE[name][1], fontsize=9)
            _static_axis_labels(self.fig, ax)
            ax.grid(alpha=0.3, axis="y")
        handles, labels = self.axes[0].get_legend_handles_labels()
        self.fig.legend(
            handles,
            labels,
            loc="upper center",
            ncols=len(labels),
            fontsize=9,
            bbox_to_anchor=(0.5, 0.935),
            frameon=False,
        )
        self.title = self.fig.suptitle("", y=0.995)
        for ax in self.axes:
            ax.yaxis.set_major_locator(_max_n_locator(4))
        # everything that changes from PS to PS is drawn over a frozen background
        dynamic = [self.title]
        for f, ax in enumerate(self.axes):
            dynamic += [ax.yaxis, *self.boxes[f], *self.lines[f], self.thresholds[f]]
        self.blit = _Blit(self.fig, dynamic)

    def draw(self, boxes, thresholds, title, path) -> Path:
        width = 0.8 / max(self.n_sc, 1)
        months = np.arange(1, 13)
        h = width * 0.4
        for f, name in enumerate(FIGURE_STYLE):
            top = thresholds[name]
            for s, b in enumerate(boxes.values()):
                x = months - 0.4 + width * (s + 0.5)
                lo, q1, med, q3, hi = (b[f, :, j] for j in range(5))
                rects = np.stack(
                    [
                        np.column_stack([x - h, q1]),
                        np.column_stack([x + h, q1]),
                        np.column_stack([x + h, q3]),
                        np.column_stack([x - h, q3]),
                    ],
                    axis=1,
                )  # (12, 4, 2)
                # matplotlib's stubs want a Sequence, but an (n, 4, 2) array is set_verts's fast path
                self.boxes[f][s].set_verts(rects)  # type: ignore[arg-type]
                segments = np.concatenate(
                    [
                        np.stack([np.column_stack([x, lo]), np.column_stack([x, q1])], axis=1),
                        np.stack([np.column_stack([x, q3]), np.column_stack([x, hi])], axis=1),
                        np.stack(
                            [np.column_stack([x - h, med]), np.column_stack([x + h, med])], axis=1
                        ),
                    ]
                )  # (36, 2, 2)
                self.lines[f][s].set_segments(segments)  # type: ignore[arg-type]  # (n, 2, 2): as above
                top = max(top, float(np.nanmax(hi)))
            self.thresholds[f].set_ydata([thresholds[name]] * 2)
            self.axes[f].set_ylim(0, top * 1.08 or 1.0)
        self.title.set_text(
            plain(title) + "\nboxes: quartiles and median; whiskers: monthly min and max"
        )
        return self.blit.save(path)


def plot_monthly_boxes(
    boxes: dict[str, np.ndarray], thresholds: dict[str, float], title: str, path: Path
) -> Path:
    """Seed paper Fig. 11: monthly box plots of the four figures, one box per scenario.

    Parameters
    ----------
    boxes : dict
        ``{scenario: (4, 12, 5)}``: per figure (p_up, p_down, q_up, q_down) and local month,
        min, first quartile, median, third quartile, max (statistics.parquet's box
        statistics; whiskers span min to max). [MW], [Mvar]
    thresholds : dict
        ``{figure: threshold}`` drawn as a dotted line. [MW], [Mvar]
    title : str
    path : pathlib.Path
    """
    return _canvas(_BoxCanvas, tuple(boxes)).draw(boxes, thresholds, title, path)


def plot_day(
    hours: np.ndarray, values: dict[str, np.ndarray], day_label: str, title: str, path: Path
) -> Path:
    """Seed paper Fig. 12: a chosen day's hourly trend of the four figures and their spread.

    Parameters
    ----------
    hours : numpy.ndarray
        (n,) local hour of the day of each value. [h]
    values : dict
        ``{figure: (n,)}``. [MW], [Mvar]
    day_label : str
        The date, shown in the title.
    title : str
    path : pathlib.Path
    """
    fig = _figure(12, 4.8)
    left, right = fig.subplots(1, 2, width_ratios=[1.8, 1])
    data, labels, colors = [], [], []
    for name, v in values.items():
        color, label = FIGURE_STYLE[name]
        left.plot(hours, v, marker="o", ms=3, lw=1.6, color=color, label=label)
        data.append(np.asarray(v, dtype=float))
        labels.append(label.replace(" [", "\n["))
        colors.append(color)
    left.set_xticks(range(0, 24, 2))
    left.set_xlim(-0.5, 23.5)
    left.set_ylim(bottom=0)
    left.set_xlabel("local hour of the day (hour start)")
    left.set_ylabel("flexibility [MW] or [Mvar]")
    left.set_title(f"hourly trend, {day_label}")
    left.grid(alpha=0.3)
    left.legend(loc="best", fontsize=8)
    bp = right.boxplot(data, whis=(0, 100), patch_artist=True, widths=0.6)
    for patch, color in zip(bp["boxes"], colors, strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.4)
    right.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    right.set_ylim(bottom=0)
    right.set_title("spread over the day")
    right.grid(alpha=0.3, axis="y")
    fig.suptitle(plain(title))
    return _save(fig, path)


def plot_availability_heatmap(
    share: dict[str, np.ndarray], thresholds: dict[str, tuple[float, str]], title: str, path: Path
) -> Path:
    """The month x hour share of hours at or above the relief threshold, per figure.

    Parameters
    ----------
    share : dict
        ``{figure: (12, 24)}`` share of the hours of that local month and hour at or above
        the threshold, NaN where the cell has no hour. [-]
    thresholds : dict
        ``{figure: (threshold, unit)}``.
    title : str
    path : pathlib.Path
    """
    fig = _figure(12, 7)
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    image = None
    for ax, name in zip(axes.ravel(), FIGURE_STYLE, strict=True):
        image = ax.imshow(
            share[name],
            origin="upper",
            aspect="auto",
            vmin=0,
            vmax=1,
            cmap="viridis",
            extent=(-0.5, 23.5, 12.5, 0.5),
        )
        thr, unit = thresholds[name]
        ax.set_title(f"{FIGURE_STYLE[name][1].split(' [')[0]} >= {thr:g} {unit}", fontsize=10)
        ax.set_yticks(range(1, 13), MONTHS, fontsize=8)
        ax.set_xticks(range(0, 24, 3))
    for ax in axes[-1]:
        ax.set_xlabel("local hour of the day")
    fig.colorbar(image, ax=axes, shrink=0.8, label="share of hours at or above threshold [-]")
    fig.suptitle(plain(title))
    return _save(fig, path)
