from .build import (
    Backbone,
    build_backbone,
    build_cifar_resnext,
    build_resnet,
    build_timm_backbone,
    check_takes_images,
)
from .records import (
    RESNET_BUILDER,
    TIMM_BUILDER,
    backbone_record,
    build_from_record,
    describe_record,
    network_differences,
    resnet_record,
    timm_record,
)
from .resnet import BLOCKS, STEMS, ResNet
from .resnext import RESNEXT_VARIANTS, CifarResNeXt
from .timm_net import TimmBackbone
from .weights import classifier_name, initialise_from, load_backbone_weights, without_unfit_head

__all__ = [
    "BLOCKS",
    "RESNET_BUILDER",
    "RESNEXT_VARIANTS",
    "CifarResNeXt",
    "STEMS",
    "TIMM_BUILDER",
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
    "describe_record",
    "initialise_from",
    "load_backbone_weights",
    "network_differences",
    "resnet_record",
    "timm_record",
    "without_unfit_head",
]
