"""Fashion-MNIST from gzipped (or plain) IDX files: the real data every machine of ours has.

Two layouts are read: Debian's ``dataset-fashion-mnist`` (the files directly in ROOT,
``/usr/share/datasets/fashion-mnist``) and torchvision's (``ROOT/FashionMNIST/raw``).
"""

import gzip
import os
from typing import List

import numpy as np
from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset

CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DEBIAN_ROOT = "/usr/share/datasets/fashion-mnist"


class FashionMNIST(ClassificationDataset):
    """The 60k/10k 28x28 grey images; ``style`` "mnist" pads them to 32x32 colour."""

    style = "mnist"

    def __init__(self, root: str, train: bool) -> None:
        prefix = "train" if train else "t10k"
        images = _read_idx(_find(root, f"{prefix}-images-idx3-ubyte"), ndim=3)
        labels = _read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"), ndim=1)
        if len(images) != len(labels):
            raise UserError(f"Fashion-MNIST in {root}: {len(images)} images but {len(labels)} labels")
        super().__init__(labels.tolist(), CLASSES)
        self.images = images

    def load_image(self, index: int) -> Image.Image:
        return Image.fromarray(self.images[index], mode="L")


def _find(root: str, name: str) -> str:
    candidates: List[str] = []
    for folder in (root, os.path.join(root, "FashionMNIST", "raw")):
        candidates += [os.path.join(folder, name + ".gz"), os.path.join(folder, name)]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise UserError(f"Fashion-MNIST file {name}(.gz) not found in {root} or {root}/FashionMNIST/raw")


def _read_idx(path: str, ndim: int) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read IDX file {path}: {e}") from None
    # IDX header: two zero bytes, a type code (0x08 = ubyte), the number of dimensions,
    # then one big-endian int32 per dimension.
    if len(data) < 4 or data[2] != 0x08 or data[3] != ndim:
        raise UserError(f"{path} is not a {ndim}-d ubyte IDX file")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise UserError(f"IDX file {path} is truncated")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


@DATASET_REGISTRY.register()
def fashion_mnist_train(root: str) -> FashionMNIST:
    return FashionMNIST(root or DEBIAN_ROOT, train=True)


@DATASET_REGISTRY.register()
def fashion_mnist_test(root: str) -> FashionMNIST:
    return FashionMNIST(root or DEBIAN_ROOT, train=False)
