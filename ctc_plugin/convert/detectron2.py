"""Any source network -> the pickle Detectron2 reads, by the converter registered for its builder.

``build_resnet``: torchvision ResNet weights -> Detectron2's ResNet names. Names: non-``layer`` keys get
``stem.``; ``layerN`` -> ``res{N+1}``; ``bnK`` -> ``convK.norm``; ``downsample.0`` ->
``shortcut``; ``downsample.1`` -> ``shortcut.norm``; ``fc.*`` and ``num_batches_tracked``
are dropped; ``build_ctc_resnet_fpn_backbone`` builds the matching network.

``build_timm_backbone`` (and any builder of a timm network): timm's ``features_only`` network
of the same architecture, loaded from the source by timm's own pretrained loader, under
``backbone.bottom_up.body.``; ``build_ctc_timm_fpn_backbone`` builds the matching network.

Every pickle carries the record of its network (``"backbone"``) and nothing else that describes it:
the Detectron2 builders read the record to build the network the weights belong to. This module
needs torch, numpy and (for timm networks) timm; Detectron2 is not imported, and the verifiers,
which run Detectron2's backbones, are registered beside them in ``ctc_plugin.detection.verify``.
"""

import pickle
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ..backbones.records import RESNET_BUILDER, TIMM_BUILDER, resnet_record, timm_record
from ..utils.errors import UserError
from ..utils.io import atomic_write
from .registry import register_converter
from .source import BOTTOM_UP_PREFIX, Arch, SourceWeights, check_resnet_keys, infer_resnet_arch

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
    """The object Detectron2's ``DetectionCheckpointer`` reads from a ``.pkl``, for torchvision ResNet weights.

    ``__author__`` tells Detectron2 the file is in its own format (without it a ``.pkl``
    is read as Caffe2 blobs); ``matching_heuristics`` lets it place ``stem.*``/``res*``
    under ``backbone.bottom_up.``. ``backbone``, the record of the ResNet ``arch`` describes,
    lets our backbone builder match the network to the weights.

    Returns:
        ``(checkpoint, dropped)``, ``dropped`` as in ``convert_to_detectron2``.
    """
    model, _, dropped = convert_to_detectron2(state_dict)
    checkpoint = {
        "model": model,
        "__author__": f"{AUTHOR} (converted from {source})",
        "matching_heuristics": True,
        "backbone": resnet_record(arch["depth"], arch["stem"], arch.get("num_classes") or 1000),
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


@dataclass
class Detectron2Weights:
    """A checkpoint Detectron2's ``DetectionCheckpointer`` reads, and the source keys it left out."""

    checkpoint: Dict[str, Any]
    dropped: List[str]
    SUFFIXES = (".pkl",)

    def write(self, path: str) -> None:
        """Write the pickle Detectron2 reads."""
        save_detectron2_pickle(self.checkpoint, path)

    def report(self, path: str) -> List[str]:
        """What ``ctc-convert`` prints about the written file."""
        return [
            f"converted {len(self.checkpoint['model'])} tensors to Detectron2's names",
            f"dropped {len(self.dropped)}: {summarize_dropped(self.dropped)}",
        ]


@register_converter(RESNET_BUILDER, "detectron2")
def resnet_to_detectron2(source: SourceWeights) -> Detectron2Weights:
    """Detectron2's ResNet names (``stem.*``, ``res*``), placed by Detectron2's matching heuristics."""
    arch = {"depth": source.model["DEPTH"], "stem": source.model["STEM"]}
    checkpoint, dropped = detectron2_checkpoint(source.state_dict, arch, source.name)
    checkpoint["backbone"] = source.record  # the source's own
    return Detectron2Weights(checkpoint, dropped)


@register_converter(TIMM_BUILDER, "detectron2")
def timm_backbone_to_detectron2(source: SourceWeights) -> Detectron2Weights:
    """timm's ``features_only`` network, loaded from the source by timm's pretrained loader, under its full names.

    The pickle keeps a ``build_timm_backbone`` record; that of another builder of a timm network becomes
    the timm architecture's own, which is what Detectron2's builder needs.
    """
    import timm

    from .timm import classifier_key, fit_timm

    name = source.timm_name()
    weights = fit_timm(name, source.state_dict, source.name)
    head = weights.get(classifier_key(name))
    overlay = {"state_dict": weights, "num_classes": int(head.shape[0]) if head is not None else 0}
    body = timm.create_model(name, features_only=True, pretrained=True, pretrained_cfg_overlay=overlay)
    model = {f"{BOTTOM_UP_PREFIX}body.{key}": value.numpy() for key, value in body.state_dict().items()}
    record = source.record if source.builder == TIMM_BUILDER else timm_record(name, overlay["num_classes"] or 1000)
    checkpoint = {
        "model": model,
        "__author__": f"{AUTHOR} (converted from {source.name})",
        "matching_heuristics": False,  # full names: loaded as they are
        "backbone": record,
    }
    kept = len(model)
    dropped = [f"{len(weights) - kept} tensors past the last feature level (the head)"] if len(weights) > kept else []
    return Detectron2Weights(checkpoint, dropped)
