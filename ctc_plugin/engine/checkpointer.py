"""fvcore's Checkpointer, writing atomically, with the ResNet's own keys under "model".

A checkpoint holds ``"model"``: the backbone's torchvision-keyed state_dict, ``"arch"``:
``{"depth", "stem", "num_classes"}``, ``"epoch"``, and what resume needs (``"ctc"``:
heads, memories, Z and information bank; ``"trainer"``: iteration, optimizer and hooks).
It contains only tensors and plain containers, so it loads with ``weights_only=True``.
"""

from typing import Any, Dict

from fvcore.common.checkpoint import Checkpointer

from ..utils.errors import UserError
from ..utils.io import load_checkpoint
from ..utils.resume import AtomicCheckpointMixin, checkpoint_candidates, find_resume_checkpoint

__all__ = ["AtomicCheckpointer", "MethodState", "check_arch", "checkpoint_candidates", "find_resume_checkpoint"]


def check_arch(path: str, checkpoint: Dict[str, Any], arch: Dict[str, Any]) -> None:
    """Raise ``UserError`` when ``checkpoint["arch"]`` is not ``arch`` (the network being resumed)."""
    saved = checkpoint.get("arch")
    if not isinstance(saved, dict):
        return
    different = [key for key in ("depth", "stem", "num_classes") if key in saved and saved[key] != arch.get(key)]
    if different:
        found = ", ".join(f"{key}={saved[key]!r}" for key in different)
        wanted = ", ".join(f"{key}={arch.get(key)!r}" for key in different)
        raise UserError(f"cannot resume from {path}: it holds a ResNet with {found} but the config builds {wanted}")


class MethodState:
    """Adapts ``CTC.method_state_dict`` to the checkpointable protocol."""

    def __init__(self, ctc) -> None:
        self.ctc = ctc

    def state_dict(self) -> Dict[str, Any]:
        return self.ctc.method_state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.ctc.load_method_state_dict(state)


class AtomicCheckpointer(AtomicCheckpointMixin, Checkpointer):
    """Atomic files that also carry the backbone's ``"arch"``; loads use ``weights_only``."""

    def extra_state(self) -> Dict[str, Any]:
        return {"arch": self.model.arch} if hasattr(self.model, "arch") else {}

    def _load_file(self, f: str) -> Dict[str, Any]:
        checkpoint = load_checkpoint(f)
        if hasattr(self.model, "arch"):
            check_arch(f, checkpoint, self.model.arch)
        return checkpoint

    def _load_model(self, checkpoint: Any):
        # Resume feeds the exact same network back: anything but a perfect match is an error.
        self.model.load_state_dict(checkpoint.pop("model"), strict=True)
        return None
