from .build import Backbone, backbone_record, build_backbone, build_from_record, build_resnet
from .resnet import BLOCKS, STEMS, ResNet
from .weights import load_backbone_weights

__all__ = [
    "BLOCKS",
    "STEMS",
    "Backbone",
    "ResNet",
    "backbone_record",
    "build_backbone",
    "build_from_record",
    "build_resnet",
    "load_backbone_weights",
]
