"""What ``MODEL.WEIGHTS`` holds: which ResNet, and raw weights still to be converted."""

import logging
import os
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import torch

from ..checkpoint import load_file
from ..convert.detectron2 import arch_of_detectron2_weights
from ..convert.source import Arch, describe_arch, load_resnet_state_dict
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

# Where Detectron2's ResNet-FPN keeps the ResNet in a model's state_dict.
BOTTOM_UP_PREFIX = "backbone.bottom_up."


@dataclass
class WeightsInfo:
    """What a weights file holds.

    Attributes:
        arch: the ResNet in the file (``{"depth", "stem", "num_classes"}``), or None when
            the file says nothing we can read (no file, a URL, a Caffe2 pickle).
        raw_state_dict: torchvision-keyed weights when the file is a raw pretraining or
            torchvision checkpoint that still needs converting, else None.
    """

    arch: Optional[Arch] = None
    raw_state_dict: Optional[Dict[str, torch.Tensor]] = None


def inspect_weights(path: str, prefix: str = "") -> WeightsInfo:
    """Look into ``MODEL.WEIGHTS``.

    Args:
        path: a converted ``.pkl``, a raw checkpoint, a Detectron2 checkpoint, a URL or "".
        prefix: sub-network of a raw checkpoint (``MODEL.CTC.WEIGHTS_PREFIX``).

    Raises:
        UserError: a local file that is neither a Detectron2 checkpoint nor a ResNet.
    """
    if not path or "://" in path or not os.path.isfile(path) or path.endswith(".pyth"):
        return WeightsInfo()  # Detectron2 reads URLs and pycls files itself
    payload = load_file(path, "MODEL.WEIGHTS")
    if path.endswith(".pkl"):
        if isinstance(payload, Mapping) and isinstance(payload.get("ctc_arch"), Mapping):
            return WeightsInfo(arch=dict(payload["ctc_arch"]))
        model = payload.get("model", payload) if isinstance(payload, Mapping) else {}
        return WeightsInfo(arch=arch_of_detectron2_weights(model))
    model = payload.get("model") if isinstance(payload, Mapping) else None
    if isinstance(model, Mapping) and any(key.startswith("backbone.") for key in model):
        return WeightsInfo(arch=arch_of_detectron2_weights(model, BOTTOM_UP_PREFIX))
    try:
        state_dict, arch = load_resnet_state_dict(payload, prefix)
    except UserError as e:  # it says "the given object": name the file
        raise UserError(str(e).replace("the given object", f"MODEL.WEIGHTS {path}", 1)) from None
    where = f"{path}" + (f" under prefix {prefix!r}" if prefix else "")
    logger.info(f"{where} holds a raw {describe_arch(arch)}; it is converted on the fly")
    return WeightsInfo(arch=arch, raw_state_dict=state_dict)
