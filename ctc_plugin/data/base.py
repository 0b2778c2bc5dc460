"""The dataset contract: a map-style dataset of ``(PIL image, label)`` with class metadata."""

import os
from typing import Any, Iterable, List, Sequence, Tuple

from torch.utils.data import Dataset

from ..utils.errors import UserError


class ClassificationDataset(Dataset):
    """Base of every registered dataset.

    Subclasses fill ``targets`` (one int label per sample, in sample order) and
    ``classes`` (class names), set ``style`` to the augmentation family that suits
    the images ("cifar": small images cropped with padding, "imagenet": large images
    cropped and resized, "mnist": 28x28 grey), and implement ``load_image(i)`` -> PIL.
    """

    style: str = "imagenet"

    def __init__(self, targets: Sequence[int], classes: Sequence[str]) -> None:
        self.targets: List[int] = [int(t) for t in targets]
        self.classes: List[str] = list(classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def load_image(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Tuple[Any, int]:
        return self.load_image(index), self.targets[index]


def require_files(dataset: str, folder: str, names: Iterable[str]) -> None:
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
        if not (os.path.isdir(path) if name.endswith("/") else os.path.isfile(path)):
            kind = "folder" if name.endswith("/") else "index file"
            raise UserError(f"{dataset}: missing {kind} {name} in {folder}")
