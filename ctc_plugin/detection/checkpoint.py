"""A ``DetectionCheckpointer`` that reads each file once, converting raw ones (weights load only here)."""

from typing import Any, Dict

from detectron2.checkpoint import DetectionCheckpointer

from ..engine.checkpointer import AtomicCheckpointMixin
from .weights import read_weights, release_weights


class CTCDetectionCheckpointer(AtomicCheckpointMixin, DetectionCheckpointer):
    """``DetectionCheckpointer`` that converts a raw checkpoint (a network with a converter) when it loads one.

    Saving is Detectron2's, but each file is written to a temporary name and renamed, carries the
    record of the backbone's network (``network_record``, kept by our Detectron2 builders), and
    resume takes the newest checkpoint that can be read (``find_resume_checkpoint``). Detectron2
    checkpoints and converted ``.pkl`` files load exactly as before. A raw file (our pretraining
    checkpoint, a timm file ``ctc-convert`` wrote, a torchvision or DDP state_dict) is converted in
    memory, so Detectron2's own load report ("not found in the checkpoint") is true. Files are read
    through ``read_weights``: the read the builder and the pre-flight made is the one loaded.

    Args:
        model, save_dir, checkpointables: as for ``DetectionCheckpointer``.
        weights_prefix: sub-module of raw checkpoints (``MODEL.CTC.WEIGHTS_PREFIX``).
    """

    def __init__(self, model, save_dir: str = "", *, weights_prefix: str = "", **checkpointables: Any) -> None:
        super().__init__(model, save_dir, **checkpointables)
        self.weights_prefix = weights_prefix

    def extra_state(self) -> Dict[str, Any]:
        records = [getattr(m, "network_record", None) for m in self.model.modules()]
        record = next((r for r in records if r is not None), None)
        return {"backbone": record} if record is not None else {}

    def _load_file(self, filename: str) -> Dict[str, Any]:
        loaded = read_weights(filename, self.weights_prefix, label="checkpoint")
        if loaded is None or loaded.checkpoint is None:
            return super()._load_file(filename)
        release_weights()  # loaded once: the process keeps no copy
        if loaded.checkpoint.get("__author__"):
            self.logger.info(f"Reading a file from '{loaded.checkpoint['__author__']}'")
        return dict(loaded.checkpoint)
