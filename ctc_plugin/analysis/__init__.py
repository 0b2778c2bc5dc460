"""The paper's analyses: the MINE information plane and temporal transferability.

``ctc-estimate-mi`` and ``ctc-temporal-transfer`` are built from these pieces; the
temporal-transfer hook (``ctc_plugin.analysis.hook``, the one module here that imports
Detectron2) runs the same probe during pretraining. Nothing else here imports Detectron2 or
timm, and matplotlib is imported only when a plot is drawn.
"""

from .linear_probe import ProbeSchedule, extract_features, probe_accuracy, train_linear_probe
from .mine import estimate_mutual_information
from .plots import plot_information_plane, plot_temporal_transfer
from .runs import load_backbone, load_run_config, select_epochs
from .sweep import Sweep

__all__ = [
    "ProbeSchedule",
    "Sweep",
    "estimate_mutual_information",
    "extract_features",
    "load_backbone",
    "load_run_config",
    "plot_information_plane",
    "plot_temporal_transfer",
    "probe_accuracy",
    "select_epochs",
    "train_linear_probe",
]
