"""CUB-200-2011 in its official layout, split by ``train_test_split.txt``."""

import os
from typing import Dict, List

from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset, reading_index, require_files

CUB_FOLDER = "CUB_200_2011"
CUB_INDEX_FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt", "images/")


class CUB200(ClassificationDataset):
    """Caltech-UCSD Birds-200-2011 (Wah et al. 2011): 5,994 train and 5,794 test images, 200 classes.

    Reads ``ROOT/CUB_200_2011/``: ``images.txt`` ("<id> <path>"), ``image_class_labels.txt``
    ("<id> <class id from 1>"), ``train_test_split.txt`` ("<id> <1 train | 0 test>"),
    ``classes.txt`` ("<class id> <name>") and ``images/<path>``.

    Args:
        root: the folder that holds ``CUB_200_2011/``.
        split: "train" or "test".
    """

    def __init__(self, root: str, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"CUB-200-2011 split must be train or test, got {split!r}")
        self.folder = os.path.join(root, CUB_FOLDER)
        require_files("CUB-200-2011", self.folder, CUB_INDEX_FILES)
        paths = _read_columns(self.folder, "images.txt")
        labels = _read_columns(self.folder, "image_class_labels.txt")
        is_train = _read_columns(self.folder, "train_test_split.txt")
        class_names = _read_columns(self.folder, "classes.txt")
        class_ids = sorted(class_names, key=int)  # ids are checked to be integers
        label_of_class = {class_id: i for i, class_id in enumerate(class_ids)}
        wanted = "1" if split == "train" else "0"
        image_ids = [i for i in sorted(paths, key=int) if is_train.get(i) == wanted]
        for image_id in image_ids:
            if labels.get(image_id) not in label_of_class:
                raise UserError(f"CUB-200-2011: image {image_id} has no known class in image_class_labels.txt")
        self.image_paths: List[str] = [os.path.join(self.folder, "images", paths[i]) for i in image_ids]
        super().__init__([label_of_class[labels[i]] for i in image_ids], [class_names[c] for c in class_ids])

    def load_image(self, index: int) -> Image.Image:
        with Image.open(self.image_paths[index]) as image:
            return image.convert("RGB")


def _read_columns(folder: str, name: str) -> Dict[str, str]:
    """``"<integer id> <value>"`` lines -> {id: value}."""
    path = os.path.join(folder, name)
    with reading_index("CUB-200-2011", path):
        with open(path, encoding="utf-8") as f:
            lines = [(number, line.strip()) for number, line in enumerate(f, 1) if line.strip()]
    pairs = {}
    for number, line in lines:
        pair = line.split(" ", 1)
        if len(pair) != 2 or not pair[0].isdigit():
            raise UserError(f"CUB-200-2011: line {number} of {path} is not '<integer id> <value>': {line[:80]!r}")
        pairs[pair[0]] = pair[1]
    return pairs


@DATASET_REGISTRY.register()
def cub200_train(root: str) -> CUB200:
    return CUB200(root, "train")


@DATASET_REGISTRY.register()
def cub200_test(root: str) -> CUB200:
    return CUB200(root, "test")
