"""The files of a training run: their names, their epochs, and which one a resume takes.

Every trainer writes ``OUTPUT_DIR/model_epoch_0007.pth`` after epoch 7 (every
``SOLVER.CHECKPOINT_PERIOD_EPOCHS``), ``model_final.pth`` after the last iteration, and
names the newest in ``last_checkpoint``. Mid-epoch, ``model_iter_0001234.pth`` (after 1234
iterations; ``SOLVER.CHECKPOINT_PERIOD_ITERS`` and preemption) serves resume only: the
analyses list epoch checkpoints. Writes are atomic: an interrupted one leaves a
hidden temporary file that is never a candidate.
"""

import glob
import logging
import os
import re
from dataclasses import dataclass
from typing import List, Optional

from ..utils.errors import UserError
from .weights import UnreadableFileError, load_file

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last_checkpoint"
FINAL_CHECKPOINT = "model_final.pth"
_EPOCH_FILE = re.compile(r"^model_epoch_(\d+)\.pth$")


_ITERATION_FILE = re.compile(r"^model_iter_(\d+)\.pth$")


def intermediate_checkpoints(run_dir: str) -> List[str]:
    """The epoch and mid-epoch checkpoints of a run (every checkpoint but ``model_final.pth``)."""
    if not os.path.isdir(run_dir):
        return []
    names = [n for n in os.listdir(run_dir) if _EPOCH_FILE.match(n) or _ITERATION_FILE.match(n)]
    return [os.path.join(run_dir, name) for name in sorted(names)]


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run: its path and the number of epochs completed."""

    path: str
    epoch: int


def list_checkpoints(run_dir: str) -> List[Checkpoint]:
    """The checkpoints of a run in epoch order.

    ``model_epoch_XXXX.pth`` files give their epoch in the name; ``model_final.pth`` is
    added (its epoch read from the file) only when no epoch file has the same epoch.

    Raises:
        UserError: the folder does not exist or holds no checkpoint.
    """
    if not os.path.isdir(run_dir):
        raise UserError(f"run folder not found: {run_dir}")
    found = {}
    for name in os.listdir(run_dir):
        match = _EPOCH_FILE.match(name)
        if match:
            found[int(match.group(1))] = Checkpoint(os.path.join(run_dir, name), int(match.group(1)))
    final = os.path.join(run_dir, FINAL_CHECKPOINT)
    if os.path.isfile(final):
        checkpoint = load_file(final, mmap=True)
        if "epoch" not in checkpoint:
            raise UserError(f"checkpoint {final} has no 'epoch'")
        found.setdefault(int(checkpoint["epoch"]), Checkpoint(final, int(checkpoint["epoch"])))
    if not found:
        raise UserError(f"no checkpoints (model_epoch_XXXX.pth or {FINAL_CHECKPOINT}) in {run_dir}")
    return [found[epoch] for epoch in sorted(found)]


def resume_candidates(save_dir: str) -> List[str]:
    """Checkpoints of ``save_dir`` to resume from, best first: the one ``last_checkpoint``
    names, then every ``*.pth`` newest first."""
    found = sorted(glob.glob(os.path.join(save_dir, "*.pth")), key=lambda p: (os.path.getmtime(p), p), reverse=True)
    tag = os.path.join(save_dir, LAST_CHECKPOINT)
    named: Optional[str] = None
    if os.path.isfile(tag):
        with open(tag) as f:
            name = f.read().strip()
        named = os.path.join(save_dir, name) if name else None
    return ([named] if named else []) + [path for path in found if path != named]


def find_resume_checkpoint(save_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``save_dir``, or None when it holds none.

    ``last_checkpoint`` is trusted when the file it names loads; when it is missing, stale or
    names an unreadable file, the newest readable ``*.pth`` is taken instead (with a warning).

    Raises:
        UserError: there are checkpoints, but none of them can be read.
    """
    candidates = resume_candidates(save_dir)
    problems = []
    for path in candidates:
        try:
            load_file(path, mmap=True)
        except UnreadableFileError as e:
            problems.append(f"{os.path.basename(path)}: {e.reason}")
            continue
        if problems:
            logger.warning(f"Skipped unreadable checkpoints ({'; '.join(problems)}); resuming from {path}")
        return path
    if problems and any(os.path.isfile(path) for path in candidates):
        raise UserError(f"cannot resume: no checkpoint in {save_dir} can be read ({'; '.join(problems)})")
    return None


# What a run writes beside its checkpoints that a fresh start would append to or mix with.
RUN_RECORDS = ("metrics.json", "results.json")


def previous_run_files(save_dir: str) -> List[str]:
    """The checkpoints a previous run left in ``save_dir`` (``*.pth``, ``last_checkpoint``), sorted; [] when none."""
    if not os.path.isdir(save_dir):
        return []
    found = glob.glob(os.path.join(save_dir, "*.pth")) + glob.glob(os.path.join(save_dir, LAST_CHECKPOINT))
    return sorted(path for path in found if os.path.isfile(path))
