"""Converters of pretrained networks (ours, by their backbone record; torchvision's and MoCo's ResNets) to hosts.

Converters and their verifiers are registered per (backbone builder, target): ``register_converter``
(and ``register_verifier`` for a verifier that needs its host's library); ``write_converted`` writes
a host's file and moves it into place only once it is verified by computation.

Importing this package needs torch alone; timm is imported inside the timm functions, and
the Detectron2 verifiers live with the Detectron2 bridge (``ctc_plugin.detection.verify``).
"""

from .detectron2 import (
    Detectron2Weights,
    convert_to_detectron2,
    detectron2_checkpoint,
    detectron2_name,
    save_detectron2_pickle,
)
from .registry import CONVERSIONS, Conversion, convert, register_converter, register_verifier, targets, verify
from .source import SourceWeights, describe_arch, infer_resnet_arch, load_resnet_state_dict, read_source
from .timm import TimmWeights, verify_timm_weights
from .verify import TOLERANCES, check_differences, relative_difference
from .write import write_converted

__all__ = [
    "CONVERSIONS",
    "Conversion",
    "Detectron2Weights",
    "SourceWeights",
    "TimmWeights",
    "convert",
    "read_source",
    "register_converter",
    "register_verifier",
    "targets",
    "verify",
    "verify_timm_weights",
    "write_converted",
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
