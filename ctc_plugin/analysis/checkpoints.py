"""A pretraining run folder as the analyses see it: its config and its checkpoints in epoch order.

``tools/pretrain.py`` writes ``OUTPUT_DIR/model_epoch_0001.pth``, ..., ``model_final.pth``
and ``config.yaml``. Every checkpoint holds ``"model"`` (a torchvision-keyed ResNet
state_dict), ``"arch"`` (``ResNet``'s keyword arguments) and ``"epoch"`` (epochs completed).
"""

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from torch import nn

from ..models.resnet import ResNet
from ..utils.errors import UserError
from ..utils.io import load_checkpoint

logger = logging.getLogger(__name__)

__all__ = ["Checkpoint", "list_checkpoints", "load_backbone", "load_run_config", "select_epochs"]

_EPOCH_FILE = re.compile(r"^model_epoch_(\d+)\.pth$")
FINAL_FILE = "model_final.pth"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run: its path and the number of epochs completed."""

    path: str
    epoch: int


def list_checkpoints(run_dir: str) -> List[Checkpoint]:
    """The checkpoints of a run in epoch order.

    ``model_epoch_XXXX.pth`` files give their epoch in the name; ``model_final.pth`` is
    added (its epoch read from the file) only when no epoch file has the same epoch.

    Raises:
        UserError: the folder does not exist or holds no checkpoint.
    """
    if not os.path.isdir(run_dir):
        raise UserError(f"run folder not found: {run_dir}")
    found: Dict[int, Checkpoint] = {}
    for name in os.listdir(run_dir):
        match = _EPOCH_FILE.match(name)
        if match:
            epoch = int(match.group(1))
            found[epoch] = Checkpoint(os.path.join(run_dir, name), epoch)
    final = os.path.join(run_dir, FINAL_FILE)
    if os.path.isfile(final):
        epoch = _read_epoch(final)
        if epoch not in found:
            found[epoch] = Checkpoint(final, epoch)
    if not found:
        raise UserError(f"no checkpoints (model_epoch_XXXX.pth or {FINAL_FILE}) in {run_dir}")
    return [found[e] for e in sorted(found)]


def select_epochs(
    checkpoints: Sequence[Checkpoint], epochs: Optional[Sequence[int]] = None, every: int = 1
) -> List[Checkpoint]:
    """Keep the checkpoints of ``epochs`` (all when None), then every ``every``-th one.

    The last checkpoint is always kept by ``every`` so curves end at the final model.
    """
    chosen = list(checkpoints)
    if epochs:
        available = {c.epoch for c in chosen}
        missing = sorted(set(epochs) - available)
        if missing:
            raise UserError(f"no checkpoint for epoch(s) {missing}; available: {sorted(available)}")
        chosen = [c for c in chosen if c.epoch in set(epochs)]
    if every > 1:
        chosen = [c for i, c in enumerate(chosen) if i % every == 0 or i == len(chosen) - 1]
    return chosen


def _load(path: str) -> Dict[str, Any]:
    try:
        checkpoint = load_checkpoint(path)
    except Exception as e:  # truncated file, not a torch file, unsafe pickle
        raise UserError(
            f"cannot read checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "arch" not in checkpoint:
        raise UserError(f"{path} is not a ctc_plugin checkpoint (needs 'model' and 'arch')")
    return checkpoint


def _read_epoch(path: str) -> int:
    checkpoint = _load(path)
    if "epoch" not in checkpoint:
        raise UserError(f"checkpoint {path} has no 'epoch'")
    return int(checkpoint["epoch"])


def load_backbone(path: str) -> Tuple[nn.Module, int]:
    """Build the ResNet of a checkpoint, load its weights strictly; returns (model, epoch).

    The model is returned in eval mode on the CPU.
    """
    checkpoint = _load(path)
    try:
        model = ResNet(**checkpoint["arch"])
        model.load_state_dict(checkpoint["model"])
    except (TypeError, ValueError, RuntimeError) as e:
        raise UserError(
            f"checkpoint {path} does not fit its 'arch' {checkpoint['arch']}: {str(e).splitlines()[0]}"
        ) from None
    return model.eval(), int(checkpoint.get("epoch", -1))


def load_run_config(run_dir: str) -> Dict[str, Any]:
    """The run's ``config.yaml`` as nested dicts.

    Raises:
        UserError: the folder or the file is missing, or the file is not a YAML mapping.
    """
    if not os.path.isdir(run_dir):
        raise UserError(f"run folder not found: {run_dir}")
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise UserError(f"run folder {run_dir} has no config.yaml")
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} is not a YAML mapping")
    return config


def config_value(config: Dict[str, Any], key: str, default: Any = None) -> Any:
    """``config_value(cfg, "DATASETS.TEST")``: a dotted key of nested dicts, or ``default``."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
