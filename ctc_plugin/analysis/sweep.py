"""The checkpoints of several pretraining runs, measured one by one into a table (both analysis tools)."""

import logging
import os
from typing import Any, Callable, Dict, List, Optional, Sequence

from torch import nn

from ..checkpoint import Checkpoint, list_checkpoints
from ..utils.errors import UserError
from .results import read_table, write_table
from .runs import load_backbone, load_run_config, select_epochs

logger = logging.getLogger(__name__)

Row = Dict[str, Any]


class Sweep:
    """Runs, their configs and the checkpoints to measure, checked before any long work starts.

    Rows of the table are ``{"run", "epoch", **measured, "checkpoint"}``; the table (and
    whatever ``save`` draws from it) is written after every checkpoint, so a long job's
    partial results are usable, and ``resume`` keeps an existing table's rows and skips
    their checkpoints.

    Args:
        runs: pretraining run folders.
        labels: a name for each run (default: the folder names).
        epochs: the epochs to measure (None: all), then every ``every``-th (the last always).
        table_path: the table's file (``.csv`` or ``.json``).
        columns: its columns, in order.
        resume: keep the rows already in ``table_path``.
        list_columns: columns whose cells are lists of numbers (``read_table``).
    """

    def __init__(
        self,
        runs: Sequence[str],
        labels: Sequence[str],
        epochs: Optional[Sequence[int]],
        every: int,
        table_path: str,
        columns: Sequence[str],
        resume: bool = False,
        list_columns: Sequence[str] = (),
    ) -> None:
        if labels and len(labels) != len(runs):
            raise UserError(f"{len(labels)} --label for {len(runs)} --run")
        self.labels = list(labels) or [os.path.basename(os.path.normpath(run)) for run in runs]
        if len(set(self.labels)) != len(self.labels):
            raise UserError(f"run labels must differ, got {self.labels}; name them with --label")
        self.configs = [load_run_config(run) for run in runs]
        self.checkpoints = [select_epochs(list_checkpoints(run), epochs, every) for run in runs]
        self.table_path = table_path
        self.columns = list(columns)
        self.rows: List[Row] = read_table(table_path, list_columns) if resume else []
        for row in self.rows:  # a label that spells a number is still a label
            row["run"] = str(row["run"])

    def stage_boundary(self) -> Optional[int]:
        """The common IAS -> IRS epoch of the runs, when they all have a stage 2."""
        epochs = {cfg.SOLVER.IAS_EPOCHS for cfg in self.configs if cfg.SOLVER.IRS_EPOCHS}
        return epochs.pop() if len(epochs) == 1 else None

    def run(self, measure: Callable[[int, Checkpoint, nn.Module], Row], draw: Callable[[List[Row]], None]) -> List[Row]:
        """``measure(run index, checkpoint, network)`` for every checkpoint not measured yet.

        ``draw(rows)`` is called with the table after every row (to write its plot).

        Raises:
            UserError: nothing was selected to measure.
        """
        done = {(row["run"], int(row["epoch"])) for row in self.rows}
        total = sum(len(checkpoints) for checkpoints in self.checkpoints)
        count = 0
        for index, (label, checkpoints) in enumerate(zip(self.labels, self.checkpoints)):
            for checkpoint in checkpoints:
                count += 1
                if (label, checkpoint.epoch) in done:
                    continue
                network, _ = load_backbone(checkpoint.path)
                measured = measure(index, checkpoint, network)
                shown = ", ".join(f"{key} {value:.4g}" for key, value in measured.items() if isinstance(value, float))
                logger.info(f"[{count}/{total}] {label} epoch {checkpoint.epoch}: {shown}")
                row = {"run": label, "epoch": checkpoint.epoch, **measured}
                self.rows.append({**row, "checkpoint": os.path.abspath(checkpoint.path)})
                self._save(draw)
        if not self.rows:
            raise UserError("nothing to measure")
        self._save(draw)
        return self.rows

    def _save(self, draw: Callable[[List[Row]], None]) -> None:
        order = {label: i for i, label in enumerate(self.labels)}
        self.rows.sort(key=lambda row: (order.get(row["run"], len(order)), row["epoch"]))
        write_table(self.table_path, self.rows, self.columns)
        draw(self.rows)
