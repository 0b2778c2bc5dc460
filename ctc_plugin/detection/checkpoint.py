"""A ``DetectionCheckpointer`` that also reads raw pretraining and torchvision checkpoints (weights load only here)."""

from typing import Any, Dict

from detectron2.checkpoint import DetectionCheckpointer

from ..convert.detectron2 import AUTHOR, summarize_dropped
from ..convert.registry import convert
from ..engine.checkpointer import AtomicCheckpointMixin
from .weights import inspect_weights


class CTCDetectionCheckpointer(AtomicCheckpointMixin, DetectionCheckpointer):
    """``DetectionCheckpointer`` that converts a raw checkpoint (a network with a converter) when it loads one.

    Saving is Detectron2's, but each file is written to a temporary name and renamed, and
    resume takes the newest checkpoint that can be read (``find_resume_checkpoint``).
    Detectron2 checkpoints and converted ``.pkl`` files load exactly as before. A raw
    file (our pretraining checkpoint, a torchvision or DDP state_dict) is converted in
    memory, so Detectron2's own load report ("not found in the checkpoint") is true.

    Args:
        model, save_dir, checkpointables: as for ``DetectionCheckpointer``.
        weights_prefix: sub-module of raw checkpoints (``MODEL.CTC.WEIGHTS_PREFIX``).
    """

    def __init__(self, model, save_dir: str = "", *, weights_prefix: str = "", **checkpointables: Any) -> None:
        super().__init__(model, save_dir, **checkpointables)
        self.weights_prefix = weights_prefix

    def _load_file(self, filename: str) -> Dict[str, Any]:
        if not filename.endswith((".pkl", ".pyth")):
            info = inspect_weights(filename, self.weights_prefix)
            if info.source is not None:
                weights = convert(info.source, "detectron2")
                checkpoint = dict(weights.checkpoint)
                self.logger.info(
                    f"Converted {len(checkpoint['model'])} tensors of {filename} ({info.source.describe()}) to "
                    f"Detectron2's names; dropped {summarize_dropped(weights.dropped)}"
                )
                checkpoint["__author__"] = f"{AUTHOR} (converted on the fly from {filename})"
                return checkpoint
        return super()._load_file(filename)
