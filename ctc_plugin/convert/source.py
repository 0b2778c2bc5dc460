"""What a converter starts from: weights and the record of the network that computes with them.

Every file we write carries its network's record (``backbones.records``): our pretraining and
fine-tuning checkpoints, and the timm files ``ctc-convert`` writes. The network is built from the
record, whatever its keys. Only a foreign file, which has none, is described from its keys, the
one place an architecture is inferred:

- a torchvision-style ResNet (a plain state_dict, or one wrapped in ``{"state_dict": ...}`` /
  ``{"model": ...}``, with or without DDP's ``module.``; ``prefix`` picks a sub-network, e.g.
  MoCo's ``module.encoder_q.``) is recognised by its keys;
- any other timm network when the caller names its architecture (``timm_name``, e.g. fine-tuning's
  ``MODEL.NAME``): its keys are then checked strictly against ``timm.create_model(timm_name)``
  when it is converted.

::

    source = read_source("model_final.pth")
    source.builder, source.describe()   # "build_resnet", "ResNet-50 (ImageNet stem)"

A head that is not a classifier of the network's width (MoCo v2's MLP ``fc.0``/``fc.2``, a
projection head) is dropped with a log line: no target has a place for it.
"""

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..backbones.records import (
    TIMM_BUILDER,
    build_from_record,
    describe_record,
    describe_resnet,
    resnet_record,
    timm_record,
)
from ..backbones.resnet import BLOCKS
from ..backbones.weights import initialise_from, without_unfit_head
from ..checkpoint import prefix_hint, read_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

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
# Where Detectron2's FPN keeps the bottom-up network in a model's state_dict.
BOTTOM_UP_PREFIX = "backbone.bottom_up."

Arch = Dict[str, Any]


@dataclass
class SourceWeights:
    """Weights to convert and the record of the network that computes with them.

    Attributes:
        state_dict: the network's own keys.
        record: the file's backbone record (``{"builder", "module", "model"}``), or, for a foreign
            file, the record its keys (a ResNet) or its named timm architecture imply.
        name: where the weights came from, for messages.
    """

    state_dict: Dict[str, torch.Tensor]
    record: Dict[str, Any]
    name: str

    @property
    def builder(self) -> str:
        return self.record["builder"]

    @property
    def model(self) -> Dict[str, Any]:
        """The record's ``cfg.MODEL``."""
        return self.record["model"]

    def describe(self) -> str:
        """'ResNet-50 (ImageNet stem)', 'timm convnext_atto': for logs and CLI output."""
        return describe_record(self.record)

    def timm_name(self) -> str:
        """The timm architecture of a network that is a timm model (``MODEL.TIMM.NAME`` or the built network's)."""
        if self.builder == TIMM_BUILDER:
            return self.model["TIMM"]["NAME"]
        return self.empty_network().timm_name

    def empty_network(self) -> nn.Module:
        """The network the record describes, freshly initialised."""
        return build_from_record(self.record, self.name)

    def network(self) -> nn.Module:
        """The source network in eval mode, built from the record and initialised from ``state_dict``."""
        network = self.empty_network()
        initialise_from(network, self.state_dict, self.name)
        return network.eval()


def read_source(
    source: Union[str, Mapping[str, Any]], prefix: str = "", label: str = "checkpoint", timm_name: str = ""
) -> SourceWeights:
    """The weights of a file (or its loaded content) and the record of their network.

    A file of ours carries its record (a sub-network picked by ``prefix`` is another method's, and
    has none). Any other file is a torchvision-style ResNet, recognised by its keys, or, when
    ``timm_name`` names it, that timm architecture.

    Raises:
        UserError: unreadable file, a prefix that matches nothing, a Detectron2 file (which holds a
            bottom-up network alone), or a foreign file that is neither a torchvision-style ResNet nor
            ``timm_name``.
    """
    name = f"{label} {source}" if isinstance(source, str) else "the given object"
    tensors, payload = read_state_dict(source, prefix, label)
    record = payload.get("backbone") if isinstance(payload.get("backbone"), Mapping) and not prefix else None
    if is_detectron2_file(payload):
        what = f" of a {describe_record(record)}" if record else ""
        raise UserError(
            f"{name} is a Detectron2 file: it holds the bottom-up network{what} without the rest of it; "
            "start from the checkpoint it was converted from (or that checkpoint's --to timm file)"
        )
    if record is not None:
        if "builder" not in record or "model" not in record:
            raise UserError(f"{name} has a backbone record without its 'builder' and 'model'")
        return SourceWeights(dict(tensors), dict(record), name)
    timm_name = timm_name or _timm_name_before_records(payload)
    if timm_name and not all(key in tensors for key in REQUIRED_KEYS):
        return timm_source(tensors, timm_name, name)
    state_dict, arch = _resnet_weights(tensors, payload, prefix, name)
    return resnet_source(state_dict, arch, name)


def is_detectron2_file(payload: Mapping[str, Any]) -> bool:
    """Whether a loaded file is Detectron2's: a converted ``.pkl`` or a Detectron2 training checkpoint."""
    model = payload.get("model")
    if not isinstance(model, Mapping):
        return False
    return "__author__" in payload or any(str(key).startswith(BOTTOM_UP_PREFIX) for key in model)


def _timm_name_before_records(payload: Mapping[str, Any]) -> str:
    """The timm architecture a file of ours written before records names ("" for any other file): a timm
    file's ``meta["timm_model"]``, a fine-tuning checkpoint's ``network["MODEL.NAME"]``."""
    meta, network = payload.get("meta"), payload.get("network")
    if isinstance(meta, Mapping) and meta.get("timm_model"):
        return str(meta["timm_model"])
    return str(network.get("MODEL.NAME", "")) if isinstance(network, Mapping) else ""


def resnet_source(state_dict: Mapping[str, torch.Tensor], arch: Arch, name: str) -> SourceWeights:
    """``SourceWeights`` of torchvision-keyed ResNet weights of ``arch`` ({"depth", "stem", "num_classes"})."""
    num_classes = int(state_dict["fc.weight"].shape[0]) if "fc.weight" in state_dict else None
    num_classes = num_classes or arch.get("num_classes") or 1000  # a placeholder classifier without one
    return SourceWeights(dict(state_dict), resnet_record(arch["depth"], arch["stem"], num_classes), name)


def timm_source(state_dict: Mapping[str, torch.Tensor], timm_name: str, name: str) -> SourceWeights:
    """``SourceWeights`` of weights said to be timm ``timm_name``'s, with a classifier of their head's width.

    Nothing is checked here: the converter fits them to ``timm.create_model(timm_name)`` strictly.
    """
    from ..backbones.timm_net import timm_classifier_name

    head = state_dict.get(f"{timm_classifier_name(timm_name)}.weight")
    num_classes = int(head.shape[0]) if head is not None else 1000  # a placeholder classifier without one
    return SourceWeights(dict(state_dict), timm_record(timm_name, num_classes), name)


def load_resnet_state_dict(
    source: Union[str, Mapping[str, Any]], prefix: str = "", label: str = "checkpoint"
) -> Tuple[Dict[str, torch.Tensor], Arch]:
    """Read ResNet weights from a file or an already loaded object.

    Args:
        source: a path (``.pth``, ``.pkl`` or ``.safetensors``), or its content.
        prefix: keep only the keys under this sub-network (``module.`` is optional in it).
        label: what the file is, for messages ("MODEL.WEIGHTS").

    Returns:
        ``(state_dict, arch)``: every tensor under torchvision's names (a classifier ``fc``
        and ``num_batches_tracked`` included), and ``{"depth", "stem", "num_classes"}``
        inferred from the weights (``num_classes`` is None without a classifier).

    Raises:
        UserError: the file cannot be read, the prefix matches nothing, the weights are not
            a torchvision-style ResNet (the message names the missing keys and the builder
            that made them), or they contradict the checkpoint's own record.
    """
    name = f"{label} {source}" if isinstance(source, str) else "the given object"
    tensors, payload = read_state_dict(source, prefix, label)
    return _resnet_weights(tensors, payload, prefix, name)


def _resnet_weights(
    tensors: Dict[str, torch.Tensor], payload: Mapping[str, Any], prefix: str, name: str
) -> Tuple[Dict[str, torch.Tensor], Arch]:
    record = payload.get("backbone") if isinstance(payload.get("backbone"), Mapping) else None
    check_resnet_keys(tensors, name, record.get("builder", "") if record and not prefix else "")
    arch = infer_resnet_arch(tensors)
    # The one head rule (backbones.without_unfit_head), on the network the keys describe.
    tensors = without_unfit_head(resnet_source({}, arch, name).empty_network(), tensors, name)
    arch = infer_resnet_arch(tensors)
    declared = record.get("model", {}) if record and not prefix else {}
    for key in ("depth", "stem"):
        value = declared.get(key.upper())
        if value is not None and value != arch[key]:
            raise UserError(f"{name}: its record says MODEL.{key.upper()} {value!r} but the weights are {arch[key]!r}")
    return tensors, arch


def check_resnet_keys(state_dict: Mapping[str, torch.Tensor], name: str = "the weights", builder: str = "") -> None:
    """Raise ``UserError`` naming the keys a torchvision ResNet has and these weights lack.

    Args:
        builder: the ``BACKBONE_REGISTRY`` builder the checkpoint records, named in the message.
    """
    missing = [key for key in REQUIRED_KEYS if key not in state_dict]
    if missing:
        hint = prefix_hint(state_dict, "layer1.0.conv1.weight")
        why = (
            f"; it holds a network built by {builder}, and only torchvision-style ResNets have a Detectron2 "
            "and a timm counterpart"
            if builder
            else ""
        )
        raise UserError(f"{name} is not a torchvision-style ResNet: missing keys {', '.join(missing)}{hint}{why}")


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


def describe_arch(arch: Optional[Arch]) -> str:
    """'ResNet-50 (ImageNet stem)' for logs and CLI output."""
    return describe_resnet(arch["depth"], arch["stem"]) if arch else "unknown ResNet"
