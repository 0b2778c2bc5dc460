"""CTC (contrastive temporal coding, ECCV 2022, arXiv 2203.03871) as a Detectron2-style plugin.

Importing the package registers its backbones, datasets, loss terms, classifier heads and every
owner's config keys (``CONFIG_REGISTRY``: the terms', the heads', the builders', the
temporal-transfer probe's); with Detectron2 installed it also registers the temporal-transfer
hook (``HOOK_REGISTRY``) and the CTC ResNet-FPN backbone (Detectron2's ``BACKBONE_REGISTRY``).
Everything but those two imports torch (with torchvision and fvcore) alone.
"""

import importlib.util
import warnings

__version__ = "0.2.0"

from . import backbones as _backbones  # noqa: E402, F401  (only registration)
from . import data as _data  # noqa: E402, F401  (only registration)
from . import modeling as _modeling  # noqa: E402, F401  (only registration)
from .analysis import config as _analysis_config  # noqa: E402, F401  (only registration: TEMPORAL_TRANSFER)
from .registry import (  # noqa: E402
    BACKBONE_REGISTRY,
    CLASSIFIER_HEAD_REGISTRY,
    CONFIG_REGISTRY,
    DATASET_REGISTRY,
    HOOK_REGISTRY,
    LOSS_TERM_REGISTRY,
    STUDY_TASK_REGISTRY,
)

if importlib.util.find_spec("detectron2") is not None:
    with warnings.catch_warnings():
        # fvcore.nn, imported by Detectron2's layers, calls torch.jit.script at import time: keep
        # its deprecation notice off the stderr of every tool, which carries one-line errors.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
        from . import detection as _detection  # noqa: F401  (registers build_ctc_resnet_fpn_backbone)
        from .analysis import hook as _hook  # noqa: F401  (registers TemporalTransferHook)

__all__ = [
    "BACKBONE_REGISTRY",
    "CLASSIFIER_HEAD_REGISTRY",
    "CONFIG_REGISTRY",
    "DATASET_REGISTRY",
    "HOOK_REGISTRY",
    "LOSS_TERM_REGISTRY",
    "STUDY_TASK_REGISTRY",
    "__version__",
]
