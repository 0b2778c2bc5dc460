"""The timm classifier to fine-tune, initialised from any accepted weights (bridges to timm).

``MODEL.WEIGHTS`` may be any file that carries its network's record (a timm file ``ctc-convert``
wrote, a pretraining or fine-tuning checkpoint) of a network with a timm converter (torchvision-style
ResNets, any timm CNN, a family that registers its own), a plain ImageNet torchvision ResNet, a
foreign state_dict of timm ``MODEL.NAME`` (checked strictly against ``timm.create_model(MODEL.NAME)``),
or a sub-network of another method's (``MODEL.WEIGHTS_PREFIX``): all are read by ``read_source``,
converted by the converter registered for their network, and enter timm through its own pretrained
loader, so baseline and CTC runs differ in one flag and are initialised the same way.
"""

import logging
from typing import Dict, Sequence

import torch
from torch import nn
from torch.nn import functional

from ..convert.registry import convert
from ..convert.source import read_source
from ..convert.timm import TimmWeights, classifier_key, create_timm_model
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


def read_fgvc_weights(name: str, weights: str, prefix: str = "") -> TimmWeights:
    """The weights of ``weights`` under timm's names, checked to be timm ``name``'s architecture.

    A file without a record is taken for a torchvision-style ResNet when its keys are one's, else for
    timm ``name``'s own state_dict, which must then fit ``timm.create_model(name)`` key for key.

    Raises:
        UserError: unreadable weights, a network with no timm converter (e.g. a CIFAR-stem ResNet),
            or another architecture than ``name``.
    """
    source = read_source(weights, prefix, label="MODEL.WEIGHTS", timm_name=name)
    converted = convert(source, "timm")
    if name.split(".", 1)[0] != converted.name:
        raise UserError(
            f"MODEL.WEIGHTS {weights} holds a {source.describe()}: set MODEL.NAME {converted.name}, not {name}"
        )
    return converted


def build_fgvc_model(name: str, num_classes: int, weights: str = "", prefix: str = "") -> nn.Module:
    """``timm.create_model(name, num_classes=...)`` initialised from ``weights`` ("" for timm's random init).

    The head is new unless the weights' head has exactly ``num_classes`` outputs.
    """
    import timm

    if not weights:
        logger.warning(f"MODEL.WEIGHTS is empty: fine-tuning {name} from random initialisation")
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    converted = read_fgvc_weights(name, weights, prefix)
    head = converted.state_dict.get(classifier_key(converted.name))
    source_classes = int(head.shape[0]) if head is not None else None
    model = create_timm_model(name, num_classes, converted.state_dict, source_classes)
    kept = "kept" if source_classes == num_classes else f"new ({num_classes} classes)"
    logger.info(f"Initialised timm {name} from {weights}; head {kept}")
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
