"""The training engine: Detectron2's, with CTC's hooks. Importing this imports Detectron2."""

from .checkpointer import AtomicCheckpointer
from .hooks import CTCStageHook, EpochCheckpointer
from .setup import default_setup
from .temporal_transfer_hook import TemporalTransferHook
from .trainer import CTCTrainer

__all__ = [
    "AtomicCheckpointer",
    "CTCStageHook",
    "CTCTrainer",
    "EpochCheckpointer",
    "TemporalTransferHook",
    "default_setup",
]
