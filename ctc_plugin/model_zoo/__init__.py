"""The model zoo, in the manner of ``detectron2.model_zoo``: the paper's models by name.

    from ctc_plugin import model_zoo
    cfg = model_zoo.get_config("cifar100_r18_ctc")       # the config to train it
    model = model_zoo.get("cifar100_r18_ctc")            # the untrained network
    model_zoo.get("cifar100_r18_ctc", trained=True)      # WeightsNotAvailableError: none released

See ``model_zoo/MODEL_ZOO.md`` for the table. Configs are read from the repository's
``configs/`` folder, or from ``$CTC_PLUGIN_CONFIG_DIR`` when set.
"""

import difflib
import hashlib
import logging
import os
from typing import List, Optional

from torch import nn

from ..utils.errors import UserError
from .catalog import CATALOG, ModelZooEntry

logger = logging.getLogger(__name__)

__all__ = [
    "CATALOG",
    "ModelZooEntry",
    "WeightsNotAvailableError",
    "get",
    "get_checkpoint",
    "get_config",
    "get_config_file",
    "get_entry",
    "list_models",
]

_REPO_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs")


class WeightsNotAvailableError(UserError):
    """The model has no released weights (every model of this paper, so far)."""


def list_models() -> List[str]:
    """Names of every model in the zoo."""
    return list(CATALOG)


def get_entry(name: str) -> ModelZooEntry:
    """The catalog entry of ``name``; a ``UserError`` naming the closest names otherwise."""
    if name not in CATALOG:
        close = difflib.get_close_matches(name, list(CATALOG), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; models: {', '.join(CATALOG)}"
        raise UserError(f"no model {name!r} in the model zoo{hint}")
    return CATALOG[name]


def get_config_file(name: str) -> str:
    """The path of the model's config file."""
    entry = get_entry(name)
    folder = os.environ.get("CTC_PLUGIN_CONFIG_DIR") or _REPO_CONFIGS
    path = os.path.join(folder, entry.config)
    if not os.path.isfile(path):
        raise UserError(
            f"config {entry.config} of model {name} not found in {folder} "
            "(the zoo reads the repository's configs/; set CTC_PLUGIN_CONFIG_DIR to another copy)"
        )
    return path


def get_config(name: str, trained: bool = False):
    """The full config of a model: the defaults merged with its config file.

    Args:
        trained: also set ``MODEL.WEIGHTS`` to the released weights (downloaded and
            checked); raises ``WeightsNotAvailableError`` where there are none.
    """
    from ..config import get_cfg  # the project's config needs fvcore; keep the import local
    from ..utils.cli import merge_config

    cfg = get_cfg()
    merge_config(cfg, get_config_file(name), [])
    if trained:
        cfg.MODEL.WEIGHTS = get_checkpoint(name)
    return cfg


def get(name: str, trained: bool = False, device: Optional[str] = None) -> nn.Module:
    """The model's network, with its released weights when ``trained``.

    Raises:
        WeightsNotAvailableError: ``trained`` and no weights were released.
    """
    from ..models import build_backbone
    from ..utils.io import load_checkpoint

    cfg = get_config(name)
    if trained:
        path = get_checkpoint(name)  # before building anything: fail fast
    cfg.MODEL.NUM_CLASSES = cfg.MODEL.NUM_CLASSES or get_entry(name).num_classes
    model = build_backbone(cfg)
    if trained:
        checkpoint = load_checkpoint(path)
        model.load_state_dict(checkpoint.get("model", checkpoint))
    return model.to(device) if device else model


def _cache_dir() -> str:
    import torch.hub

    return os.environ.get("CTC_PLUGIN_CACHE") or os.path.join(torch.hub.get_dir(), "checkpoints", "ctc_plugin")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get_checkpoint(name: str) -> str:
    """Local path of the model's released checkpoint, downloaded once and sha256-checked.

    Raises:
        WeightsNotAvailableError: the paper's authors (and we) released no weights for it.
    """
    entry = get_entry(name)
    if not entry.has_weights:
        raise WeightsNotAvailableError(
            f"no trained weights are available for {name}: none were released for this paper; "
            f"train it with tools/pretrain.py --config-file configs/{entry.config}"
        )
    import torch.hub

    path = os.path.join(_cache_dir(), f"{name}-{entry.sha256[:8]}.pth")
    if not os.path.isfile(path) or _sha256(path) != entry.sha256:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        logger.info(f"Downloading {entry.weights_url} to {path}")
        try:
            torch.hub.download_url_to_file(entry.weights_url, path, progress=False)
        except Exception as e:  # no network, 404, ...
            raise UserError(f"cannot download the weights of {name} from {entry.weights_url}: {e}") from None
        if _sha256(path) != entry.sha256:
            os.remove(path)
            raise UserError(f"the weights downloaded for {name} do not match their sha256; not used")
    return path
