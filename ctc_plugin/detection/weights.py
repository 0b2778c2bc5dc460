"""What ``MODEL.WEIGHTS`` holds for Detectron2: the checkpoint Detectron2 loads and its network's record, read once.

Every file we write carries the record of its network, so Detectron2's builders read the record,
not the tensors: the pre-flight, the backbone builder and the checkpointer of one process share one
read of the file (``read_weights`` keeps the latest file read, keyed by its path, prefix, size and
modification time; the checkpointer lets it go once it has loaded it). A raw file (a pretraining
checkpoint, a timm file ``ctc-convert`` wrote, a torchvision or MoCo ResNet) is converted by the
converter registered for its network when it is read, and its record is the converted one.

How a Detectron2 backbone builder picks its network from that record is registered beside it
(``register_network_choice``), so that the pre-flight refuses weights the builder cannot build, and a
resumed checkpoint of another network, before any process starts. A builder keeps the record of the
network it built on the backbone it returns (``backbone.network_record``): ``CTCDetectionCheckpointer``
writes it into every checkpoint.
"""

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ..backbones.records import resnet_record, timm_record
from ..checkpoint import load_file
from ..convert.detectron2 import AUTHOR, arch_of_detectron2_weights, summarize_dropped
from ..convert.registry import convert
from ..convert.source import BOTTOM_UP_PREFIX, is_detectron2_file, read_source
from ..utils.errors import UserError

logger = logging.getLogger(__name__)


@dataclass
class WeightsFile:
    """A weights file as Detectron2 takes it.

    Attributes:
        checkpoint: what ``DetectionCheckpointer`` loads (``{"model": ...}``), converted when the file
            was raw; None for a file Detectron2 reads itself (a Caffe2 pickle).
        record: the record of the network in the file; None when it says none we can read.
    """

    checkpoint: Optional[Dict[str, Any]]
    record: Optional[Dict[str, Any]]


_latest: Dict[Tuple[str, str, int, int], WeightsFile] = {}


def read_weights(path: str, prefix: str = "", label: str = "MODEL.WEIGHTS") -> Optional[WeightsFile]:
    """``path`` as Detectron2 takes it, read once per process (until ``release_weights``).

    Args:
        path: a converted ``.pkl``, a Detectron2 checkpoint, a raw checkpoint or timm file, a URL or "".
        prefix: sub-network of a raw checkpoint (``MODEL.CTC.WEIGHTS_PREFIX``).
        label: what the file is, for messages.

    Returns:
        None for "", a URL, a ``.pyth`` file or a path that is not a file: Detectron2 reads them itself.

    Raises:
        UserError: an unreadable file, or a raw one whose network has no Detectron2 converter.
    """
    if not path or "://" in path or not os.path.isfile(path) or path.endswith(".pyth"):
        return None
    status = os.stat(path)
    key = (os.path.abspath(path), prefix, status.st_size, status.st_mtime_ns)
    if key not in _latest:
        _latest.clear()
        _latest[key] = _read(path, prefix, label)
    return _latest[key]


def release_weights() -> None:
    """Forget the file ``read_weights`` keeps (the checkpointer has loaded it)."""
    _latest.clear()


def _read(path: str, prefix: str, label: str) -> WeightsFile:
    payload = load_file(path, label)
    if not isinstance(payload, Mapping):
        raise UserError(f"{label} {path} holds a {type(payload).__name__}, not a checkpoint")
    if path.endswith(".pkl"):
        if "model" not in payload or "__author__" not in payload:
            return WeightsFile(None, None)  # a Caffe2 / Detectron1 pickle: Detectron2's own reader converts it
        return WeightsFile(dict(payload), _record_of(payload, ""))
    if _is_detectron2_checkpoint(payload):
        return WeightsFile(dict(payload), _record_of(payload, BOTTOM_UP_PREFIX))
    try:
        source = read_source(payload, prefix)
    except UserError as e:  # it says "the given object": name the file
        raise UserError(str(e).replace("the given object", f"{label} {path}", 1)) from None
    source.name = f"{label} {path}" + (f" under prefix {prefix!r}" if prefix else "")
    weights = convert(source, "detectron2")
    checkpoint = dict(weights.checkpoint, __author__=f"{AUTHOR} (converted on the fly from {path})")
    logger.info(
        f"Converted {len(checkpoint['model'])} tensors of {source.name} ({source.describe()}) to Detectron2's "
        f"names; dropped {summarize_dropped(weights.dropped)}"
    )
    return WeightsFile(checkpoint, checkpoint.get("backbone"))


def _is_detectron2_checkpoint(payload: Mapping[str, Any]) -> bool:
    """Ours (its bottom-up under ``backbone.bottom_up.``) or any other Detectron2 model's, which has no record."""
    model = payload.get("model")
    if not isinstance(model, Mapping):
        return False
    return is_detectron2_file(payload) or (
        "backbone" not in payload and any(str(key).startswith("backbone.") for key in model)
    )


def _record_of(payload: Mapping[str, Any], prefix: str) -> Optional[Dict[str, Any]]:
    """A Detectron2 file's record; for a file written before records, the one its keys or old entries imply."""
    if isinstance(payload.get("backbone"), Mapping):
        return dict(payload["backbone"])
    if isinstance(payload.get("timm_name"), str):
        return timm_record(payload["timm_name"])
    arch = payload.get("ctc_arch")
    if not isinstance(arch, Mapping):
        arch = arch_of_detectron2_weights(payload["model"], prefix)
    return resnet_record(arch["depth"], arch["stem"]) if arch else None


def record_of_checkpoint(path: str) -> Optional[Dict[str, Any]]:
    """The record of a Detectron2 checkpoint of ours (the one resume would take), mapped rather than read."""
    payload = load_file(path, "checkpoint", mmap=True)
    return _record_of(payload, BOTTOM_UP_PREFIX) if _is_detectron2_checkpoint(payload) else None


def weights_record(cfg) -> Optional[Dict[str, Any]]:
    """The record of the network in ``MODEL.WEIGHTS`` (read once per process), or None when it says none."""
    loaded = read_weights(cfg.MODEL.WEIGHTS, cfg.MODEL.CTC.WEIGHTS_PREFIX)
    return loaded.record if loaded is not None else None


NetworkChoice = Callable[[Any, Optional[Dict[str, Any]]], Dict[str, Any]]
# Detectron2 backbone builder -> how it picks its network from the config and MODEL.WEIGHTS' record.
NETWORK_CHOICES: Dict[str, NetworkChoice] = {}


def register_network_choice(backbone: str) -> Callable[[NetworkChoice], NetworkChoice]:
    """Register how the Detectron2 backbone builder ``backbone`` picks its network.

    The decorated ``choose(cfg, record)`` gets ``MODEL.WEIGHTS``' record (None when it has none) and
    returns the record of the network the builder builds, or raises ``UserError`` for weights it cannot
    build. A builder without one builds the network ``MODEL.WEIGHTS`` records.
    """

    def register(choose: NetworkChoice) -> NetworkChoice:
        NETWORK_CHOICES[backbone] = choose
        return choose

    return register


def chosen_network(cfg) -> Optional[Dict[str, Any]]:
    """The record of the network ``MODEL.BACKBONE.NAME`` builds for ``cfg`` (None: the weights say none)."""
    choose = NETWORK_CHOICES.get(cfg.MODEL.BACKBONE.NAME)
    record = weights_record(cfg)
    return choose(cfg, record) if choose is not None else record
