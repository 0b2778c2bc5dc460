"""CINIC-10 in its official layout: ``ROOT/{train,valid,test}/<class>/*.png``, 32x32 colour.

Classes are the class folders in sorted order (airplane, automobile, bird, cat, deer,
dog, frog, horse, ship, truck in the release); every split must have the same ones.
"""

import os
from typing import List

from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset

SPLITS = ("train", "valid", "test")
EXTENSIONS = (".png", ".jpg", ".jpeg")


class CINIC10(ClassificationDataset):
    """One split of CINIC-10 (90k images each); images are read lazily from their files."""

    style = "cifar"

    def __init__(self, root: str, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"CINIC-10 split must be one of {SPLITS}, got {split!r}")
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            raise UserError(f"CINIC-10 split folder missing: {folder}")
        classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
        if not classes:
            raise UserError(f"CINIC-10 folder {folder} has no class folders")
        self.image_paths: List[str] = []
        targets: List[int] = []
        for label, name in enumerate(classes):
            class_dir = os.path.join(folder, name)
            files = sorted(e.name for e in os.scandir(class_dir) if e.name.lower().endswith(EXTENSIONS))
            self.image_paths += [os.path.join(class_dir, f) for f in files]
            targets += [label] * len(files)
        super().__init__(targets, classes)

    def load_image(self, index: int) -> Image.Image:
        with Image.open(self.image_paths[index]) as image:
            return image.convert("RGB")


@DATASET_REGISTRY.register()
def cinic10_train(root: str) -> CINIC10:
    return CINIC10(root, "train")


@DATASET_REGISTRY.register()
def cinic10_valid(root: str) -> CINIC10:
    return CINIC10(root, "valid")


@DATASET_REGISTRY.register()
def cinic10_test(root: str) -> CINIC10:
    return CINIC10(root, "test")
