"""CTC (contrastive temporal coding, ECCV 2022, arXiv 2203.03871) as a Detectron2-style plugin.

Importing the package registers its backbones, datasets and hooks; the Detectron2 bridge
(``build_ctc_resnet_fpn_backbone`` in Detectron2's ``BACKBONE_REGISTRY``) registers
itself when Detectron2 is installed.
"""

import importlib.util

__version__ = "0.1.0"

from . import data as _data  # noqa: E402, F401  (only registration)
from . import fgvc as _fgvc  # noqa: E402, F401  (only registration)
from . import models as _models  # noqa: E402, F401  (only registration)
from .registry import BACKBONE_REGISTRY, DATASET_REGISTRY, HOOK_REGISTRY  # noqa: E402

if importlib.util.find_spec("detectron2") is not None:
    from . import detection as _detection  # noqa: F401  (registers build_ctc_resnet_fpn_backbone)

__all__ = ["BACKBONE_REGISTRY", "DATASET_REGISTRY", "HOOK_REGISTRY", "__version__"]
