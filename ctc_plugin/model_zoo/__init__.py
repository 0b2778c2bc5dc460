"""The model zoo, in the manner of ``detectron2.model_zoo``: the paper's models by name.

    from ctc_plugin import model_zoo
    cfg = model_zoo.get_config("cifar100_r18_ctc")       # the config to train it
    model = model_zoo.get("cifar100_r18_ctc")            # the untrained network
    model_zoo.get("cifar100_r18_ctc", trained=True)      # WeightsNotAvailableError: none released

See ``model_zoo/MODEL_ZOO.md`` for the table. The configs are read from the copy of the
repository's ``configs/`` that ships inside the package (``ctc_plugin/model_zoo/configs``,
put there by ``setup.py`` as Detectron2's does), so an installed package needs no checkout.
"""

import difflib
import os
from importlib import resources
from typing import List

from torch import nn

from ..utils.errors import UserError
from .catalog import CATALOG, ModelZooEntry

__all__ = [
    "CATALOG",
    "ModelZooEntry",
    "WeightsNotAvailableError",
    "config_name",
    "config_path",
    "get",
    "get_config",
    "get_config_file",
    "list_models",
    "packaged_config",
]


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


def packaged_config(path: str) -> str:
    """The package's copy of ``configs/<path>`` (``path`` may start with ``configs/``).

    Raises:
        UserError: the package has no such config (or was installed without its configs).
    """
    relative = path[len("configs/") :] if path.startswith("configs/") else path
    packaged = os.path.join(str(resources.files(__name__) / "configs"), relative)
    if not os.path.isfile(packaged):
        raise UserError(f"config {relative} is not among the package's configs ({os.path.dirname(packaged)})")
    return packaged


def config_path(path: str) -> str:
    """``path`` when that file exists, else the package's copy of the ``configs/...`` it names."""
    return path if os.path.isfile(path) or not path.startswith("configs/") else packaged_config(path)


def config_name(path: str) -> str:
    """``configs/<path>`` for a file of the package's configs (as ``config_path`` found it), else ``path``."""
    folder = str(resources.files(__name__) / "configs")
    if os.path.isabs(path) and os.path.commonpath([path, folder]) == folder:
        return "configs/" + os.path.relpath(path, folder)
    return path


def get_config_file(name: str) -> str:
    """The path of the model's config file in the package's copy of ``configs/``."""
    return packaged_config(get_entry(name).config)


def get_config(name: str, trained: bool = False):
    """The full config of a model: the defaults merged with its config file.

    Raises:
        WeightsNotAvailableError: ``trained`` and no weights were released.
    """
    from ..config import get_cfg, merge_config

    if trained:
        _refuse_trained(name)
    return merge_config(get_cfg(), get_config_file(name), [])


def get(name: str, trained: bool = False, device: str = "") -> nn.Module:
    """The model's network (untrained: no weights of this paper were released).

    Raises:
        WeightsNotAvailableError: ``trained``.
    """
    from ..backbones import build_backbone

    cfg = get_config(name, trained)
    cfg.MODEL.NUM_CLASSES = cfg.MODEL.NUM_CLASSES or get_entry(name).num_classes
    model = build_backbone(cfg)
    return model.to(device) if device else model


def _refuse_trained(name: str) -> None:
    entry = get_entry(name)
    raise WeightsNotAvailableError(
        f"no trained weights are available for {name}: none were released for this paper; "
        f"train it with ctc-pretrain --config-file configs/{entry.config}"
    )
