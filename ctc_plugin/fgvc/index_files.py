"""The one check every fine-grained reader starts with: the official index files are there."""

import os
from typing import Iterable

from ..utils.errors import UserError


def require_paths(dataset: str, folder: str, names: Iterable[str]) -> None:
    """Raise ``UserError`` naming the first of ``names`` (files, or folders ending in "/") missing under ``folder``.

    Args:
        dataset: the dataset's name, for the message.
        folder: the dataset's top folder (e.g. ``ROOT/CUB_200_2011``).
        names: paths relative to ``folder``.
    """
    if not os.path.isdir(folder):
        raise UserError(
            f"{dataset}: folder not found: {folder} (DATASETS.ROOT must hold what the official archive extracts to)"
        )
    for name in names:
        path = os.path.join(folder, name)
        exists = os.path.isdir(path) if name.endswith("/") else os.path.isfile(path)
        if not exists:
            kind = "folder" if name.endswith("/") else "index file"
            raise UserError(f"{dataset}: missing {kind} {name} in {folder}")
