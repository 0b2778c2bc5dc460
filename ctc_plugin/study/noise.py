"""How noisy a study's transfer numbers are, told apart by source.

- **probe noise**: the standard deviation between the probe's draws on one checkpoint (a new
  probe training sample and classifier initialisation each), pooled over checkpoints;
- **seed noise**: the standard deviation between training seeds of one arm at one checkpoint,
  pooled over arms and checkpoints;
- **checkpoint noise**: the standard deviation of one seed's curve around the arm's mean curve
  and the seed's own offset (the residual of a two-way fit over the second half of training),
  pooled over arms: what a flat curve's checkpoints scatter by, and what "best" transfer is
  biased up by.
"""

import math
import statistics
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .inference import expected_maximum


def _pooled(variances: Sequence[float], degrees: Sequence[int]) -> Optional[float]:
    total = sum(degrees)
    return math.sqrt(sum(v * d for v, d in zip(variances, degrees)) / total) if total else None


def probe_noise(rows: Sequence[Mapping[str, Any]]) -> Optional[float]:
    """Pooled standard deviation between the draws of each row's probe (None: one draw each)."""
    variances, degrees = [], []
    for row in rows:
        draws = row.get("top1_draws") or []
        if len(draws) > 1:
            variances.append(statistics.variance(draws))
            degrees.append(len(draws) - 1)
    return _pooled(variances, degrees)


def seed_noise(curves: Mapping[str, Mapping[int, Mapping[int, float]]]) -> Optional[float]:
    """Pooled standard deviation between seeds at each (arm, epoch); ``curves``: arm -> seed -> epoch -> top-1."""
    variances, degrees = [], []
    for by_seed in curves.values():
        epochs = set.intersection(*(set(c) for c in by_seed.values())) if by_seed else set()
        for epoch in epochs:
            values = [c[epoch] for c in by_seed.values()]
            if len(values) > 1:
                variances.append(statistics.variance(values))
                degrees.append(len(values) - 1)
    return _pooled(variances, degrees)


def checkpoint_noise(
    curves: Mapping[str, Mapping[int, Mapping[int, float]]], from_fraction: float = 0.5
) -> Optional[float]:
    """Pooled residual standard deviation of a seed x epoch additive fit per arm, over the epochs
    from ``from_fraction`` of the last probed one (needs two seeds and two epochs)."""
    squares, degrees = 0.0, 0
    for by_seed in curves.values():
        if len(by_seed) < 2:
            continue
        common = set.intersection(*(set(c) for c in by_seed.values()))
        epochs = sorted(e for e in common if e >= from_fraction * max(common, default=0))
        if len(epochs) < 2:
            continue
        seeds = sorted(by_seed)
        grand = statistics.fmean(by_seed[s][e] for s in seeds for e in epochs)
        seed_mean = {s: statistics.fmean(by_seed[s][e] for e in epochs) for s in seeds}
        epoch_mean = {e: statistics.fmean(by_seed[s][e] for s in seeds) for e in epochs}
        squares += sum((by_seed[s][e] - seed_mean[s] - epoch_mean[e] + grand) ** 2 for s in seeds for e in epochs)
        degrees += (len(seeds) - 1) * (len(epochs) - 1)
    return math.sqrt(squares / degrees) if degrees else None


def noise_summary(transfer_rows: Sequence[Mapping[str, Any]], curves) -> Dict[str, Any]:
    """The three noises of a study and the best-minus-final a flat curve would show at its checkpoint noise.

    Args:
        transfer_rows: every seed's temporal-transfer rows.
        curves: arm -> seed -> epoch -> top-1.
    """
    draws = sorted({len(row.get("top1_draws") or []) or 1 for row in transfer_rows})
    probed = max((len(c) for by_seed in curves.values() for c in by_seed.values()), default=0)
    checkpoint = checkpoint_noise(curves)
    shared = {row.get("probe_seed") for row in transfer_rows}
    return {
        "probe_draws": draws,
        "probe_seed": next(iter(shared)) if len(shared) == 1 else None,
        "probe": probe_noise(transfer_rows),
        "seed": seed_noise(curves),
        "checkpoint": checkpoint,
        "probed_checkpoints": probed,
        "flat_best_minus_final": None if checkpoint is None else checkpoint * expected_maximum(probed),
    }


def curves_by_arm(
    per_seed: Mapping[int, Mapping[str, Any]], arms: Sequence[str]
) -> Dict[str, Dict[int, Dict[int, float]]]:
    """arm -> seed -> epoch -> transfer top-1, from every seed's rows."""
    curves: Dict[str, Dict[int, Dict[int, float]]] = {arm: {} for arm in arms}
    for seed, numbers in per_seed.items():
        for row in numbers.get("transfer", []):
            if str(row["run"]) in curves:
                curves[str(row["run"])].setdefault(int(seed), {})[int(row["epoch"])] = float(row["top1"])
    return curves


def all_rows(per_seed: Mapping[int, Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    return [row for numbers in per_seed.values() for row in numbers.get("transfer", [])]
