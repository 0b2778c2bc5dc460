"""Initialising a network from weights: the one place that decides whether weights fit a module.

Every consumer (pretraining from ``MODEL.WEIGHTS``, the converters' source network, the
fine-tune, the verifiers) loads through ``initialise_from``: one prefix rule, one head rule,
one report of what did not fit.
"""

import logging
from typing import Dict, Mapping, Optional, Union

import torch
from torch import nn

from ..checkpoint import prefix_hint, read_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


def _few(keys, limit: int = 4) -> str:
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def classifier_name(network: nn.Module) -> str:
    """The state_dict prefix of the network's classifier: ``classifier_name`` where it says, else "fc"."""
    return getattr(network, "classifier_name", "fc")


def without_unfit_head(
    network: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str = "the weights",
    classifier: Optional[str] = None,
) -> Dict[str, torch.Tensor]:
    """The head rule: ``state_dict`` without the tensors under the network's classifier that do not fit it.

    A classifier of another width, or a projection head (MoCo v2's ``fc.0``/``fc.2``), has no place
    in the network: it is dropped with a log line, and the classifier keeps its initialisation.
    ``classifier`` names the classifier's prefix where the network does not (``classifier_name``).
    """
    own = {key: tensor.shape for key, tensor in network.state_dict().items()}
    head = (classifier or classifier_name(network)) + "."
    unfit = sorted(k for k in state_dict if k.startswith(head) and own.get(k) != state_dict[k].shape)
    if unfit:
        logger.info(
            f"{source}: dropped {', '.join(unfit)}: a head that is not a classifier of the network "
            f"({network.num_features if hasattr(network, 'num_features') else '?'}-d features to "
            f"{own.get(head + 'weight', ('?',))[0]} classes)"
        )
    return {key: value for key, value in state_dict.items() if key not in unfit}


def initialise_from(
    network: nn.Module,
    weights: Union[str, Mapping[str, torch.Tensor]],
    source: str = "",
    prefix: str = "",
    label: str = "MODEL.WEIGHTS",
    classifier: Optional[str] = None,
) -> bool:
    """Load every tensor of ``network`` from ``weights``; its classifier only when the shapes fit.

    The head rule: tensors under the classifier (``classifier_name``) that the network lacks or
    holds in another shape (a classifier of another width, a projection head such as MoCo's
    ``fc.0``/``fc.2``) are dropped, and the classifier keeps its initialisation; every other
    tensor must fit by name and shape.

    Args:
        network: the module to initialise, in place.
        weights: a file (read with ``checkpoint.read_state_dict``) or a state_dict.
        source: what ``weights`` is, for messages (defaults to the file's path).
        prefix: the sub-network of the file that holds the weights.
        label: what the file is, for messages ("MODEL.WEIGHTS").
        classifier: the classifier's state_dict prefix where the network does not say (``classifier_name``).

    Returns:
        Whether the classifier was loaded too.

    Raises:
        UserError: the file cannot be read, or its tensors do not fit the network, naming what.
    """
    if isinstance(weights, str):
        state_dict, _ = read_state_dict(weights, prefix, label=label)
        source = source or f"{label} {weights}"
    else:
        state_dict = dict(weights)
    state_dict = without_unfit_head(network, state_dict, source, classifier)
    own = network.state_dict()
    head = (classifier or classifier_name(network)) + "."
    missing = [k for k in own if k not in state_dict and not k.startswith(head) and "num_batches_tracked" not in k]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        parts = ([f"it lacks {_few(missing)}"] if missing else []) + (
            [f"the network has no {_few(unexpected)}"] if unexpected else []
        )
        hint = prefix_hint(state_dict, next(iter(own))) if not prefix else ""
        raise UserError(f"{source} does not fit the network: {'; '.join(parts)}{hint}")
    for key, tensor in state_dict.items():
        if tensor.shape != own[key].shape:
            raise UserError(
                f"{source} does not fit the network: {key} is {tuple(tensor.shape)} in the file "
                f"and {tuple(own[key].shape)} in the network"
            )
    network.load_state_dict(state_dict, strict=False)
    head_loaded = any(k.startswith(head) for k in own) and all(k in state_dict for k in own if k.startswith(head))
    logger.info(f"Initialised the network from {source}; classifier {'kept' if head_loaded else 're-initialised'}")
    return head_loaded


def load_backbone_weights(network: nn.Module, path: str, prefix: str = "") -> None:
    """``MODEL.WEIGHTS`` (and ``MODEL.WEIGHTS_PREFIX``) into a pretraining backbone; see ``initialise_from``."""
    initialise_from(network, path, prefix=prefix)
