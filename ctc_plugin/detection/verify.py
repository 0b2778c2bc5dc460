"""``--to detectron2`` verified: the Detectron2 bottom-up built from the written pickle computes the source's stages.

The verifiers of the two Detectron2 converters, registered beside them (``register_verifier``), with
the one verifier signature ``(source, converted, path)``. Each reads the pickle as written: a
ResNet's stages are compared with the torchvision ResNet's layers, a timm network's ``features_only``
levels with the source network's own modules (hooks on timm's ``feature_info``).
"""

import logging
from typing import Dict, Mapping

import numpy as np
import torch
from torch import nn

from ..backbones.records import RESNET_BUILDER, TIMM_BUILDER
from ..backbones.weights import initialise_from
from ..checkpoint import load_file
from ..convert.detectron2 import BOTTOM_UP_PREFIX, Detectron2Weights
from ..convert.registry import register_verifier
from ..convert.source import Arch, SourceWeights
from ..convert.verify import check_differences, relative_difference, source_network
from ..utils.errors import UserError
from .backbone import build_ctc_resnet
from .timm_backbone import TimmBottomUp

logger = logging.getLogger(__name__)

# Detectron2 stage name -> torchvision layer whose output it must equal.
STAGE_PAIRS = {"res2": "layer1", "res3": "layer2", "res4": "layer3", "res5": "layer4"}


def random_images(image_size: int = 64, batch_size: int = 2, seed: int = 0) -> torch.Tensor:
    """The batch every verifier runs: the same random images for the source and the converted network."""
    return torch.randn(batch_size, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def resnet_stage_differences(
    network: nn.Module, arch: Arch, converted: Mapping[str, np.ndarray], images: torch.Tensor
) -> Dict[str, float]:
    """Run a torchvision-layout ResNet and Detectron2's backbone built from ``converted`` on ``images``.

    The Detectron2 side is ``build_ctc_resnet`` (Detectron2's own blocks, torchvision's layout;
    a CIFAR stem at stride 1, exactly the pretraining network), loaded strictly; both run in
    eval mode, so the BatchNorm statistics take part.

    Returns:
        ``{"res2": rel, ..., "res5": rel}``: the largest relative difference of each stage.

    Raises:
        UserError: the arrays do not fit the backbone, or a stage differs beyond the tolerance.
    """
    network = network.eval()
    x = network.maxpool(network.relu(network.bn1(network.conv1(images))))
    reference = {}
    for layer in STAGE_PAIRS.values():
        x = reference[layer] = getattr(network, layer)(x)
    backbone = build_ctc_resnet(arch["depth"], arch["stem"], norm="BN", cifar_stem_stride=1)
    initialise_from(backbone, {key: torch.as_tensor(value) for key, value in converted.items()}, "converted weights")
    outputs = backbone.eval()(images)
    differences = {stage: relative_difference(reference[layer], outputs[stage]) for stage, layer in STAGE_PAIRS.items()}
    logger.info(f"Detectron2 vs torchvision relative differences: {differences}")
    check_differences(differences, "detectron2")
    return differences


def verify_detectron2(
    state_dict: Mapping[str, torch.Tensor],
    arch: Arch,
    converted: Mapping[str, np.ndarray],
    image_size: int = 64,
    batch_size: int = 2,
    seed: int = 0,
) -> Dict[str, float]:
    """``resnet_stage_differences`` for torchvision-keyed ResNet weights of ``arch`` ({"depth", "stem"})."""
    images = random_images(image_size, batch_size, seed)
    return resnet_stage_differences(source_network(state_dict, arch), arch, converted, images)


@register_verifier(RESNET_BUILDER, "detectron2")
def verify_resnet_bottom_up(source: SourceWeights, converted: Detectron2Weights, path: str) -> Dict[str, float]:
    """The pickle at ``path``, read as written, against the source ResNet (built from its record)."""
    arch = {"depth": source.model["DEPTH"], "stem": source.model["STEM"]}
    return resnet_stage_differences(source.network(), arch, _written_model(path), random_images())


@register_verifier(TIMM_BUILDER, "detectron2")
@torch.no_grad()
def verify_timm_bottom_up(source: SourceWeights, converted: Detectron2Weights, path: str) -> Dict[str, float]:
    """The pickle at ``path`` (``TimmBottomUp`` of the timm network its record names) against the source network.

    The reference is the source network itself (the timm classifier its record builds), its
    levels read by forward hooks on the modules timm's ``feature_info`` names; the Detectron2
    side is timm's ``features_only`` network loaded strictly. Both run in eval mode.

    Returns:
        ``{"res2": rel, ...}``: the largest relative difference of each level at stride 4 to 32.
    """
    written = load_file(path, "converted weights")
    name = written["backbone"]["model"]["TIMM"]["NAME"]
    network = source.network()
    classifier = network.model if hasattr(network, "model") else network
    bottom_up = TimmBottomUp(name, [], norm="BN")
    levels = {level: index for level, index in bottom_up._levels.items() if level in STAGE_PAIRS}
    bottom_up._out_features = sorted(levels)
    prefix = BOTTOM_UP_PREFIX + "body."
    arrays = written["model"]
    body = {key[len(prefix) :]: torch.as_tensor(value) for key, value in arrays.items() if key.startswith(prefix)}
    if len(body) != len(arrays):
        raise UserError(f"converted weights hold tensors outside {prefix}")
    initialise_from(bottom_up.body, body, "converted weights")
    modules = [info["module"] for info in classifier.feature_info]
    captured: Dict[str, torch.Tensor] = {}
    handles = [
        classifier.get_submodule(module).register_forward_hook(
            lambda _m, _i, output, module=module: captured.__setitem__(module, output)
        )
        for module in modules
    ]
    images = random_images()
    try:
        network(images)
    finally:
        for handle in handles:
            handle.remove()
    outputs = bottom_up.eval()(images)
    differences = {
        level: relative_difference(captured[modules[index]], outputs[level]) for level, index in levels.items()
    }
    logger.info(f"Detectron2 (timm {name} features_only) vs source relative differences: {differences}")
    check_differences(differences, "detectron2")
    return differences


def _written_model(path: str) -> Mapping[str, np.ndarray]:
    """The arrays of a converted pickle, read back from the file."""
    return load_file(path, "converted weights")["model"]
