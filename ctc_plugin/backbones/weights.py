"""Initialising a backbone from ``MODEL.WEIGHTS``: ours, torchvision's, or a sub-network of another method's."""

import logging

from torch import nn

from ..checkpoint import prefix_hint, read_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


def _few(keys, limit: int = 4) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def load_backbone_weights(network: nn.Module, path: str, prefix: str = "") -> None:
    """Load every tensor of ``network`` from ``path``; the classifier ``fc`` only when its shape fits.

    Raises:
        UserError: the file cannot be read, or its tensors do not fit the network (names or shapes).
    """
    state_dict, _ = read_state_dict(path, prefix, label="MODEL.WEIGHTS")
    own = network.state_dict()
    head = sorted(
        k for k in state_dict if k.startswith("fc.") and (k not in own or own[k].shape != state_dict[k].shape)
    )
    for key in head:  # a classifier of another width, or a projection head (MoCo's fc.0 / fc.2)
        del state_dict[key]
    missing = [k for k in own if k not in state_dict and not k.startswith("fc.") and "num_batches_tracked" not in k]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        parts = ([f"it lacks {_few(missing)}"] if missing else []) + (
            [f"the network has no {_few(unexpected)}"] if unexpected else []
        )
        hint = prefix_hint(state_dict, next(iter(own))) if not prefix else ""
        raise UserError(f"MODEL.WEIGHTS {path} does not fit the network: {'; '.join(parts)}{hint}")
    for key, tensor in state_dict.items():
        if tensor.shape != own[key].shape:
            raise UserError(
                f"MODEL.WEIGHTS {path} does not fit the network: {key} is {tuple(tensor.shape)} in the file "
                f"and {tuple(own[key].shape)} in the network"
            )
    network.load_state_dict(state_dict, strict=False)
    logger.info(f"Initialised the backbone from {path}; classifier {'re-initialised' if head else 'kept'}")
