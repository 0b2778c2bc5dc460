"""A study's plots: transfer and source curves with a band of ± one sd over seeds, and the information plane."""

import os
from typing import Any, Dict, List, Mapping, Sequence

from ..analysis.plots import plot_information_plane, plot_temporal_transfer
from .judge import arm_names
from .summary import curves_over_seeds, mean_sd, source_curves

TRANSFER_PLOT = "temporal_transfer.png"
SOURCE_PLOT = "source_accuracy.png"
PLANE_PLOT = "information_plane.png"


def per_seed_of(results: Mapping[str, Any]) -> Dict[int, Mapping[str, Any]]:
    return {int(seed): numbers for seed, numbers in results["per_seed"].items()}


def mean_curves(curves: Dict[str, Dict[int, List[float]]]):
    """(run -> [(epoch, mean)], run -> [(epoch, sd)]) of curves over seeds."""
    means = {run: [(e, mean_sd(v)[0]) for e, v in sorted(c.items())] for run, c in curves.items()}
    spread = {run: [(e, mean_sd(v)[1]) for e, v in sorted(c.items()) if len(v) > 1] for run, c in curves.items()}
    return means, spread


def source_over_seeds(per_seed, names: Sequence[str]) -> Dict[str, Dict[int, List[float]]]:
    """arm -> epoch -> the source test top-1 of every seed evaluated then."""
    curves: Dict[str, Dict[int, List[float]]] = {}
    for name in names:
        for by_epoch in source_curves(per_seed, name).values():
            for epoch, value in by_epoch.items():
                curves.setdefault(name, {}).setdefault(epoch, []).append(value)
    return curves


def stage_boundary(per_seed, names: Sequence[str]):
    """The IAS -> IRS epoch when every two-stage arm shares one, else None."""
    runs = {n: numbers["runs"][n] for numbers in per_seed.values() for n in names if n in numbers["runs"]}
    boundaries = {int(r["epochs"].split("+")[0]) for r in runs.values() if int(r["epochs"].split("+")[1]) > 0}
    return boundaries.pop() if len(boundaries) == 1 else None


def write_plots(results: Mapping[str, Any], folder: str) -> None:
    """Transfer and source curves (bands: +-sd over seeds) and the information plane (error bars)."""
    per_seed = per_seed_of(results)
    names = arm_names(results)
    seeds = len(per_seed)
    over = f" (mean ± sd over {seeds} seeds)" if seeds > 1 else ""
    boundary = stage_boundary(per_seed, names)
    transfer = curves_over_seeds({s: n["transfer"] for s, n in per_seed.items()}, "top1")
    means, spread = mean_curves({name: transfer[name] for name in names if name in transfer})
    plot_temporal_transfer(
        means, os.path.join(folder, TRANSFER_PLOT), title="Temporal transferability" + over, boundary=boundary,
        spread=spread,
    )  # fmt: skip
    means, spread = mean_curves(source_over_seeds(per_seed, names))
    plot_temporal_transfer(
        means, os.path.join(folder, SOURCE_PLOT), title="Source test accuracy" + over, boundary=boundary,
        spread=spread, ylabel="source top-1 accuracy (%)",
    )  # fmt: skip
    rows = {s: n["mi"] for s, n in per_seed.items()}
    if not any(rows.values()):
        return
    xt, ty = curves_over_seeds(rows, "I_XT"), curves_over_seeds(rows, "I_TY")
    plane = {run: [(e, mean_sd(v)[0], mean_sd(ty[run][e])[0]) for e, v in sorted(c.items())] for run, c in xt.items()}
    plane_spread = {
        run: [(e, mean_sd(v)[1], mean_sd(ty[run][e])[1]) for e, v in sorted(c.items()) if len(v) > 1]
        for run, c in xt.items()
    }
    plot_information_plane(
        plane, os.path.join(folder, PLANE_PLOT), title="Information plane" + over, spread=plane_spread
    )
