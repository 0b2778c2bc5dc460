"""The demo's numbers over seeds: mean and standard deviation, and paired differences between runs.

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
