"""Markdown of a study's report: tables, numbers and names as the report writes them."""

import math
from typing import Any, Dict, List, Optional, Sequence

from .judge import RANDOM
from .summary import format_mean_sd

RANDOM_NAME = "random initialisation"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return "n/a" if value is None else str(value)


def p_text(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def init_name(init: str) -> str:
    return RANDOM_NAME if init == RANDOM else f"{init} weights"


def epochs_text(epochs: Sequence[int]) -> str:
    return ", ".join(map(str, epochs)) if epochs else "none"


def epoch_table(curves: Dict[str, Dict[int, List[float]]], runs: Sequence[str]) -> List[str]:
    epochs = sorted({e for curve in curves.values() for e in curve})
    rows = [[e] + [format_mean_sd(curves.get(run, {}).get(e, [])) for run in runs] for e in epochs]
    return table(["epoch"] + list(runs), rows)
