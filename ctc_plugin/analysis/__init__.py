"""The paper's analyses: the MINE information plane and temporal transferability.

``tools/estimate_mi.py`` and ``tools/temporal_transfer.py`` are built from these pieces;
the temporal-transfer hook (``ctc_plugin.engine.temporal_transfer_hook``) runs the same
probe during pretraining. Nothing here imports Detectron2 or timm, and matplotlib is
imported only when a plot is drawn.
"""

from .checkpoints import Checkpoint, list_checkpoints, load_backbone, load_run_config, select_epochs
from .config import add_temporal_transfer_config
from .linear_probe import ProbeSchedule, extract_features, probe_accuracy, train_linear_probe
from .mine import estimate_mutual_information
from .plots import plot_information_plane, plot_temporal_transfer

__all__ = [
    "Checkpoint",
    "ProbeSchedule",
    "add_temporal_transfer_config",
    "estimate_mutual_information",
    "extract_features",
    "list_checkpoints",
    "load_backbone",
    "load_run_config",
    "plot_information_plane",
    "plot_temporal_transfer",
    "probe_accuracy",
    "select_epochs",
    "train_linear_probe",
]
