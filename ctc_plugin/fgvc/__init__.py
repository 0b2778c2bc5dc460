"""Fine-grained transfer (CUB-200-2011, FGVC-Aircraft, iNaturalist-2018) with timm.

Importing this package needs torch alone and registers the datasets as
``cub200_train``, ``aircraft_test``, ...; the timm and Detectron2 bridges
(``fgvc.model``, ``fgvc.trainer``) are imported by the tool that runs them.
"""

from .aircraft import FGVCAircraft
from .config import get_fgvc_cfg
from .cub import CUB200
from .datasets import FGVC_DATASETS, build_fgvc_dataset, check_fgvc_layout
from .inat import INaturalist2018

__all__ = [
    "CUB200",
    "FGVCAircraft",
    "FGVC_DATASETS",
    "INaturalist2018",
    "build_fgvc_dataset",
    "check_fgvc_layout",
    "get_fgvc_cfg",
]
