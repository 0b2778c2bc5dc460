"""The one reader of weight files: every tool and bridge reads checkpoints through here.

Formats: ``.safetensors`` (with the record its metadata carries); ``.pkl`` (Detectron2's pickles,
read as Detectron2 reads them); anything else with ``torch.load(weights_only=True)``, so no code
is ever unpickled from a ``.pth``. A state_dict is found inside the usual wrappers
(``{"model": ...}``, ``{"state_dict": ...}``, DDP's ``module.``), and ``prefix`` picks a
sub-network such as MoCo's ``module.encoder_q.``.
"""

import json
import os
import pickle
from typing import Any, Dict, Iterable, List, Mapping, Tuple, Union

import torch

from ..utils.errors import UserError, first_line

# Keys that hold state dicts inside checkpoints, in the order they are tried.
WRAPPER_KEYS = ("model", "state_dict", "model_state", "network")
# Sub-networks that are a momentum copy or a teacher: a prefix hint lists them last.
_SECONDARY = ("encoder_k", "momentum", "target", "teacher", "ema", "key_encoder")


class UnreadableFileError(UserError):
    """A weights file that is missing or cannot be read; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def load_file(path: str, label: str = "checkpoint", mmap: bool = False) -> Any:
    """The content of a weights file, on the CPU.

    Args:
        path: the file.
        label: what the file is, for messages ("MODEL.WEIGHTS", "checkpoint").
        mmap: map a torch file's tensors instead of reading them: a cheap check that the
            file is whole (a truncated zip has no central directory).

    Raises:
        UnreadableFileError: the file is missing or cannot be read in its format.
    """
    if not os.path.isfile(path):
        raise UnreadableFileError(f"{label} {path} does not exist", "missing")
    try:
        if path.endswith(".safetensors"):
            return _read_safetensors(path)
        if path.endswith(".pkl"):
            with open(path, "rb") as f:  # Detectron2 reads its .pkl files with pickle too
                return pickle.load(f, encoding="latin1")
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # truncated, corrupt, another format, arbitrary pickled objects
        reason = _reason(e)
        raise UnreadableFileError(f"cannot read {label} {path} {_format(path)}: {reason}", reason) from None


def _read_safetensors(path: str) -> Any:
    """A safetensors file's tensors; with the metadata we write (a network's record, where the weights came from),
    laid out as our torch files are: ``{"state_dict": tensors, "backbone": record, "meta": {...}}``."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        metadata = dict(f.metadata() or {})
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    if "backbone" not in metadata and "timm_model" not in metadata:  # a foreign file (or one of ours before records)
        return tensors
    payload: Dict[str, Any] = {"state_dict": tensors}
    if "backbone" in metadata:
        payload["backbone"] = json.loads(metadata.pop("backbone"))
    return {**payload, "meta": metadata}


def _format(path: str) -> str:
    if path.endswith(".safetensors"):
        return "as safetensors"
    return "as a Detectron2 pickle" if path.endswith(".pkl") else "as a torch checkpoint"


def _reason(error: BaseException) -> str:
    text = str(error)
    if any(s in text for s in ("central directory", "mmap can only be used", "invalid load key", "truncated")):
        return "the file is truncated or is not a checkpoint"
    if "Weights only load failed" in text:
        return (
            "the file is not one torch.save wrote, or it holds Python objects besides tensors and plain "
            "containers, which are never unpickled (weights_only)"
        )
    return f"{type(error).__name__}: {first_line(error)}"


def find_state_dict(payload: Any) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint's state_dict, found through its wrappers, without DDP's ``module.``."""
    current = payload if isinstance(payload, Mapping) else {}
    while not any(isinstance(value, torch.Tensor) for value in current.values()):
        inner = next((current[key] for key in WRAPPER_KEYS if isinstance(current.get(key), Mapping)), None)
        if inner is None:
            break
        current = inner
    return {_strip_module(key): value for key, value in current.items() if isinstance(value, torch.Tensor)}


def _strip_module(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def select_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str, name: str) -> Dict[str, torch.Tensor]:
    """The tensors under ``prefix`` (``module.`` optional in it), renamed without it."""
    if not prefix:
        return dict(state_dict)
    prefix = _strip_module(prefix)
    prefix = prefix if prefix.endswith(".") else prefix + "."
    selected = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
    if not selected:
        heads = sorted({key.split(".", 1)[0] + "." for key in state_dict})
        raise UserError(f"no key in {name} starts with prefix {prefix!r}; its keys start with {', '.join(heads[:8])}")
    return selected


def sub_networks(keys: Iterable[str], anchor: str) -> List[str]:
    """Prefixes under which a network with the key ``anchor`` sits, the online (query) one first.

    MoCo's ``encoder_q.`` comes before its momentum copy ``encoder_k.``, a student before its
    teacher: the network a method trains is the one its own tools convert.
    """
    found = {key[: -len(anchor)] for key in keys if key.endswith("." + anchor)}
    return sorted(found, key=lambda p: (any(s in p for s in _SECONDARY), p))


def prefix_hint(keys: Iterable[str], anchor: str) -> str:
    """'; pass one of X, Y as --prefix / MODEL.WEIGHTS_PREFIX' when sub-networks exist, else ''."""
    candidates = sub_networks(keys, anchor)
    if not candidates:
        return ""
    listed = ", ".join(repr(p) for p in candidates)
    return f" (the network sits under {listed}: pass the first as the prefix)"


def read_state_dict(
    source: Union[str, Mapping[str, Any]], prefix: str = "", label: str = "checkpoint"
) -> Tuple[Dict[str, torch.Tensor], Mapping[str, Any]]:
    """(tensors, payload): the state_dict of a file or of an already loaded object.

    Args:
        source: a path, or a checkpoint's content.
        prefix: keep only the keys under this sub-network.
        label: what the file is, for messages.

    Raises:
        UserError: unreadable file, no mapping inside, or a prefix that matches nothing.
    """
    name = f"{label} {source}" if isinstance(source, str) else "the given object"
    payload = load_file(source, label) if isinstance(source, str) else source
    if not isinstance(payload, Mapping):
        raise UserError(f"{name} holds a {type(payload).__name__}, not a state_dict")
    return select_prefix(find_state_dict(payload), prefix, name), payload
