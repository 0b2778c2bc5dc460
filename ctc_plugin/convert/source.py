"""Read any accepted source of ResNet weights into a torchvision-keyed state_dict.

Accepted sources: our pretraining checkpoint (``{"model": ..., "arch": ...}``), a plain
torchvision ResNet state_dict, or one wrapped in ``{"state_dict": ...}`` / ``{"model": ...}``,
with or without DDP's ``module.`` prefix. ``prefix`` picks a sub-module, e.g. MoCo's
``module.encoder_q.``. Every target converter (Detectron2, timm) starts from here::

    state_dict, arch = load_resnet_state_dict("model_final.pth")
    # arch == {"depth": 50, "stem": "imagenet", "num_classes": 1000}
"""

import logging
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch

from ..models.resnet import BLOCKS
from ..utils.errors import UserError
from ..utils.io import describe_load_error

logger = logging.getLogger(__name__)

# Keys that hold state dicts inside checkpoints, in the order they are tried.
WRAPPER_KEYS = ("model", "state_dict", "model_state", "network")
# Keys every torchvision ResNet has, whatever its depth.
REQUIRED_KEYS = (
    "conv1.weight",
    "bn1.weight",
    "bn1.bias",
    "bn1.running_mean",
    "bn1.running_var",
    "layer1.0.conv1.weight",
    "layer2.0.conv1.weight",
    "layer3.0.conv1.weight",
    "layer4.0.conv1.weight",
    "layer2.0.downsample.0.weight",
)
STEM_BY_KERNEL = {7: "imagenet", 3: "cifar"}
_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")

Arch = Dict[str, Any]


def load_resnet_state_dict(
    source: Union[str, Mapping[str, Any]], prefix: str = ""
) -> Tuple[Dict[str, torch.Tensor], Arch]:
    """Read ResNet weights from a file or an already loaded object.

    Args:
        source: a path loadable with ``torch.load(weights_only=True)``, or its content.
        prefix: keep only the keys under this sub-module (``module.`` is optional in it).

    Returns:
        ``(state_dict, arch)``: every tensor under torchvision's names (``fc.*`` and
        ``num_batches_tracked`` included), and ``{"depth", "stem", "num_classes"}``
        inferred from the weights (``num_classes`` is None without ``fc``).

    Raises:
        UserError: the file cannot be read, the prefix matches nothing, the weights are
            not a torchvision-style ResNet (the message names the missing keys), or they
            contradict the checkpoint's own ``arch``.
    """
    name = source if isinstance(source, str) else "the given object"
    payload = _read(source) if isinstance(source, str) else source
    if not isinstance(payload, Mapping):
        raise UserError(f"{name} holds a {type(payload).__name__}, not a state_dict")
    declared_arch = payload.get("arch") if isinstance(payload.get("arch"), Mapping) else None
    tensors = _select_prefix(_strip_module(_find_state_dict(payload)), prefix, name)
    check_resnet_keys(tensors, name)
    arch = infer_resnet_arch(tensors)
    if declared_arch is not None:
        for key in ("depth", "stem"):
            if key in declared_arch and declared_arch[key] != arch[key]:
                raise UserError(
                    f"{name}: its arch says {key}={declared_arch[key]!r} but the weights are {key}={arch[key]!r}"
                )
    return tensors, arch


def check_resnet_keys(state_dict: Mapping[str, torch.Tensor], name: str = "the weights") -> None:
    """Raise ``UserError`` naming the keys a torchvision ResNet has and these weights lack."""
    missing = [key for key in REQUIRED_KEYS if key not in state_dict]
    if not missing:
        return
    hint = _prefix_hint(state_dict)
    raise UserError(f"{name} is not a torchvision-style ResNet: missing keys {', '.join(missing)}{hint}")


def infer_resnet_arch(state_dict: Mapping[str, torch.Tensor]) -> Arch:
    """Depth, stem and classifier width of torchvision-keyed ResNet weights.

    Raises:
        UserError: the block counts, block type or stem match none of ResNet-18/34/50/101.
    """
    blocks_per_stage = [0, 0, 0, 0]
    for key in state_dict:
        match = _BLOCK_KEY.match(key)
        if match:
            stage, block = int(match.group(1)) - 1, int(match.group(2))
            blocks_per_stage[stage] = max(blocks_per_stage[stage], block + 1)
    bottleneck = "layer1.0.conv3.weight" in state_dict
    depth = _depth_of(tuple(blocks_per_stage), bottleneck)
    stem_weight = state_dict["conv1.weight"]
    kernel = stem_weight.shape[-1]
    if kernel not in STEM_BY_KERNEL or tuple(stem_weight.shape[:2]) != (64, 3):
        raise UserError(
            f"unsupported ResNet stem: conv1.weight has shape {tuple(stem_weight.shape)}; "
            "expected (64, 3, 7, 7) (ImageNet) or (64, 3, 3, 3) (CIFAR)"
        )
    fc = state_dict.get("fc.weight")
    return {
        "depth": depth,
        "stem": STEM_BY_KERNEL[kernel],
        "num_classes": int(fc.shape[0]) if fc is not None else None,
    }


def _depth_of(blocks_per_stage: Tuple[int, ...], bottleneck: bool) -> int:
    for depth, (block, layers) in BLOCKS.items():
        if tuple(layers) == blocks_per_stage and (block.expansion == 4) == bottleneck:
            return depth
    kind = "Bottleneck" if bottleneck else "BasicBlock"
    raise UserError(
        f"unsupported ResNet: {kind} blocks per stage {list(blocks_per_stage)} match none of "
        f"ResNet-{'/'.join(str(d) for d in BLOCKS)}"
    )


def _read(path: str) -> Any:
    if not os.path.isfile(path):
        raise UserError(f"no such checkpoint file: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle of arbitrary objects, a truncated file, not torch at all
        raise UserError(f"cannot read {path} as a torch checkpoint: {describe_load_error(e)}") from None


def _find_state_dict(payload: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Descend through wrapper keys until a mapping whose values are tensors."""
    current: Mapping[str, Any] = payload
    while not any(isinstance(value, torch.Tensor) for value in current.values()):
        inner = next((current[key] for key in WRAPPER_KEYS if isinstance(current.get(key), Mapping)), None)
        if inner is None:
            break
        current = inner
    return {key: value for key, value in current.items() if isinstance(value, torch.Tensor)}


def _strip_module(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop DDP's ``module.`` from the keys that carry it."""
    return {key[len("module.") :] if key.startswith("module.") else key: value for key, value in state_dict.items()}


def _select_prefix(state_dict: Dict[str, torch.Tensor], prefix: str, name: str) -> Dict[str, torch.Tensor]:
    if not prefix:
        return state_dict
    if prefix.startswith("module."):
        prefix = prefix[len("module.") :]
    if not prefix.endswith("."):
        prefix += "."
    selected = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not selected:
        heads = sorted({key.split(".", 1)[0] + "." for key in state_dict})
        raise UserError(f"no key in {name} starts with prefix {prefix!r}; its keys start with {', '.join(heads[:8])}")
    return selected


def _prefix_hint(state_dict: Mapping[str, torch.Tensor]) -> str:
    """'; pass --prefix X' when a ResNet sits under a sub-module, else ''."""
    candidates: List[str] = sorted(
        key[: -len("layer1.0.conv1.weight")]
        for key in state_dict
        if key.endswith("layer1.0.conv1.weight") and key != "layer1.0.conv1.weight"
    )
    return f" (a ResNet sits under {candidates[0]!r}: pass it as --prefix)" if candidates else ""


def describe_arch(arch: Optional[Arch]) -> str:
    """'ResNet-50 (ImageNet stem)' for logs and CLI output."""
    if not arch:
        return "unknown ResNet"
    stem = "CIFAR" if arch["stem"] == "cifar" else "ImageNet"
    return f"ResNet-{arch['depth']} ({stem} stem)"
