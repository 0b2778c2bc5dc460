"""Initialising a ResNet from a checkpoint (``MODEL.WEIGHTS``): ours, torchvision's or a wrapped one."""

import logging

from ..convert.source import load_resnet_state_dict
from ..utils.errors import UserError
from .resnet import ResNet

logger = logging.getLogger(__name__)


def load_backbone_weights(network: ResNet, path: str) -> None:
    """Load every tensor of ``path`` into ``network``; ``fc`` is kept only when its shape fits.

    Raises:
        UserError: the file is not a ResNet, or one of another depth or stem.
    """
    state_dict, arch = load_resnet_state_dict(path)
    if (arch["depth"], arch["stem"]) != (network.depth, network.stem):
        raise UserError(
            f"MODEL.WEIGHTS {path} is a ResNet-{arch['depth']} with the {arch['stem']} stem, "
            f"but the config builds a ResNet-{network.depth} with the {network.stem} stem"
        )
    own = network.state_dict()
    head = [k for k in ("fc.weight", "fc.bias") if k in state_dict and state_dict[k].shape != own[k].shape]
    for key in head:
        del state_dict[key]
    missing, unexpected = network.load_state_dict(state_dict, strict=False)
    if unexpected or set(missing) - {"fc.weight", "fc.bias"}:
        raise UserError(f"MODEL.WEIGHTS {path} does not fit the network: missing {missing}, unexpected {unexpected}")
    kept = "kept" if not missing else "re-initialised (new number of classes)"
    logger.info(f"Initialised the backbone from {path}; classifier {kept}")
