"""A network's record: the one description of a network that every file we write carries.

A record is ``{"builder", "module", "model"}``: the ``BACKBONE_REGISTRY`` builder, the module that
registers it, and the ``cfg.MODEL`` it builds from. Every reader rebuilds the network through the
registry (``build_from_record``); resume compares records (``network_differences``)::

    record = backbone_record(cfg)                 # what a checkpoint stores
    network = build_from_record(record, "model_final.pth")
    network_differences(saved, record)            # {} when both describe the same network
"""

from typing import Any, Dict, Mapping, Tuple

import yaml
from fvcore.common.config import CfgNode
from torch import nn

from ..config import get_cfg
from ..registry import BACKBONE_REGISTRY
from ..utils.errors import UserError
from .build import build_backbone

RESNET_BUILDER = "build_resnet"
TIMM_BUILDER = "build_timm_backbone"
# Keys of cfg.MODEL that say how a network is used, not which network it is: never compared.
NOT_THE_NETWORK = ("DEVICE", "WEIGHTS", "WEIGHTS_PREFIX")


def backbone_record(cfg) -> Dict[str, Any]:
    """What a checkpoint stores to rebuild its network: the builder, its module and ``cfg.MODEL``."""
    builder = BACKBONE_REGISTRY.get(cfg.MODEL.BACKBONE)
    return {"builder": cfg.MODEL.BACKBONE, "module": builder.__module__, "model": yaml.safe_load(cfg.MODEL.dump())}


def resnet_record(depth: int, stem: str = "imagenet", num_classes: int = 1000) -> Dict[str, Any]:
    """The record of a torchvision-style ResNet (``build_resnet``)."""
    cfg = get_cfg()
    cfg.MODEL.BACKBONE, cfg.MODEL.NUM_CLASSES = RESNET_BUILDER, num_classes
    cfg.MODEL.DEPTH, cfg.MODEL.STEM = depth, stem
    return backbone_record(cfg)


def timm_record(name: str, num_classes: int = 1000) -> Dict[str, Any]:
    """The record of timm ``name`` with a ``num_classes`` classifier (``build_timm_backbone``)."""
    cfg = get_cfg()
    cfg.MODEL.BACKBONE, cfg.MODEL.TIMM.NAME, cfg.MODEL.NUM_CLASSES = TIMM_BUILDER, name, num_classes
    return backbone_record(cfg)


def build_from_record(record: Mapping[str, Any], source: str) -> nn.Module:
    """The network a checkpoint's ``backbone_record`` describes, built through the registry.

    Raises:
        UserError: the record is missing, or its builder is not registered in this process.
    """
    if not isinstance(record, Mapping) or "builder" not in record or "model" not in record:
        raise UserError(f"{source} does not say which network it holds (no 'backbone' record)")
    if record["builder"] not in BACKBONE_REGISTRY:
        raise UserError(
            f"{source} holds a network built by {record['builder']}, which is not registered in "
            f"BACKBONE_REGISTRY: import {record.get('module', 'the module that registers it')} first"
        )
    cfg = get_cfg()
    cfg.MODEL = CfgNode(dict(record["model"]))
    return build_backbone(cfg)


def network_keys(record: Mapping[str, Any]) -> Dict[str, Any]:
    """The record as flat config keys (``{"MODEL.DEPTH": 50, "MODEL.TIMM.NAME": ...}``), without ``NOT_THE_NETWORK``."""
    flat: Dict[str, Any] = {"MODEL.BACKBONE": record.get("builder")}

    def add(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, Mapping):
                add(f"{prefix}{key}.", value)
            elif prefix != "MODEL." or key not in NOT_THE_NETWORK:
                flat[f"{prefix}{key}"] = value

    add("MODEL.", record.get("model", {}))
    return flat


def network_differences(saved: Mapping[str, Any], expected: Mapping[str, Any]) -> Dict[str, Tuple[Any, Any]]:
    """``{key: (saved value, expected value)}`` for every network key the two records give differently.

    Keys only one record has (a key added to the config since the other was written) are not compared.
    """
    old, new = network_keys(saved), network_keys(expected)
    return {key: (old[key], new[key]) for key in sorted(old.keys() & new.keys()) if old[key] != new[key]}


def describe_resnet(depth: int, stem: str) -> str:
    """'ResNet-50 (ImageNet stem)'."""
    return f"ResNet-{depth} ({'CIFAR' if stem == 'cifar' else 'ImageNet'} stem)"


def describe_record(record: Mapping[str, Any]) -> str:
    """'ResNet-50 (ImageNet stem)', 'timm convnext_atto', 'network of build_my_net': for logs and messages."""
    builder, model = record.get("builder"), record.get("model", {})
    if builder == RESNET_BUILDER:
        return describe_resnet(model["DEPTH"], model["STEM"])
    if builder == TIMM_BUILDER:
        return f"timm {model['TIMM']['NAME']}"
    return f"network of {builder}"
