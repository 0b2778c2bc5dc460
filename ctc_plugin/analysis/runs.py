"""A pretraining run folder as the analyses see it: its config and its checkpoints in epoch order.

A run writes ``OUTPUT_DIR/config.yaml``, ``model_epoch_0001.pth``, ..., ``model_final.pth``
(``ctc_plugin.checkpoint.files``). Every checkpoint holds ``"model"`` (the network's
state_dict), ``"backbone"`` (the registered builder and ``cfg.MODEL``, to rebuild it
through ``BACKBONE_REGISTRY``) and ``"epoch"``.
"""

import os
from typing import List, Optional, Sequence, Tuple

from fvcore.common.config import CfgNode
from torch import nn

from ..backbones import build_from_record
from ..checkpoint import Checkpoint, load_file
from ..config import get_cfg, merge_config
from ..data import NORMALIZATION, build_dataset
from ..utils.errors import UserError, first_line


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


def load_backbone(path: str) -> Tuple[nn.Module, int]:
    """The network of a checkpoint, rebuilt through the registry and loaded strictly: (model, epoch).

    The model is returned in eval mode on the CPU.

    Raises:
        UserError: an unreadable file, one without a network record, a builder that is not
            registered, or weights that do not fit the rebuilt network.
    """
    checkpoint = load_file(path)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise UserError(f"{path} is not a ctc_plugin checkpoint (no 'model')")
    model = build_from_record(checkpoint.get("backbone"), path)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as e:
        raise UserError(f"checkpoint {path} does not fit the network its record describes: {first_line(e)}") from None
    return model.eval(), int(checkpoint.get("epoch", -1))


def run_normalization(cfg: CfgNode) -> Tuple[List[float], List[float]]:
    """The (mean, std) a run normalised its images with: its config's ``INPUT.PIXEL_MEAN`` /
    ``PIXEL_STD``, which every run records in ``config.yaml`` (completed from the training set
    before the file is written).

    Runs written before the config was completed first record empty values: for them, and only
    for them, the statistics of the training set's style are looked up by building that set.
    """
    if cfg.INPUT.get("PIXEL_MEAN") and cfg.INPUT.get("PIXEL_STD"):
        return list(cfg.INPUT.PIXEL_MEAN), list(cfg.INPUT.PIXEL_STD)
    try:
        mean, std = NORMALIZATION[build_dataset(cfg.DATASETS.TRAIN, cfg.DATASETS.ROOT).style]
    except UserError as e:
        raise UserError(
            f"the run records no INPUT.PIXEL_MEAN / PIXEL_STD and its training set cannot tell: {e}"
        ) from None
    return list(mean), list(std)


def load_run_config(run_dir: str) -> CfgNode:
    """The run's ``config.yaml`` over the defaults (keys of a user's extensions are kept).

    Raises:
        UserError: the folder or the file is missing, or the file cannot be read.
    """
    if not os.path.isdir(run_dir):
        raise UserError(f"run folder not found: {run_dir}")
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise UserError(f"run folder {run_dir} has no config.yaml")
    cfg = get_cfg()
    cfg.set_new_allowed(True)
    return merge_config(cfg, path, [])
