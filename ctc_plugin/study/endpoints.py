"""A study's endpoints: the numbers its tests compare, each computed per seed by a rule fixed in advance.

No endpoint picks a checkpoint by looking at the curve it judges:

- **final_transfer**: the mean of an arm's last K probed checkpoints (``ANALYSIS.FINAL_CHECKPOINTS``).
- **late_fall** (positive: a fall), two pre-registered forms (``ANALYSIS.LATE_FALL_TEST``):
  ``window``, the mean transfer of the early window (``ANALYSIS.EARLY_WINDOW``, fractions of the
  arm's epochs) minus that of the late window (the last K probed checkpoints); or ``slope``, minus
  the least-squares slope of the transfer over ``ANALYSIS.SLOPE_WINDOW``, in points per 10 epochs.
- **source_rise** (positive: a rise): the source test top-1 over the late window minus that over
  the early window, from the evaluations inside each window.
- **final_source**: the source test top-1 of the final network.
"""

import statistics
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

# The forms of the late-fall test.
LATE_FALL_TESTS = ("window", "slope")
# Metrics a study's primary comparison may name: each is one number per arm and seed.
BETWEEN_ARM_METRICS = ("final_transfer", "final_source")

Curve = Dict[int, float]  # epoch -> accuracy (%)


@dataclass(frozen=True)
class AnalysisPlan:
    """What a study tests, declared before its seeds run (``ANALYSIS`` of the study config).

    Attributes:
        primary_arm, primary_reference, primary_metric: the primary comparison, judged at
            ``alpha`` on its own; no arm: every judged line is exploratory.
        final_checkpoints: K, the probed checkpoints averaged into ``final_transfer`` (the late window).
        early_window: (from, to) fractions of an arm's epochs, both ends included.
        late_fall_test: "window" or "slope".
        slope_window: (from, to) fractions of an arm's epochs for the slope.
        alpha: the level of every test; exploratory lines are Holm-adjusted over the study's family.
        comparisons: (arm, reference) pairs judged on ``final_transfer`` besides every arm against the
            reference arm (exploratory).
        registered: the plan came from the study's config when its seeds ran (False: chosen after
            the data were seen; the analysis is post hoc).
    """

    primary_arm: str = ""
    primary_reference: str = ""
    primary_metric: str = "final_transfer"
    final_checkpoints: int = 3
    early_window: Tuple[float, float] = (0.25, 0.5)
    late_fall_test: str = "window"
    slope_window: Tuple[float, float] = (0.5, 1.0)
    alpha: float = 0.05
    comparisons: Tuple[Tuple[str, str], ...] = ()
    registered: bool = False

    @classmethod
    def from_config(cls, node) -> "AnalysisPlan":
        """The plan of a study config's ``ANALYSIS`` node (registered: the study declares it)."""
        return cls(
            primary_arm=str(node.PRIMARY.ARM),
            primary_reference=str(node.PRIMARY.REFERENCE),
            primary_metric=str(node.PRIMARY.METRIC),
            final_checkpoints=int(node.FINAL_CHECKPOINTS),
            early_window=tuple(float(x) for x in node.EARLY_WINDOW),
            late_fall_test=str(node.LATE_FALL_TEST),
            slope_window=tuple(float(x) for x in node.SLOPE_WINDOW),
            alpha=float(node.ALPHA),
            comparisons=tuple((str(a), str(b)) for a, b in node.COMPARISONS),
            registered=True,
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "AnalysisPlan":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key in ("early_window", "slope_window"):
            if key in known:
                known[key] = tuple(float(x) for x in known[key])
        if "comparisons" in known:
            known["comparisons"] = tuple((str(a), str(b)) for a, b in known["comparisons"])
        return cls(**known)

    def to_dict(self) -> Dict[str, Any]:
        values = asdict(self)
        values["early_window"], values["slope_window"] = list(self.early_window), list(self.slope_window)
        values["comparisons"] = [list(pair) for pair in self.comparisons]
        return values


def epochs_in(epochs: Sequence[int], total_epochs: int, window: Tuple[float, float]) -> List[int]:
    """The epochs of ``epochs`` inside ``window`` (fractions of ``total_epochs``, ends included)."""
    low, high = window[0] * total_epochs, window[1] * total_epochs
    return [e for e in sorted(epochs) if low - 1e-9 <= e <= high + 1e-9]


def late_epochs(probed: Sequence[int], final_checkpoints: int) -> List[int]:
    """The late window: the last ``final_checkpoints`` probed epochs."""
    return sorted(probed)[-final_checkpoints:]


def final_transfer(curve: Curve, plan: AnalysisPlan) -> Optional[float]:
    """Mean transfer over the last K probed checkpoints (None for a curve with fewer)."""
    epochs = late_epochs(curve, plan.final_checkpoints)
    if len(epochs) < plan.final_checkpoints:
        return None
    return statistics.fmean(curve[e] for e in epochs)


def late_fall(curve: Curve, total_epochs: int, plan: AnalysisPlan) -> Optional[float]:
    """The fall of one seed's transfer curve by the plan's test (None when a window is empty)."""
    if plan.late_fall_test == "slope":
        epochs = epochs_in(curve, total_epochs, plan.slope_window)
        if len(epochs) < 3:
            return None
        return -10.0 * least_squares_slope(epochs, [curve[e] for e in epochs])
    late = late_epochs(curve, plan.final_checkpoints)
    early = [e for e in epochs_in(curve, total_epochs, plan.early_window) if e < late[0]] if late else []
    if not early or len(late) < plan.final_checkpoints:
        return None
    return statistics.fmean(curve[e] for e in early) - statistics.fmean(curve[e] for e in late)


def source_rise(source: Curve, probed: Sequence[int], total_epochs: int, plan: AnalysisPlan) -> Optional[float]:
    """Source top-1 over the late window minus over the early window (None: not evaluated in one)."""
    late_from = late_epochs(probed, plan.final_checkpoints)
    if not late_from:
        return None
    late = [e for e in source if e >= late_from[0]]
    early = [e for e in epochs_in(source, total_epochs, plan.early_window) if e < late_from[0]]
    if not late or not early:
        return None
    return statistics.fmean(source[e] for e in late) - statistics.fmean(source[e] for e in early)


def least_squares_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The ordinary least-squares slope of ``y`` on ``x``."""
    mx, my = statistics.fmean(x), statistics.fmean(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)


def window_description(epochs: Sequence[int], total_epochs: int, plan: AnalysisPlan) -> Dict[str, List[int]]:
    """The epochs each window of the plan takes from ``epochs`` (the probed ones), for the report."""
    late = late_epochs(epochs, plan.final_checkpoints)
    early = [e for e in epochs_in(epochs, total_epochs, plan.early_window) if not late or e < late[0]]
    return {"early": early, "late": late, "slope": epochs_in(epochs, total_epochs, plan.slope_window)}
