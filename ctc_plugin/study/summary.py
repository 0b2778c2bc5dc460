"""A study's numbers over seeds, as the report shows them: mean ± standard deviation, and curves by seed.

What is judged, and how, is ``judge``'s: this module only reads and describes.
"""

import math
import statistics
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple


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
