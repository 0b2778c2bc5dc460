"""FGVC-Aircraft 2013b at the variant level, read as torchvision's ``FGVCAircraft`` reads it."""

import os
from typing import List

from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset, reading_index, require_files

AIRCRAFT_FOLDER = "fgvc-aircraft-2013b"
AIRCRAFT_SPLITS = {"train": "trainval", "test": "test"}


class FGVCAircraft(ClassificationDataset):
    """FGVC-Aircraft (Maji et al. 2013): 100 variants, 6,667 trainval and 3,333 test images.

    Reads ``ROOT/fgvc-aircraft-2013b/data/``: ``variants.txt`` (one class name a line, in
    label order), ``images_variant_{trainval,test}.txt`` ("<image id> <variant name>") and
    ``images/<image id>.jpg``. The images keep their 20-pixel copyright banner, as in
    torchvision.

    Args:
        root: the folder that holds ``fgvc-aircraft-2013b/``.
        split: "train" (the official trainval) or "test".
    """

    def __init__(self, root: str, split: str = "train") -> None:
        if split not in AIRCRAFT_SPLITS:
            raise ValueError(f"FGVC-Aircraft split must be train or test, got {split!r}")
        self.folder = os.path.join(root, AIRCRAFT_FOLDER)
        index_name = f"data/images_variant_{AIRCRAFT_SPLITS[split]}.txt"
        require_files("FGVC-Aircraft", self.folder, ("data/variants.txt", index_name, "data/images/"))
        variants_path = os.path.join(self.folder, "data/variants.txt")
        with reading_index("FGVC-Aircraft", variants_path):
            with open(variants_path, encoding="utf-8") as f:
                classes = [line.strip() for line in f if line.strip()]
        label_of = {name: i for i, name in enumerate(classes)}
        self.image_paths: List[str] = []
        targets = []
        index_path = os.path.join(self.folder, index_name)
        with reading_index("FGVC-Aircraft", index_path):
            with open(index_path, encoding="utf-8") as f:
                lines = [(number, line.strip()) for number, line in enumerate(f, 1) if line.strip()]
        for number, line in lines:
            if " " not in line:
                raise UserError(f"FGVC-Aircraft: line {number} of {index_path} is not '<image id> <variant>': {line!r}")
            image_id, variant = line.split(" ", 1)
            if variant not in label_of:
                raise UserError(f"FGVC-Aircraft: variant {variant!r} of {index_name} is not in variants.txt")
            self.image_paths.append(os.path.join(self.folder, "data", "images", f"{image_id}.jpg"))
            targets.append(label_of[variant])
        super().__init__(targets, classes)

    def load_image(self, index: int) -> Image.Image:
        with Image.open(self.image_paths[index]) as image:
            return image.convert("RGB")


@DATASET_REGISTRY.register()
def aircraft_train(root: str) -> FGVCAircraft:
    return FGVCAircraft(root, "train")


@DATASET_REGISTRY.register()
def aircraft_test(root: str) -> FGVCAircraft:
    return FGVCAircraft(root, "test")
