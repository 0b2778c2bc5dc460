"""The CTC ResNet-FPN backbone: a Detectron2 ResNet laid out like torchvision's.

``build_ctc_resnet_fpn_backbone`` (registered in Detectron2's ``BACKBONE_REGISTRY``)
reads the record of the network in ``MODEL.WEIGHTS`` to build the ResNet that matches it (depth,
ImageNet or CIFAR stem; ``choose_resnet``) and runs in a single process when the config asks for
SyncBN. It builds only: ``CTCDetectionCheckpointer`` loads the weights, converting a raw
pretraining checkpoint on the fly.
"""

import logging
import math
from typing import Any, Dict, Optional, Sequence

import numpy as np
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicStem, ResNet

from ..backbones.records import RESNET_BUILDER, TIMM_BUILDER, describe_record, resnet_record
from ..backbones.resnet import BLOCKS
from ..utils.errors import UserError
from .config import TORCHVISION_PIXEL_MEAN, TORCHVISION_PIXEL_STD
from .norm import resolve_norm
from .stem import CifarStem
from .weights import chosen_network, register_network_choice

logger = logging.getLogger(__name__)

RESNET_STAGES = ("res2", "res3", "res4", "res5")


def build_ctc_resnet(
    depth: int,
    stem: str = "imagenet",
    norm: str = "BN",
    cifar_stem_stride: int = 4,
    out_features: Sequence[str] = RESNET_STAGES,
    freeze_at: int = 0,
    in_channels: int = 3,
) -> ResNet:
    """A Detectron2 ``ResNet`` that computes what torchvision's does with the same weights.

    The stride sits in the 3x3 conv of a bottleneck (torchvision's layout, i.e.
    ``STRIDE_IN_1X1: False``) and ResNet-18/34 use 64-channel basic blocks.

    Args:
        depth: 18, 34, 50 or 101.
        stem: "imagenet" or "cifar".
        norm: normalisation of every conv, as for ``detectron2.layers.get_norm``.
        cifar_stem_stride: 1 or 4, see ``CifarStem``.
        out_features: stages to return.
        freeze_at: stages to freeze (0: none, 1: the stem, 2: the stem and res2, ...).
        in_channels: image channels.
    """
    if depth not in BLOCKS:
        raise ValueError(f"ResNet depth must be one of {sorted(BLOCKS)}, got {depth}")
    if stem == "cifar":
        stem_module = CifarStem(in_channels, 64, norm=norm, stride=cifar_stem_stride)
    elif stem == "imagenet":
        stem_module = BasicStem(in_channels, 64, norm=norm)
    else:
        raise ValueError(f"ResNet stem must be 'imagenet' or 'cifar', got {stem!r}")
    # torchvision's layout: the stride in a bottleneck's 3x3 conv (STRIDE_IN_1X1 False).
    stages = ResNet.make_default_stages(depth, norm=norm, **({"stride_in_1x1": False} if depth >= 50 else {}))
    return ResNet(stem_module, stages, out_features=list(out_features), freeze_at=freeze_at)


@BACKBONE_REGISTRY.register()
def build_ctc_resnet_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """ResNet-FPN for torchvision-style (CTC-pretrained) weights.

    Reads ``MODEL.CTC`` (see ``add_ctc_config``), ``MODEL.RESNETS.{DEPTH, NORM,
    OUT_FEATURES}``, ``MODEL.BACKBONE.FREEZE_AT`` and ``MODEL.FPN``. ``RES2_OUT_CHANNELS``
    and ``STRIDE_IN_1X1`` follow from the weights and are not read. The returned backbone keeps
    the record of its ResNet (``network_record``), which its checkpoints carry.
    """
    if cfg.MODEL.CTC.CHECK_TORCHVISION_INPUT:
        check_torchvision_input(cfg)
    record = chosen_network(cfg)
    device = cfg.MODEL.DEVICE
    bottom_up = build_ctc_resnet(
        record["model"]["DEPTH"],
        record["model"]["STEM"],
        norm=resolve_norm(cfg.MODEL.RESNETS.NORM, "MODEL.RESNETS.NORM", device),
        cifar_stem_stride=cfg.MODEL.CTC.CIFAR_STEM_STRIDE,
        out_features=cfg.MODEL.RESNETS.OUT_FEATURES,
        freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT,
        in_channels=input_shape.channels,
    )
    top_block = LastLevelMaxPool()
    # p6 pools the coarsest FPN level: "p5" normally, "p3" for a stride-1 CIFAR stem.
    coarsest = bottom_up.output_shape()[cfg.MODEL.FPN.IN_FEATURES[-1]].stride
    top_block.in_feature = f"p{int(math.log2(coarsest))}"
    backbone = FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=resolve_norm(cfg.MODEL.FPN.NORM, "MODEL.FPN.NORM", device),
        top_block=top_block,
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
    backbone.network_record = record
    return backbone


def check_torchvision_input(cfg) -> None:
    """Refuse input settings that silently cost AP with torchvision-style weights.

    Raises:
        UserError: naming the key and the value it needs.
    """
    wanted = {
        "INPUT.FORMAT": (cfg.INPUT.FORMAT, "RGB"),
        "MODEL.RESNETS.STRIDE_IN_1X1": (cfg.MODEL.RESNETS.STRIDE_IN_1X1, False),
        "MODEL.PIXEL_MEAN": (list(cfg.MODEL.PIXEL_MEAN), TORCHVISION_PIXEL_MEAN),
        "MODEL.PIXEL_STD": (list(cfg.MODEL.PIXEL_STD), TORCHVISION_PIXEL_STD),
    }
    for key, (value, needed) in wanted.items():
        if isinstance(needed, list):
            matches = len(value) == len(needed) and np.allclose(value, needed, atol=1e-3)
        else:
            matches = value == needed
        if not matches:
            raise UserError(
                f"{key} is {value} but torchvision-style weights need {needed} "
                "(set MODEL.CTC.CHECK_TORCHVISION_INPUT False to override)"
            )


@register_network_choice("build_ctc_resnet_fpn_backbone")
def choose_resnet(cfg, record: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The ResNet to build: the one ``MODEL.WEIGHTS`` records (``MODEL.CTC.ARCH_FROM_WEIGHTS``), else
    ``MODEL.RESNETS.DEPTH`` and ``MODEL.CTC.STEM``; its record names the depth and stem alone.

    Raises:
        UserError: the weights hold no ResNet, or another ResNet than the config asks for while the
            config says to keep its own.
    """
    configured = resnet_record(cfg.MODEL.RESNETS.DEPTH, cfg.MODEL.CTC.STEM)
    if record is None:
        return configured
    if record["builder"] != RESNET_BUILDER:
        use = "build_ctc_timm_fpn_backbone" if record["builder"] == TIMM_BUILDER else "the one its family registers"
        raise UserError(
            f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} holds a {describe_record(record)}, not a ResNet: use "
            f"MODEL.BACKBONE.NAME {use}"
        )
    from_weights = resnet_record(record["model"]["DEPTH"], record["model"]["STEM"])
    if from_weights == configured:
        return configured
    if cfg.MODEL.CTC.ARCH_FROM_WEIGHTS:
        logger.warning(
            f"MODEL.WEIGHTS holds a {describe_record(from_weights)}: building that (MODEL.RESNETS.DEPTH "
            f"{cfg.MODEL.RESNETS.DEPTH} and MODEL.CTC.STEM {cfg.MODEL.CTC.STEM} are overridden by "
            "MODEL.CTC.ARCH_FROM_WEIGHTS)"
        )
        return from_weights
    raise UserError(
        f"MODEL.WEIGHTS holds a {describe_record(from_weights)} but the config asks for "
        f"{describe_record(configured)}; set MODEL.RESNETS.DEPTH / MODEL.CTC.STEM to match"
    )
