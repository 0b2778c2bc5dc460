"""The backbone contract, and the ResNet, ResNeXt and timm builders (each family's keys beside its builder)."""

from typing import Protocol, runtime_checkable

import torch
from fvcore.common.config import CfgNode as CN
from torch import nn

from ..config import register_config
from ..config.checks import positive
from ..registry import BACKBONE_REGISTRY
from ..utils.errors import UserError, first_line
from .resnet import ResNet
from .resnext import CifarResNeXt
from .timm_net import TimmBackbone


@runtime_checkable
class Backbone(Protocol):
    """What CTC, the trainer and the analyses use of a network (``BACKBONE_REGISTRY``'s contract).

    Attributes:
        num_features: width of the pooled features.
        fc: the classifier, pooled features -> logits; ``forward(x) == fc(forward_pre_logits(x))``.
    """

    num_features: int
    fc: nn.Module

    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, num_features) pooled penultimate features: what timm calls pre-logits
        (``forward_head(forward_features(x), pre_logits=True)``), not timm's unpooled ``forward_features``."""


@BACKBONE_REGISTRY.register()
def build_resnet(cfg) -> nn.Module:
    """torchvision-keyed ResNet from ``MODEL.DEPTH``, ``MODEL.STEM``, ``MODEL.NUM_CLASSES``."""
    return ResNet(cfg.MODEL.DEPTH, stem=cfg.MODEL.STEM, num_classes=cfg.MODEL.NUM_CLASSES)


@register_config(
    rules=(
        positive("MODEL.RESNEXT.CARDINALITY"),
        positive("MODEL.RESNEXT.BASE_WIDTH"),
        positive("MODEL.RESNEXT.WIDEN_FACTOR"),
    )
)
def add_resnext_config(cfg: CN) -> None:
    """``build_cifar_resnext``'s keys: MODEL.RESNEXT (in place)."""
    cfg.MODEL.RESNEXT = CN()
    # build_cifar_resnext (the release's CIFAR ResNeXt): groups of every 3x3 conv, channels per group
    # and the widening factor; resnext32_16x4d is MODEL.DEPTH 32 with 16, 4, 4.
    cfg.MODEL.RESNEXT.CARDINALITY = 16
    cfg.MODEL.RESNEXT.BASE_WIDTH = 4
    cfg.MODEL.RESNEXT.WIDEN_FACTOR = 4


@BACKBONE_REGISTRY.register()
def build_cifar_resnext(cfg) -> nn.Module:
    """The release's CIFAR ResNeXt from ``MODEL.DEPTH`` and ``MODEL.RESNEXT`` (resnext32_16x4d: 32, 16, 4, 4)."""
    resnext = cfg.MODEL.RESNEXT
    return CifarResNeXt(
        resnext.CARDINALITY, cfg.MODEL.DEPTH, resnext.BASE_WIDTH, resnext.WIDEN_FACTOR, cfg.MODEL.NUM_CLASSES
    )


@register_config()
def add_timm_config(cfg: CN) -> None:
    """``build_timm_backbone``'s keys: MODEL.TIMM (in place); the builder checks the name."""
    cfg.MODEL.TIMM = CN()
    # build_timm_backbone: the timm architecture (any timm CNN with forward_features, e.g. "convnext_atto",
    # "resnet50", "efficientnet_b0"); the checkpoint's "model" is that timm network's own state_dict.
    cfg.MODEL.TIMM.NAME = "resnet18"


@BACKBONE_REGISTRY.register()
def build_timm_backbone(cfg) -> nn.Module:
    """Any timm CNN, ``MODEL.TIMM.NAME``, with a ``MODEL.NUM_CLASSES`` classifier; its state_dict is timm's."""
    return TimmBackbone(cfg.MODEL.TIMM.NAME, cfg.MODEL.NUM_CLASSES)


def build_backbone(cfg) -> nn.Module:
    """Build the network named by ``cfg.MODEL.BACKBONE`` and check it keeps the contract.

    Raises:
        UserError: the name is not registered, or the network lacks part of ``Backbone``.
    """
    name = cfg.MODEL.BACKBONE
    if name not in BACKBONE_REGISTRY:
        known = ", ".join(sorted(n for n, _ in BACKBONE_REGISTRY))
        raise UserError(f"MODEL.BACKBONE {name!r} is not registered in BACKBONE_REGISTRY; registered: {known}")
    try:
        network = BACKBONE_REGISTRY.get(name)(cfg)
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # a value the builder refuses
        raise UserError(f"backbone {name} cannot be built from cfg.MODEL: {first_line(e)}") from None
    if not isinstance(network, Backbone) or not isinstance(network.num_features, int):
        lacking = [a for a in ("forward_pre_logits", "fc", "num_features") if not hasattr(network, a)] or [
            "an int num_features"
        ]
        raise UserError(
            f"backbone {name} built a {type(network).__name__} without {', '.join(lacking)}: a backbone needs "
            "forward_pre_logits(images) -> (B, num_features), the classifier fc and num_features"
        )
    return network


def check_takes_images(network: nn.Module, size: int, name: str) -> None:
    """Run the network on two blank ``size`` x ``size`` images, as the contract says it is used.

    Raises:
        UserError: it cannot take images of that size (a ViT's fixed patch grid, a stride larger
            than the image), or its pooled features are not (B, num_features).
    """
    was_training = network.training
    try:
        with torch.no_grad():
            features = network.eval().forward_pre_logits(torch.zeros(2, 3, size, size))
    except (RuntimeError, AssertionError, ValueError) as e:
        raise UserError(f"backbone {name} cannot take {size}x{size} images (INPUT.SIZE): {first_line(e)}") from None
    finally:
        network.train(was_training)
    if tuple(features.shape) != (2, network.num_features):
        raise UserError(
            f"backbone {name}: forward_pre_logits gave {tuple(features.shape)} for 2 images of {size}x{size}, "
            f"not (2, num_features {network.num_features})"
        )
