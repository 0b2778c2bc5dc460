"""A ``DetectionCheckpointer`` that also reads raw pretraining and torchvision checkpoints."""

from typing import Any, Dict

from detectron2.checkpoint import DetectionCheckpointer

from ..convert.detectron2 import AUTHOR, convert_to_detectron2, summarize_dropped
from ..engine.checkpointer import AtomicCheckpointMixin
from .weights import inspect_weights


class CTCDetectionCheckpointer(AtomicCheckpointMixin, DetectionCheckpointer):
    """``DetectionCheckpointer`` that converts a raw ResNet checkpoint when it loads one.

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
            if info.raw_state_dict is not None:
                model, _, dropped = convert_to_detectron2(info.raw_state_dict)
                self.logger.info(
                    f"Converted {len(model)} tensors of {filename} to Detectron2's names; "
                    f"dropped {summarize_dropped(dropped)}"
                )
                return {
                    "model": model,
                    "__author__": f"{AUTHOR} (converted on the fly from {filename})",
                    "matching_heuristics": True,
                }
        return super()._load_file(filename)
