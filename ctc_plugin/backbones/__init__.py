from .build import Backbone, backbone_record, build_backbone, build_cifar_resnext, build_from_record, build_resnet
from .resnet import BLOCKS, STEMS, ResNet
from .resnext import RESNEXT_VARIANTS, CifarResNeXt
from .weights import load_backbone_weights

__all__ = [
    "BLOCKS",
    "RESNEXT_VARIANTS",
    "CifarResNeXt",
    "STEMS",
    "Backbone",
    "ResNet",
    "backbone_record",
    "build_backbone",
    "build_cifar_resnext",
    "build_from_record",
    "build_resnet",
    "load_backbone_weights",
]
