"""The training engine: Detectron2's, with CTC's hooks. Importing this imports Detectron2."""

from .checkpointer import AtomicCheckpointer
from .hooks import CTCStageHook, EpochCheckpointer
from .setup import default_setup
from .trainer import CTCTrainer

__all__ = ["AtomicCheckpointer", "CTCStageHook", "CTCTrainer", "EpochCheckpointer", "default_setup"]
