"""A study's numbers over seeds: mean and standard deviation, paired differences, late falls.

With one seed a number is shown alone and no comparison can be judged. With several, a
difference between two runs (CTC minus baseline, say) is taken seed by seed. Its mean is
called larger than the spread across seeds when it exceeds the standard deviation of those
paired differences: a difference that another seed would not undo.
"""

import math
import statistics
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple


def mean_sd(values: Iterable[float]) -> Tuple[float, float]:
    """(mean, sample standard deviation); the deviation is NaN for one value."""
    values = [float(v) for v in values]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else float("nan")


def format_mean_sd(values: Iterable[float], digits: int = 2) -> str:
    """ "81.00 ± 1.20" over several seeds, "81.00" for one, "n/a" for none."""
    mean, sd = mean_sd(values)
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def paired_difference(first: Mapping[int, float], second: Mapping[int, float]) -> Dict[str, object]:
    """``first - second`` seed by seed (seeds both have): mean, sd, the seeds, and whether |mean| > sd."""
    seeds = sorted(set(first) & set(second))
    differences = [float(first[s]) - float(second[s]) for s in seeds]
    mean, sd = mean_sd(differences)
    exceeds: Optional[bool] = None if math.isnan(sd) else abs(mean) > sd
    return {"seeds": seeds, "differences": differences, "mean": mean, "sd": sd, "exceeds_spread": exceeds}


def comparison_line(what: str, first: str, second: str, difference: Mapping[str, object], unit: str = "") -> str:
    """One sentence: the mean difference and whether it exceeds the spread across seeds."""
    mean, sd, n = difference["mean"], difference["sd"], len(difference["seeds"])
    if not n:
        return f"- {what}, {first} minus {second}: not measured."
    if difference["exceeds_spread"] is None:
        return f"- {what}, {first} minus {second}: {mean:+.2f}{unit} (one seed: no spread to judge it by)."
    verdict = "larger than" if difference["exceeds_spread"] else "within"
    return (
        f"- {what}, {first} minus {second}: {mean:+.2f} ± {sd:.2f}{unit} over {n} seeds, "
        f"{verdict} the spread across seeds."
    )


def curves_over_seeds(rows_by_seed: Mapping[int, Sequence[Mapping]], key: str) -> Dict[str, Dict[int, List[float]]]:
    """run -> epoch -> the values of ``key`` over seeds, from each seed's table rows (run, epoch, key)."""
    curves: Dict[str, Dict[int, List[float]]] = {}
    for seed in sorted(rows_by_seed):
        for row in rows_by_seed[seed]:
            curves.setdefault(str(row["run"]), {}).setdefault(int(row["epoch"]), []).append(float(row[key]))
    return curves


def by_seed(per_seed: Mapping[int, Mapping], *path: str) -> Dict[int, float]:
    """seed -> the number at ``path`` in each seed's results, for the seeds that have it."""
    found = {}
    for seed, results in per_seed.items():
        value = results
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, (int, float)) and not math.isnan(float(value)):
            found[int(seed)] = float(value)
    return found


def arm_curves(per_seed: Mapping[int, Mapping], arm: str) -> Dict[int, Dict[int, float]]:
    """seed -> epoch -> the temporal-transfer top-1 of ``arm`` in that seed."""
    return {
        int(seed): {int(r["epoch"]): float(r["top1"]) for r in numbers["transfer"] if str(r["run"]) == arm}
        for seed, numbers in per_seed.items()
    }


def source_curves(per_seed: Mapping[int, Mapping], arm: str) -> Dict[int, Dict[int, float]]:
    """seed -> epoch -> the source test top-1 of ``arm`` in that seed (the epochs it was evaluated)."""
    return {
        int(seed): {int(e): float(v) for e, v in numbers["runs"][arm]["top1_per_epoch"].items()}
        for seed, numbers in per_seed.items()
        if arm in numbers["runs"]
    }


def late_fall(
    transfer: Mapping[int, Mapping[int, float]], source: Mapping[int, Mapping[int, float]], test_images: int = 0
) -> Dict:
    """Whether an arm's transfer falls late in training while its source accuracy still rises.

    The peak is the epoch where the mean transfer curve over seeds is highest (epochs every seed
    measured). The fall is taken seed by seed, transfer at the peak minus transfer at the last
    epoch, and the rise of the source top-1 the same way, from its last evaluation at or before
    the peak (the first one after it when there is none) to the last epoch. ``falls`` holds when
    the fall's mean is positive and exceeds both its spread across seeds and one probe's own
    sampling error on ``test_images`` target test images (the binomial standard deviation of an
    accuracy at the peak's level); ``source_rises`` when the rise's mean is positive and exceeds
    its spread. ``best_minus_final`` is each seed's own best transfer minus its final one.
    """
    seeds = sorted(s for s in transfer if transfer[s])
    epochs = sorted(set.intersection(*(set(transfer[s]) for s in seeds))) if seeds else []
    if not epochs:
        return {"seeds": []}
    mean_curve = {e: statistics.fmean(transfer[s][e] for s in seeds) for e in epochs}
    peak, last = max(epochs, key=lambda e: (mean_curve[e], -e)), epochs[-1]
    fall = paired_difference({s: transfer[s][peak] for s in seeds}, {s: transfer[s][last] for s in seeds})
    best_minus_final = {s: max(transfer[s].values()) - transfer[s][max(transfer[s])] for s in seeds}
    rise: Dict[int, float] = {}
    for s in seeds:
        evaluated = sorted(source.get(s, {}))
        before = [e for e in evaluated if e <= peak] or evaluated[:1]
        if before and evaluated[-1] > before[-1]:
            rise[s] = source[s][evaluated[-1]] - source[s][before[-1]]
    level = mean_curve[peak] / 100.0
    probe_error = 100.0 * math.sqrt(level * (1.0 - level) / test_images) if test_images > 0 else 0.0
    rise_mean, rise_sd = mean_sd(rise.values())
    return {
        "seeds": seeds,
        "peak_epoch": peak,
        "last_epoch": last,
        "peak_mean": mean_curve[peak],
        "last_mean": mean_curve[last],
        "fall": fall,
        "probe_error": probe_error,
        "falls": peak < last and fall["mean"] > probe_error and fall["mean"] > 0 and bool(fall["exceeds_spread"]),
        "best_minus_final": best_minus_final,
        "source_rise": rise,
        "source_rise_mean": rise_mean,
        "source_rise_sd": rise_sd,
        "source_rises": bool(rise) and rise_mean > 0 and (math.isnan(rise_sd) or rise_mean > rise_sd),
    }
