"""Verification by computation: a converted network must compute what the source did.

Every verifier (registered with its converter, ``convert.registry``) returns its relative
differences and refuses, through ``check_differences``, any above the tolerance of its target.
"""

import logging
from typing import Mapping

import torch
from torch import nn

from ..utils.errors import UserError
from .source import Arch, resnet_source

logger = logging.getLogger(__name__)

# Largest relative difference accepted as "the same computation", per target: Detectron2's
# blocks sum in another order than torchvision's; timm runs the very same modules.
TOLERANCES = {"detectron2": 1e-4, "timm": 1e-5}


def relative_difference(reference: torch.Tensor, other: torch.Tensor) -> float:
    """``max |reference - other| / max |reference|`` (0 when both are zero)."""
    scale = reference.abs().max().item()
    error = (reference - other).abs().max().item()
    return error / scale if scale > 0 else error


def check_differences(differences: Mapping[str, float], target: str) -> None:
    """Raise ``UserError`` naming the worst output when it differs by more than ``TOLERANCES[target]``."""
    worst = max(differences, key=differences.get)
    if not differences[worst] <= TOLERANCES[target]:
        raise UserError(
            f"conversion check failed: {target}'s {worst} differs from the source by {differences[worst]:.3g} "
            f"relative (tolerance {TOLERANCES[target]:g})"
        )


def source_network(state_dict: Mapping[str, torch.Tensor], arch: Arch) -> nn.Module:
    """The source ResNet of torchvision-keyed ``state_dict`` in eval mode, built from its record.

    Its classifier is the source's when it has one, else a placeholder of 1000 classes.
    """
    return resnet_source(state_dict, arch, "the source").network()
