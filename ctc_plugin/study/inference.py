"""Tests across seeds: a paired t-test with its 95% interval, and Holm's adjustment over a family.

A study's seeds are its unit of replication: a difference between two arms (or between two
windows of one arm's curve) is taken seed by seed, and the mean of those differences is tested
against 0 with Student's t (``scipy.stats.ttest_rel``). With two seeds or fewer the differences
are only shown: a t-test on one degree of freedom needs the mean to exceed 9 standard deviations,
and "larger than the spread" (|mean| > sd) would fire on 39% of null comparisons.

scipy is imported inside the functions, so ``ctc_plugin.study`` imports with torch alone.
"""

import math
import statistics
from typing import Dict, List, Optional, Sequence

# Fewer seeds than this: differences are printed, nothing is judged.
MIN_SEEDS_TO_JUDGE = 3


def paired_test(first: Sequence[float], second: Sequence[float], confidence: float = 0.95) -> Dict[str, object]:
    """``first - second`` pair by pair, tested against 0 (``scipy.stats.ttest_rel``).

    Returns:
        ``n``, ``differences``, ``mean``, ``sd``, ``ci`` ([low, high] of the mean difference),
        ``p`` (two-sided), ``t`` and ``seeds_agreeing`` (how many differences share the mean's
        sign). With fewer than ``MIN_SEEDS_TO_JUDGE`` pairs ``ci``, ``p`` and ``t`` are None.
    """
    if len(first) != len(second):
        raise ValueError(f"paired samples of different sizes: {len(first)} and {len(second)}")
    differences = [float(a) - float(b) for a, b in zip(first, second)]
    n = len(differences)
    mean = statistics.fmean(differences) if n else float("nan")
    sd = statistics.stdev(differences) if n > 1 else float("nan")
    sign = (mean > 0) - (mean < 0) if n else 0
    record: Dict[str, object] = {
        "n": n,
        "differences": differences,
        "mean": mean,
        "sd": sd,
        "ci": None,
        "p": None,
        "t": None,
        "seeds_agreeing": sum(1 for d in differences if sign and (d > 0) - (d < 0) == sign),
    }
    if n < MIN_SEEDS_TO_JUDGE:
        return record
    if sd == 0.0:  # every seed gave the same difference: t is undefined, the interval is that value
        record.update(
            ci=[mean, mean], p=1.0 if mean == 0 else 0.0, t=0.0 if mean == 0 else math.copysign(math.inf, mean)
        )
        return record
    from scipy import stats

    result = stats.ttest_rel(first, second)
    interval = result.confidence_interval(confidence_level=confidence)
    record.update(ci=[float(interval.low), float(interval.high)], p=float(result.pvalue), t=float(result.statistic))
    return record


def holm(p_values: Sequence[Optional[float]]) -> List[Optional[float]]:
    """Holm's step-down adjustment of ``p_values`` (None entries are not tested and stay None).

    The m tested p-values are sorted ascending; the i-th (from 1) is multiplied by m - i + 1,
    then the running maximum is taken and capped at 1. Rejecting where the adjusted p < alpha
    keeps the chance of any false rejection in the family at alpha.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: List[Optional[float]] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, p * (len(tested) - rank)))
        adjusted[i] = running
    return adjusted


def expected_maximum(count: int) -> float:
    """E[max of ``count`` independent standard normal values] (0 for one value).

    The best of a flat curve's ``count`` noisy checkpoints lies this many noise standard deviations
    above the curve's level: what "best minus final" shows when nothing fell.
    """
    if count <= 1:
        return 0.0
    from scipy import integrate, stats

    def density(x: float) -> float:
        return x * count * stats.norm.pdf(x) * stats.norm.cdf(x) ** (count - 1)

    value, _ = integrate.quad(density, -12.0, 12.0)
    return float(value)
