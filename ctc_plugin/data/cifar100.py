"""CIFAR-100 in its official ``cifar-100-python/`` layout (the pickles torchvision reads).

torchvision's ``CIFAR100`` checks the md5 of the official files, so a set written in the
same layout (for a test, or a subset) would be refused; this reader checks the layout only.
"""

import os
import pickle

import numpy as np
from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset, reading_index


class CIFAR100(ClassificationDataset):
    """The 50k/10k 32x32 colour images of ``ROOT/cifar-100-python/{train,test}``, fine labels."""

    style = "cifar"

    def __init__(self, root: str, train: bool) -> None:
        folder = os.path.join(root, "cifar-100-python")
        split = os.path.join(folder, "train" if train else "test")
        meta = os.path.join(folder, "meta")
        for path in (split, meta):
            if not os.path.isfile(path):
                raise UserError(f"CIFAR-100 file missing: {path}")
        with reading_index("CIFAR-100", meta):
            classes = list(_unpickle(meta)["fine_label_names"])
        with reading_index("CIFAR-100", split):
            entry = _unpickle(split)
            super().__init__(entry["fine_labels"], classes)
            self.images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        self.images = self.images.transpose(0, 2, 3, 1)  # NHWC for PIL
        if len(self.images) != len(self.targets):
            raise UserError(f"CIFAR-100 file {split} has {len(self.images)} images but {len(self.targets)} labels")

    def load_image(self, index: int) -> Image.Image:
        return Image.fromarray(self.images[index])


def _unpickle(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            # The official files are Python-2 pickles of plain arrays and lists.
            return pickle.load(f, encoding="latin1")
    except Exception as e:
        raise UserError(f"CIFAR-100 file {path} is not a readable pickle ({type(e).__name__})") from None


@DATASET_REGISTRY.register()
def cifar100_train(root: str) -> CIFAR100:
    return CIFAR100(root, train=True)


@DATASET_REGISTRY.register()
def cifar100_test(root: str) -> CIFAR100:
    return CIFAR100(root, train=False)
