"""Converters of pretrained networks (ours, by their backbone record; torchvision's and MoCo's ResNets) to hosts.

Converters are registered per (backbone builder, target): ``register_converter``.

Importing this package needs torch alone; timm is imported inside the timm functions, and
the Detectron2 verification lives with the Detectron2 bridge (``ctc_plugin.detection.verify``).
"""

from .detectron2 import (
    Detectron2Weights,
    convert_to_detectron2,
    detectron2_checkpoint,
    detectron2_name,
    save_detectron2_pickle,
)
from .registry import CONVERTERS, convert, register_converter
from .source import SourceWeights, describe_arch, infer_resnet_arch, load_resnet_state_dict, read_source
from .timm import TimmWeights
from .verify import TOLERANCES, check_differences, relative_difference

__all__ = [
    "CONVERTERS",
    "Detectron2Weights",
    "SourceWeights",
    "TimmWeights",
    "convert",
    "read_source",
    "register_converter",
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
