"""The timm classifier to fine-tune, initialised from any accepted weights (bridges to timm).

``MODEL.WEIGHTS`` may be a converted timm file, a raw pretraining checkpoint or a plain
ImageNet torchvision / timm ResNet checkpoint, or a sub-network of another method's
(``MODEL.WEIGHTS_PREFIX``): all are read by ``load_resnet_state_dict`` and enter timm
through its own pretrained loader, so baseline and CTC runs differ in one flag and are
initialised the same way.
"""

import logging
from typing import Dict, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional

from ..convert.source import Arch, describe_arch, load_resnet_state_dict
from ..convert.timm import create_timm_resnet, timm_model_name, to_timm_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


def read_fgvc_weights(name: str, weights: str, prefix: str = "") -> Tuple[Dict[str, torch.Tensor], Arch]:
    """The torchvision-keyed weights of ``weights`` and their arch, checked to fit timm's ``name``.

    Raises:
        UserError: unreadable weights, not a ResNet, a CIFAR stem, or another depth than ``name``.
    """
    state_dict, arch = load_resnet_state_dict(weights, prefix, label="MODEL.WEIGHTS")
    expected = timm_model_name(arch)
    if name.split(".", 1)[0] != expected:
        raise UserError(f"MODEL.WEIGHTS {weights} holds a {describe_arch(arch)}: set MODEL.NAME {expected}, not {name}")
    return state_dict, arch


def build_fgvc_model(name: str, num_classes: int, weights: str = "", prefix: str = "") -> nn.Module:
    """``timm.create_model(name, num_classes=...)`` initialised from ``weights`` ("" for timm's random init).

    The head is new unless the weights' head has exactly ``num_classes`` outputs.
    """
    import timm

    if not weights:
        logger.warning(f"MODEL.WEIGHTS is empty: fine-tuning {name} from random initialisation")
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    state_dict, arch = read_fgvc_weights(name, weights, prefix)
    model = create_timm_resnet(name, num_classes, to_timm_state_dict(state_dict, arch), arch.get("num_classes"))
    head = "kept" if arch.get("num_classes") == num_classes else f"new ({num_classes} classes)"
    logger.info(f"Initialised timm {name} from {weights} ({describe_arch(arch)}); head {head}")
    return model


class ClassifierWithLoss(nn.Module):
    """What Detectron2's trainers call: a batch in, ``{"loss_cls": cross-entropy}`` out.

    Args:
        backbone: the classifier, (B, 3, H, W) images to (B, C) logits.
        channels_last: feed it channels_last images.
    """

    def __init__(self, backbone: nn.Module, channels_last: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.channels_last = channels_last

    def forward(self, batch: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        images, labels = batch[0], batch[1]
        device = next(self.backbone.parameters()).device
        images = images.to(device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        logits = self.backbone(images)
        return {"loss_cls": functional.cross_entropy(logits, labels.to(device, non_blocking=True))}
