"""Fine-tuning checkpoints: written atomically each epoch, read back by ``--resume``."""

import glob
import logging
import os
from typing import Any, Dict, Optional

from ..utils.errors import UserError
from ..utils.io import atomic_torch_save, describe_load_error, load_checkpoint

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "checkpoint_last.pth"
# Keys a fine-tuning checkpoint holds.
CHECKPOINT_KEYS = ("model", "trainer", "scheduler", "epoch", "iteration")


def epoch_checkpoint_name(epoch: int) -> str:
    return f"checkpoint_epoch{epoch:04d}.pth"


def save_finetune_checkpoint(output_dir: str, state: Dict[str, Any], keep: bool = False) -> str:
    """Write ``state`` to ``checkpoint_last.pth`` (and a numbered copy when ``keep``), atomically.

    Args:
        output_dir: the run's folder.
        state: ``model`` (timm keys), ``trainer`` (iteration, optimizer, grad scaler),
            ``scheduler``, ``epoch`` (completed epochs), ``iteration`` (completed iterations).
        keep: also write ``checkpoint_epoch{epoch}.pth``.

    Returns:
        The path of ``checkpoint_last.pth``.
    """
    last = os.path.join(output_dir, LAST_CHECKPOINT)
    atomic_torch_save(state, last)
    if keep:
        atomic_torch_save(state, os.path.join(output_dir, epoch_checkpoint_name(state["epoch"])))
    logger.info("Saved epoch %d checkpoint to %s", state["epoch"], last)
    return last


def load_last_checkpoint(output_dir: str) -> Optional[Dict[str, Any]]:
    """The state of ``output_dir/checkpoint_last.pth``, or None when there is none yet.

    When that file cannot be read (damaged after the fact: writes are atomic), the newest
    readable ``checkpoint_epoch*.pth`` is taken instead, with a warning.

    Raises:
        UserError: checkpoints exist but none can be read, or the file is not a fine-tuning checkpoint.
    """
    last = os.path.join(output_dir, LAST_CHECKPOINT)
    numbered = sorted(glob.glob(os.path.join(output_dir, "checkpoint_epoch*.pth")), reverse=True)
    candidates = [path for path in [last, *numbered] if os.path.isfile(path)]
    if not candidates:
        return None
    problems = []
    for path in candidates:
        try:
            state = load_checkpoint(path)
        except Exception as e:  # truncated or foreign file
            problems.append(f"{os.path.basename(path)}: {describe_load_error(e)}")
            continue
        missing = [key for key in CHECKPOINT_KEYS if key not in state]
        if missing:
            raise UserError(f"{path} is not a fine-tuning checkpoint: it lacks {', '.join(missing)}")
        if problems:
            logger.warning("Skipped unreadable checkpoints (%s); resuming from %s", "; ".join(problems), path)
        return state
    raise UserError(f"cannot resume: no checkpoint in {output_dir} can be read ({'; '.join(problems)})")


def check_resume_compatible(state: Dict[str, Any], output_dir: str, model_name: str, num_classes: int = 0) -> None:
    """Raise ``UserError`` when a checkpoint was written for another model or number of classes."""
    saved_name = state.get("timm_model")
    if saved_name and saved_name != model_name:
        raise UserError(
            f"cannot resume from {output_dir}: its checkpoint is a {saved_name} but MODEL.NAME is {model_name}"
        )
    saved_classes = state.get("num_classes")
    if num_classes and saved_classes and saved_classes != num_classes:
        raise UserError(
            f"cannot resume from {output_dir}: its checkpoint has {saved_classes} classes "
            f"but the dataset has {num_classes}"
        )
