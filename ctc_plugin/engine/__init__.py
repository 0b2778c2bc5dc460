"""The training engine: Detectron2's, counted in epochs. Importing this imports Detectron2."""

from .checkpointer import AtomicCheckpointer, AtomicCheckpointMixin, EpochCheckpointer, IterationCheckpointer
from .evaluation import classification_accuracy
from .preemption import PreemptionHook
from .pretrain import CTCTrainer
from .setup import default_setup
from .stages import CTCStageHook
from .trainer import EpochTrainer, Plan
from .user_errors import quiet_user_errors_in_training_loop

__all__ = [
    "AtomicCheckpointMixin",
    "AtomicCheckpointer",
    "CTCStageHook",
    "CTCTrainer",
    "EpochCheckpointer",
    "EpochTrainer",
    "IterationCheckpointer",
    "Plan",
    "PreemptionHook",
    "classification_accuracy",
    "default_setup",
    "quiet_user_errors_in_training_loop",
]
