"""The analyses' pictures: the information plane and temporal-transferability curves.

matplotlib is imported inside the functions (with the Agg backend, no display needed), so
``ctc_plugin.analysis`` stays importable with torch alone. Files are written atomically.
"""

import io
from typing import Dict, Optional, Sequence, Tuple

from ..utils.io import atomic_write

__all__ = ["plot_information_plane", "plot_temporal_transfer"]

_MARKERS = "osD^v<>pXh*"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str, dpi: int) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def plot_information_plane(
    runs: Dict[str, Sequence[Tuple[int, float, float]]],
    path: str,
    title: str = "Information plane",
    dpi: int = 150,
    spread: Optional[Dict[str, Sequence[Tuple[int, float, float]]]] = None,
) -> None:
    """I(X;T) on x, I(T;Y) on y; one line per run, its points coloured by epoch.

    Args:
        runs: run label -> ``(epoch, I(X;T), I(T;Y))`` rows (any order; drawn by epoch).
        path: the PNG to write.
        spread: optional run label -> ``(epoch, sd of I(X;T), sd of I(T;Y))`` (e.g. across seeds), drawn
            as error bars.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    epochs = [row[0] for rows in runs.values() for row in rows]
    vmin, vmax = (min(epochs), max(epochs)) if epochs else (0, 1)
    scatter = None
    try:
        for i, (label, rows) in enumerate(runs.items()):
            rows = sorted(rows)
            xs, ys = [r[1] for r in rows], [r[2] for r in rows]
            marker = _MARKERS[i % len(_MARKERS)]
            ax.plot(
                xs,
                ys,
                color=f"C{i % 10}",
                linewidth=1.2,
                marker=marker,
                markersize=10,
                markerfacecolor="none",
                zorder=1,
                label=label,
            )
            if spread and label in spread:
                sd = {row[0]: row[1:] for row in spread[label]}
                xerr = [sd.get(r[0], (0.0, 0.0))[0] for r in rows]
                yerr = [sd.get(r[0], (0.0, 0.0))[1] for r in rows]
                ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="none", ecolor=f"C{i % 10}", alpha=0.4, zorder=0)
            scatter = ax.scatter(
                xs,
                ys,
                c=[r[0] for r in rows],
                cmap="viridis",
                vmin=vmin,
                vmax=max(vmax, vmin + 1),
                marker=marker,
                s=45,
                linewidths=0,
                zorder=2,
            )
        if scatter is not None:
            fig.colorbar(scatter, ax=ax, label="epoch")
        if runs:
            ax.legend(loc="best", fontsize="small")
        ax.set_xlabel("I(X;T) (nats)")
        ax.set_ylabel("I(T;Y) (nats)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        _save(fig, path, dpi)
    finally:
        plt.close(fig)


def plot_temporal_transfer(
    runs: Dict[str, Sequence[Tuple[int, float]]],
    path: str,
    title: str = "Temporal transferability",
    ylabel: str = "target top-1 accuracy (%)",
    dpi: int = 150,
    boundary: Optional[int] = None,
    spread: Optional[Dict[str, Sequence[Tuple[int, float]]]] = None,
) -> None:
    """One curve per run: x = training epoch, y = the probe's accuracy (appendix Figs. 1-3).

    Args:
        runs: run label -> ``(epoch, accuracy)`` rows.
        path: the PNG to write.
        boundary: optional epoch of the stage change (IAS -> IRS), drawn as a dashed line.
        spread: optional run label -> ``(epoch, sd)`` rows (e.g. across seeds): a band of +-sd.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    try:
        for i, (label, rows) in enumerate(runs.items()):
            rows = sorted(rows)
            xs, ys = [r[0] for r in rows], [r[1] for r in rows]
            ax.plot(
                xs, ys, color=f"C{i % 10}", marker=_MARKERS[i % len(_MARKERS)], markersize=3, linewidth=1.2, label=label
            )
            if spread and label in spread:
                sd = dict(spread[label])
                low = [y - sd.get(x, 0.0) for x, y in zip(xs, ys)]
                high = [y + sd.get(x, 0.0) for x, y in zip(xs, ys)]
                ax.fill_between(xs, low, high, color=f"C{i % 10}", alpha=0.2, linewidth=0)
        if boundary:
            ax.axvline(boundary, color="0.5", linestyle="--", linewidth=1, label="stage 1 -> 2")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("training epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if runs:
            ax.legend(loc="best", fontsize="small")
        _save(fig, path, dpi)
    finally:
        plt.close(fig)
