"""What ``MODEL.WEIGHTS`` holds: which network, and weights still to be converted."""

import logging
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ..checkpoint import load_file
from ..convert.detectron2 import BOTTOM_UP_PREFIX, arch_of_detectron2_weights
from ..convert.source import RESNET_BUILDER, Arch, SourceWeights, read_source
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


@dataclass
class WeightsInfo:
    """What a weights file holds.

    Attributes:
        arch: the ResNet in the file (``{"depth", "stem", "num_classes"}``), or None when the
            file holds no ResNet or says nothing we can read (no file, a URL, a Caffe2 pickle).
        timm_name: the timm architecture of a timm network's weights, else None.
        source: the weights and their network's record when the file is a raw pretraining
            or torchvision checkpoint that still needs converting, else None.
    """

    arch: Optional[Arch] = None
    timm_name: Optional[str] = None
    source: Optional[SourceWeights] = None


def inspect_weights(path: str, prefix: str = "") -> WeightsInfo:
    """Look into ``MODEL.WEIGHTS``.

    Args:
        path: a converted ``.pkl``, a raw checkpoint, a Detectron2 checkpoint, a URL or "".
        prefix: sub-network of a raw checkpoint (``MODEL.CTC.WEIGHTS_PREFIX``).

    Raises:
        UserError: a local file that is neither a Detectron2 checkpoint nor a network we can convert.
    """
    if not path or "://" in path or not os.path.isfile(path) or path.endswith(".pyth"):
        return WeightsInfo()  # Detectron2 reads URLs and pycls files itself
    payload = load_file(path, "MODEL.WEIGHTS")
    if path.endswith(".pkl"):
        if isinstance(payload, Mapping) and isinstance(payload.get("timm_name"), str):
            return WeightsInfo(timm_name=payload["timm_name"])
        if isinstance(payload, Mapping) and isinstance(payload.get("ctc_arch"), Mapping):
            return WeightsInfo(arch=dict(payload["ctc_arch"]))
        model = payload.get("model", payload) if isinstance(payload, Mapping) else {}
        return WeightsInfo(arch=arch_of_detectron2_weights(model))
    model = payload.get("model") if isinstance(payload, Mapping) else None
    if isinstance(model, Mapping) and any(key.startswith("backbone.") for key in model):
        timm_name = payload.get("timm_name") if isinstance(payload.get("timm_name"), str) else None
        return WeightsInfo(arch=arch_of_detectron2_weights(model, BOTTOM_UP_PREFIX), timm_name=timm_name)
    try:
        source = read_source(payload, prefix)
    except UserError as e:  # it says "the given object": name the file
        raise UserError(str(e).replace("the given object", f"MODEL.WEIGHTS {path}", 1)) from None
    source.name = f"MODEL.WEIGHTS {path}" + (f" under prefix {prefix!r}" if prefix else "")
    logger.info(f"{source.name} holds a raw {source.describe()}; it is converted on the fly")
    if source.builder == RESNET_BUILDER:
        arch = {"depth": source.model["DEPTH"], "stem": source.model["STEM"], "num_classes": None}
        return WeightsInfo(arch=arch, source=source)
    try:
        timm_name = source.timm_name()
    except AttributeError:
        timm_name = None  # a network of another family: its converter decides
    return WeightsInfo(timm_name=timm_name, source=source)


def choose_timm_name(cfg) -> str:
    """The timm network to build: ``MODEL.WEIGHTS``'s (``MODEL.CTC.ARCH_FROM_WEIGHTS``) or ``MODEL.TIMM.NAME``.

    Raises:
        UserError: the weights hold a ResNet, or another timm network than the config names while
            the config says to keep its own.
    """
    configured = cfg.MODEL.TIMM.NAME
    info = inspect_weights(cfg.MODEL.WEIGHTS, cfg.MODEL.CTC.WEIGHTS_PREFIX)
    if info.timm_name is None:
        if info.arch is not None:
            raise UserError(
                f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} holds a ResNet, not a timm network: use "
                "MODEL.BACKBONE.NAME build_ctc_resnet_fpn_backbone"
            )
        return configured
    if info.timm_name != configured:
        if not cfg.MODEL.CTC.ARCH_FROM_WEIGHTS:
            raise UserError(
                f"MODEL.WEIGHTS holds timm {info.timm_name} but MODEL.TIMM.NAME is {configured}; set it to match"
            )
        logger.warning(
            f"MODEL.WEIGHTS holds timm {info.timm_name}: building that (MODEL.TIMM.NAME {configured} is "
            "overridden by MODEL.CTC.ARCH_FROM_WEIGHTS)"
        )
    return info.timm_name
