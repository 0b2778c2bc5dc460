"""The timm classifier to fine-tune, initialised from any accepted weights (bridges to timm).

``MODEL.WEIGHTS`` may be a converted timm file, a raw pretraining checkpoint or a plain
ImageNet torchvision / timm ResNet checkpoint: all are read by ``load_resnet_state_dict``
and enter timm through its own pretrained loader, so baseline and CTC runs differ in one
flag and are initialised the same way.
"""

import logging
from typing import Dict, Tuple

import torch
from torch import nn
from torch.nn import functional

from ..convert.source import Arch, describe_arch, load_resnet_state_dict
from ..convert.timm import create_timm_resnet, timm_model_name, to_timm_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


def read_weights(path: str, prefix: str = "") -> Tuple[Dict[str, torch.Tensor], Arch]:
    """torchvision-keyed ResNet weights and their arch from a ``.pth``/``.pkl`` or ``.safetensors`` file."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            tensors = load_file(path)
        except Exception as e:  # truncated, not safetensors (SafetensorError is neither OSError nor RuntimeError)
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise UserError(f"cannot read {path} as safetensors: {first_line}") from None
        return load_resnet_state_dict(tensors, prefix)
    return load_resnet_state_dict(path, prefix)


def check_fgvc_weights(name: str, weights: str, prefix: str = "") -> None:
    """Raise ``UserError`` unless ``weights`` (when given) hold a ResNet timm's ``name`` can take."""
    if not weights:
        return
    _, arch = read_weights(weights, prefix)
    expected = timm_model_name(arch)
    if name.split(".", 1)[0] != expected:
        raise UserError(f"MODEL.WEIGHTS {weights} holds a {describe_arch(arch)}: set MODEL.NAME {expected}, not {name}")


def build_fgvc_model(name: str, num_classes: int, weights: str = "", prefix: str = "") -> nn.Module:
    """``timm.create_model(name, num_classes=...)`` initialised from ``weights``.

    Args:
        name: timm architecture; with weights, the timm ResNet of their depth.
        num_classes: classes of the target dataset; the head is new unless the weights'
            head has exactly this width.
        weights: path of the initial weights, "" for timm's random init.
        prefix: sub-module of the weights that holds the ResNet.

    Raises:
        UserError: unreadable weights, a CIFAR stem, or weights of another depth than ``name``.
    """
    import timm

    if not weights:
        logger.warning("MODEL.WEIGHTS is empty: fine-tuning %s from random initialisation", name)
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    state_dict, arch = read_weights(weights, prefix)
    expected = timm_model_name(arch)
    if name.split(".", 1)[0] != expected:
        raise UserError(f"MODEL.WEIGHTS {weights} holds a {describe_arch(arch)}: set MODEL.NAME {expected}, not {name}")
    model = create_timm_resnet(name, num_classes, to_timm_state_dict(state_dict, arch), arch.get("num_classes"))
    head = "kept" if arch.get("num_classes") == num_classes else f"new ({num_classes} classes)"
    logger.info("Initialised timm %s from %s (%s); head %s", name, weights, describe_arch(arch), head)
    return model


class ClassifierWithLoss(nn.Module):
    """What Detectron2's trainers call: a batch in, ``{"loss_cls": cross-entropy}`` out.

    Args:
        classifier: maps (B, 3, H, W) images to (B, C) logits.
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Tuple[torch.Tensor, ...]) -> Dict[str, torch.Tensor]:
        images, labels = batch[0], batch[1]
        device = next(self.classifier.parameters()).device
        logits = self.classifier(images.to(device, non_blocking=True))
        return {"loss_cls": functional.cross_entropy(logits, labels.to(device, non_blocking=True))}
