from .build import (
    Backbone,
    backbone_record,
    build_backbone,
    build_cifar_resnext,
    build_from_record,
    build_resnet,
    build_timm_backbone,
    check_takes_images,
)
from .resnet import BLOCKS, STEMS, ResNet
from .resnext import RESNEXT_VARIANTS, CifarResNeXt
from .timm_net import TimmBackbone
from .weights import classifier_name, initialise_from, load_backbone_weights, without_unfit_head

__all__ = [
    "BLOCKS",
    "RESNEXT_VARIANTS",
    "CifarResNeXt",
    "STEMS",
    "TimmBackbone",
    "Backbone",
    "ResNet",
    "backbone_record",
    "build_backbone",
    "build_cifar_resnext",
    "build_from_record",
    "build_resnet",
    "build_timm_backbone",
    "check_takes_images",
    "classifier_name",
    "initialise_from",
    "load_backbone_weights",
    "without_unfit_head",
]
