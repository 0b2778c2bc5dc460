"""Converters of torchvision-style ResNet weights (ours, torchvision's, MoCo's) to Detectron2 and timm.

Importing this package needs torch alone; timm is imported inside the timm functions, and
the Detectron2 verification lives with the Detectron2 bridge (``ctc_plugin.detection.verify``).
"""

from .detectron2 import convert_to_detectron2, detectron2_checkpoint, detectron2_name, save_detectron2_pickle
from .source import describe_arch, infer_resnet_arch, load_resnet_state_dict
from .verify import TOLERANCES, check_differences, relative_difference

__all__ = [
    "TOLERANCES",
    "check_differences",
    "convert_to_detectron2",
    "describe_arch",
    "detectron2_checkpoint",
    "detectron2_name",
    "infer_resnet_arch",
    "load_resnet_state_dict",
    "relative_difference",
    "save_detectron2_pickle",
]
