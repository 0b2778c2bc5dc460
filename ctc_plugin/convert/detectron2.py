"""torchvision ResNet weights -> Detectron2's ResNet names, and the pickle Detectron2 reads.

Names: non-``layer`` keys get
``stem.``; ``layerN`` -> ``res{N+1}``; ``bnK`` -> ``convK.norm``; ``downsample.0`` ->
``shortcut``; ``downsample.1`` -> ``shortcut.norm``; ``fc.*`` and ``num_batches_tracked``
are dropped. This module needs torch and numpy only; Detectron2 is not imported.
"""

import pickle
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ..utils.errors import UserError
from ..utils.io import atomic_write
from .source import Arch, check_resnet_keys, infer_resnet_arch

AUTHOR = "ctc_plugin"
_BN = re.compile(r"(^|\.)bn(\d)\.")
_CONV_NORM = re.compile(r"(^|\.)conv(\d)\.norm\.")
_LAYER = re.compile(r"^layer([1-4])\.")
_RES = re.compile(r"^res([2-5])\.")
# Parameters and buffers a torchvision ResNet's conv and BN layers hold.
_TENSOR_NAMES = ("weight", "bias", "running_mean", "running_var")


def detectron2_name(torchvision_name: str) -> Optional[str]:
    """Detectron2's name for a torchvision ResNet key, or None for keys that are dropped."""
    leaf = torchvision_name.rsplit(".", 1)[-1]
    if torchvision_name.startswith("fc.") or leaf not in _TENSOR_NAMES:
        return None
    name = torchvision_name
    if not _LAYER.match(name):
        if not re.match(r"^(conv1|bn1)\.", name):
            return None  # not part of a torchvision ResNet (e.g. a projection head)
        name = "stem." + name
    name = _LAYER.sub(lambda m: f"res{int(m.group(1)) + 1}.", name)
    name = _BN.sub(lambda m: f"{m.group(1)}conv{m.group(2)}.norm.", name)
    name = name.replace(".downsample.0.", ".shortcut.").replace(".downsample.1.", ".shortcut.norm.")
    return name


def torchvision_name(detectron2_key: str) -> Optional[str]:
    """The inverse of ``detectron2_name`` (None for names outside a converted ResNet)."""
    name = detectron2_key
    if name.startswith("stem."):
        name = name[len("stem.") :]
    elif _RES.match(name):
        name = _RES.sub(lambda m: f"layer{int(m.group(1)) - 1}.", name)
    else:
        return None
    name = name.replace(".shortcut.norm.", ".downsample.1.").replace(".shortcut.", ".downsample.0.")
    name = _CONV_NORM.sub(lambda m: f"{m.group(1)}bn{m.group(2)}.", name)
    return name


def convert_to_detectron2(
    state_dict: Mapping[str, torch.Tensor],
) -> Tuple[Dict[str, np.ndarray], Dict[str, str], List[str]]:
    """Rename torchvision ResNet weights to Detectron2's and make them numpy arrays.

    Returns:
        ``(model, renamed, dropped)``: the Detectron2-keyed arrays, the mapping
        ``{torchvision name: detectron2 name}``, and the source keys that were dropped.
    """
    check_resnet_keys(state_dict)
    model: Dict[str, np.ndarray] = {}
    renamed: Dict[str, str] = {}
    dropped: List[str] = []
    for key, tensor in state_dict.items():
        target = detectron2_name(key)
        if target is None:
            dropped.append(key)
            continue
        model[target] = tensor.detach().cpu().numpy()
        renamed[key] = target
    return model, renamed, dropped


def summarize_dropped(keys: List[str], limit: int = 10) -> str:
    """'fc.weight, fc.bias, 20 x *.num_batches_tracked': dropped keys for a log or a CLI line."""
    tracked = [key for key in keys if key.endswith("num_batches_tracked")]
    others = [key for key in keys if key not in tracked]
    parts = others[:limit] + ([f"... {len(others) - limit} more"] if len(others) > limit else [])
    if tracked:
        parts.append(f"{len(tracked)} x *.num_batches_tracked")
    return ", ".join(parts) or "nothing"


def detectron2_checkpoint(
    state_dict: Mapping[str, torch.Tensor], arch: Arch, source: str
) -> Tuple[Dict[str, Any], List[str]]:
    """The object Detectron2's ``DetectionCheckpointer`` reads from a ``.pkl``.

    ``__author__`` tells Detectron2 the file is in its own format (without it a ``.pkl``
    is read as Caffe2 blobs); ``matching_heuristics`` lets it place ``stem.*``/``res*``
    under ``backbone.bottom_up.``. ``ctc_arch`` lets our backbone builder match the
    network to the weights.

    Returns:
        ``(checkpoint, dropped)``, ``dropped`` as in ``convert_to_detectron2``.
    """
    model, _, dropped = convert_to_detectron2(state_dict)
    checkpoint = {
        "model": model,
        "__author__": f"{AUTHOR} (converted from {source})",
        "matching_heuristics": True,
        "ctc_arch": dict(arch),
    }
    return checkpoint, dropped


def save_detectron2_pickle(checkpoint: Mapping[str, Any], path: str) -> None:
    """Write ``checkpoint`` as a pickle, atomically."""
    atomic_write(path, lambda f: pickle.dump(dict(checkpoint), f, protocol=pickle.HIGHEST_PROTOCOL))


def arch_of_detectron2_weights(model: Mapping[str, Any], prefix: str = "") -> Optional[Arch]:
    """Infer the ResNet under ``prefix`` (e.g. ``backbone.bottom_up.``) in Detectron2 weights.

    Returns None when no ResNet lies under ``prefix``.
    """
    renamed = {}
    for key, value in model.items():
        if key.startswith(prefix):
            name = torchvision_name(key[len(prefix) :])
            if name is not None:
                renamed[name] = torch.as_tensor(value)
    try:
        check_resnet_keys(renamed)
        return infer_resnet_arch(renamed)
    except UserError:  # not a ResNet we know: the caller decides
        return None
