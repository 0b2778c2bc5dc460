"""The classifier of ``loss_cls``: the backbone's own ``fc``, or a registered head in its place."""

from typing import Optional

import torch
from torch import nn

from ..registry import CLASSIFIER_HEAD_REGISTRY
from ..utils.errors import UserError


@CLASSIFIER_HEAD_REGISTRY.register()
def build_linear_head(cfg, backbone: nn.Module) -> None:
    """The backbone's own ``fc`` classifies (the default: the paper's and the baseline's); no head of CTC's."""
    return None


def build_classifier_head(cfg, backbone: nn.Module) -> Optional[nn.Module]:
    """The head ``cfg.CTC.CLASSIFIER_HEAD`` names in ``CLASSIFIER_HEAD_REGISTRY`` (None: the backbone's ``fc``).

    Raises:
        UserError: the name is not registered, or its builder returned something that is not a module.
    """
    name = cfg.CTC.CLASSIFIER_HEAD
    if name not in CLASSIFIER_HEAD_REGISTRY:
        known = ", ".join(sorted(n for n, _ in CLASSIFIER_HEAD_REGISTRY))
        raise UserError(f"CTC.CLASSIFIER_HEAD: no head {name!r} is registered; registered: {known}")
    head = CLASSIFIER_HEAD_REGISTRY.get(name)(cfg, backbone)
    if head is not None and not isinstance(head, nn.Module):
        raise UserError(f"CTC.CLASSIFIER_HEAD: {name} must build an nn.Module or None, got {head!r}")
    return head


class HeadOnFeatures(nn.Module):
    """Images -> ``head(backbone.forward_pre_logits(images))``: the network a head classifies with.

    Evaluation runs it as it runs a backbone (``forward(images) -> logits``); it holds no
    parameters of its own.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.training = backbone.training  # the mode evaluation restores

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_pre_logits(images))
