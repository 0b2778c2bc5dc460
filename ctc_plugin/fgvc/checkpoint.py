"""Fine-tuning checkpoints: written atomically each epoch, read back by ``--resume``."""

import logging
import os
from typing import Any, Dict, Optional

from ..utils.errors import UserError
from ..utils.io import atomic_torch_save, load_checkpoint

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

    Raises:
        UserError: the file exists but is not a fine-tuning checkpoint.
    """
    path = os.path.join(output_dir, LAST_CHECKPOINT)
    if not os.path.isfile(path):
        return None
    try:
        state = load_checkpoint(path)
    except Exception as e:  # truncated or foreign file
        raise UserError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise UserError(f"{path} is not a fine-tuning checkpoint: it lacks {', '.join(missing)}")
    return state
