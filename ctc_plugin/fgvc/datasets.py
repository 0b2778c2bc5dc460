"""The fine-grained datasets by name, also registered as ``<name>_train`` / ``<name>_test``."""

import os
from typing import Dict, Type

from ..data.base import ClassificationDataset
from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .aircraft import FGVCAircraft
from .cub import CUB200
from .inat import INaturalist2018
from .index_files import require_paths

FGVC_DATASETS: Dict[str, Type[ClassificationDataset]] = {
    "cub200": CUB200,
    "aircraft": FGVCAircraft,
    "inat2018": INaturalist2018,
}


def build_fgvc_dataset(name: str, root: str, split: str) -> ClassificationDataset:
    """The ``split`` ("train" or "test") of the dataset ``name`` read from ``root``.

    Raises:
        UserError: an unknown name, a missing index file, or an empty split.
    """
    if name not in FGVC_DATASETS:
        raise UserError(f"unknown DATASETS.NAME {name!r}; one of {', '.join(FGVC_DATASETS)}")
    dataset = FGVC_DATASETS[name](root, split)
    if len(dataset) == 0:
        raise UserError(f"{name}: the {split} split in {root} is empty")
    return dataset


def check_fgvc_layout(name: str, root: str) -> None:
    """Raise ``UserError`` unless both splits' index files are in place (nothing is parsed)."""
    if name not in FGVC_DATASETS:
        raise UserError(f"unknown DATASETS.NAME {name!r}; one of {', '.join(FGVC_DATASETS)}")
    if not os.path.isdir(root):
        raise UserError(f"dataset root not found: {root} (DATASETS.ROOT)")
    dataset_class = FGVC_DATASETS[name]
    for split in ("train", "test"):
        require_paths(name, *dataset_class.required_paths(root, split))


def _register(name: str, split: str) -> None:
    def build(root: str) -> ClassificationDataset:
        return FGVC_DATASETS[name](root, split)

    build.__name__ = f"{name}_{split}"
    build.__doc__ = f"The {split} split of {FGVC_DATASETS[name].__name__}."
    DATASET_REGISTRY.register(build)


for _name in FGVC_DATASETS:
    for _split in ("train", "test"):
        _register(_name, _split)
