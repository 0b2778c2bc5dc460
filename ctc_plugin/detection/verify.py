"""``--to detectron2`` verified: Detectron2's backbone built from the converted arrays computes the source's stages."""

import logging
from typing import Dict, Mapping

import numpy as np
import torch

from ..convert.source import Arch
from ..convert.verify import check_differences, relative_difference, source_network
from ..utils.errors import UserError
from .backbone import build_ctc_resnet

logger = logging.getLogger(__name__)

# Detectron2 stage name -> torchvision layer whose output it must equal.
STAGE_PAIRS = {"res2": "layer1", "res3": "layer2", "res4": "layer3", "res5": "layer4"}


@torch.no_grad()
def verify_detectron2(
    state_dict: Mapping[str, torch.Tensor],
    arch: Arch,
    converted: Mapping[str, np.ndarray],
    image_size: int = 64,
    batch_size: int = 2,
    seed: int = 0,
) -> Dict[str, float]:
    """Run the source network and Detectron2's backbone built from ``converted`` on one random input.

    The Detectron2 side is ``build_ctc_resnet`` (Detectron2's own blocks, torchvision's layout;
    a CIFAR stem at stride 1, exactly the pretraining network), loaded strictly; both run in
    eval mode, so the BatchNorm statistics take part.

    Returns:
        ``{"res2": rel, ..., "res5": rel}``: the largest relative difference of each stage.

    Raises:
        UserError: the arrays do not fit the backbone, or a stage differs beyond the tolerance.
    """
    images = torch.randn(batch_size, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    network = source_network(state_dict, arch)
    x = network.maxpool(network.relu(network.bn1(network.conv1(images))))
    reference = {}
    for layer in STAGE_PAIRS.values():
        x = reference[layer] = getattr(network, layer)(x)
    backbone = build_ctc_resnet(arch["depth"], arch["stem"], norm="BN", cifar_stem_stride=1)
    result = backbone.load_state_dict({key: torch.as_tensor(value) for key, value in converted.items()}, strict=False)
    missing = [key for key in result.missing_keys if not key.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise UserError(f"converted weights lack {missing[:4]}, have extra {result.unexpected_keys[:4]}")
    outputs = backbone.eval()(images)
    differences = {stage: relative_difference(reference[layer], outputs[stage]) for stage, layer in STAGE_PAIRS.items()}
    logger.info(f"Detectron2 vs torchvision relative differences: {differences}")
    check_differences(differences, "detectron2")
    return differences
