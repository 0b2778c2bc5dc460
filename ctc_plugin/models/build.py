"""Backbone builders registered in ``BACKBONE_REGISTRY`` and the thin ``build_backbone``."""

from torch import nn

from ..registry import BACKBONE_REGISTRY
from .resnet import ResNet


@BACKBONE_REGISTRY.register()
def build_resnet(cfg) -> nn.Module:
    """torchvision-keyed ResNet from ``MODEL.DEPTH``, ``MODEL.STEM``, ``MODEL.NUM_CLASSES``."""
    return ResNet(cfg.MODEL.DEPTH, stem=cfg.MODEL.STEM, num_classes=cfg.MODEL.NUM_CLASSES)


def build_backbone(cfg) -> nn.Module:
    """Build the network named by ``cfg.MODEL.BACKBONE`` from ``BACKBONE_REGISTRY``."""
    network = BACKBONE_REGISTRY.get(cfg.MODEL.BACKBONE)(cfg)
    for attribute in ("forward_features", "num_features"):
        if not hasattr(network, attribute):
            raise TypeError(f"backbone {cfg.MODEL.BACKBONE} lacks `{attribute}`")
    return network
