"""Verification by computation: the converted network must compute what the source did."""

import logging
from typing import Dict, Mapping

import numpy as np
import torch

from ..models.resnet import ResNet
from .source import Arch

logger = logging.getLogger(__name__)

# Largest relative difference of a feature map accepted as "the same computation".
TOLERANCE = 1e-4
# Detectron2 stage name -> torchvision layer whose output it must equal.
STAGE_PAIRS = {"res2": "layer1", "res3": "layer2", "res4": "layer3", "res5": "layer4"}


def relative_difference(reference: torch.Tensor, other: torch.Tensor) -> float:
    """``max |reference - other| / max |reference|`` (0 when both are zero)."""
    scale = reference.abs().max().item()
    error = (reference - other).abs().max().item()
    return error / scale if scale > 0 else error


@torch.no_grad()
def torchvision_stage_features(
    state_dict: Mapping[str, torch.Tensor], arch: Arch, images: torch.Tensor
) -> Dict[str, torch.Tensor]:
    """layer1..layer4 outputs of the source network (eval mode), keyed by layer name."""
    network = ResNet(arch["depth"], stem=arch["stem"], num_classes=arch.get("num_classes") or 1000)
    own = network.state_dict()
    # Keep the source's classifier only when it fits: it plays no part in the features.
    weights = {key: value for key, value in state_dict.items() if key in own and own[key].shape == value.shape}
    missing = [key for key in own if key not in weights and not key.startswith("fc.")]
    if missing:
        raise ValueError(f"source weights lack {missing[:4]}")
    network.load_state_dict(weights, strict=False)
    network.eval()
    x = network.maxpool(network.relu(network.bn1(network.conv1(images))))
    features = {}
    for name in STAGE_PAIRS.values():
        x = getattr(network, name)(x)
        features[name] = x
    return features


@torch.no_grad()
def verify_detectron2(
    state_dict: Mapping[str, torch.Tensor],
    arch: Arch,
    converted: Mapping[str, np.ndarray],
    image_size: int = 64,
    batch_size: int = 2,
    seed: int = 0,
) -> Dict[str, float]:
    """Run the source network and Detectron2's backbone built from ``converted`` on one input.

    The Detectron2 side is ``ctc_plugin.detection.build_ctc_resnet`` (Detectron2's own
    blocks, torchvision's layout; a CIFAR stem at stride 1, exactly the pretraining
    network), loaded strictly from the converted arrays.

    Args:
        state_dict: the source's torchvision-keyed weights.
        arch: the source's ``{"depth", "stem", ...}``.
        converted: Detectron2-keyed arrays, as in the ``.pkl``'s ``"model"``.
        image_size: side of the random input images.
        batch_size: number of random images.
        seed: seed of the random input.

    Returns:
        ``{"res2": rel, ..., "res5": rel}``, each the largest relative difference between
        the stage and the matching torchvision layer.
    """
    from ..detection.backbone import build_ctc_resnet  # Detectron2 only when verifying

    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    reference = torchvision_stage_features(state_dict, arch, images)
    backbone = build_ctc_resnet(arch["depth"], arch["stem"], norm="BN", cifar_stem_stride=1)
    result = backbone.load_state_dict({key: torch.as_tensor(value) for key, value in converted.items()}, strict=False)
    missing = [key for key in result.missing_keys if not key.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"converted weights lack {missing[:4]}, have extra {result.unexpected_keys[:4]}")
    backbone.eval()
    outputs = backbone(images)
    differences = {stage: relative_difference(reference[layer], outputs[stage]) for stage, layer in STAGE_PAIRS.items()}
    logger.info("Detectron2 vs torchvision relative differences: %s", differences)
    return differences
