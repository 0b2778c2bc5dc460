"""Converters of torchvision-style ResNet weights (ours, torchvision's, MoCo's) to other libraries.

Importing this package needs torch alone; the Detectron2 check in ``verify`` imports
Detectron2 when it runs.
"""

from .detectron2 import (
    convert_to_detectron2,
    detectron2_checkpoint,
    detectron2_name,
    read_detectron2_pickle,
    save_detectron2_pickle,
    summarize_dropped,
)
from .source import describe_arch, infer_resnet_arch, load_resnet_state_dict
from .verify import TOLERANCE, relative_difference, verify_detectron2

__all__ = [
    "TOLERANCE",
    "convert_to_detectron2",
    "describe_arch",
    "detectron2_checkpoint",
    "detectron2_name",
    "infer_resnet_arch",
    "load_resnet_state_dict",
    "read_detectron2_pickle",
    "relative_difference",
    "save_detectron2_pickle",
    "summarize_dropped",
    "verify_detectron2",
]
