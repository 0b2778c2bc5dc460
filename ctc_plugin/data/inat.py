"""iNaturalist-2018 with the official split of ``train2018.json`` / ``val2018.json``.

torchvision's ``INaturalist`` walks the image folders and ignores this split, so the
COCO-style JSON files are read here.
"""

import json
import os
from typing import List

from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset, reading_index, require_files

INAT_INDEX_FILES = {"train": "train2018.json", "test": "val2018.json"}


class INaturalist2018(ClassificationDataset):
    """iNaturalist-2018 (Van Horn et al. 2018): 8,142 species, 437,513 train and 24,426 val images.

    ``ROOT`` holds ``train2018.json``, ``val2018.json`` and the image folders their
    ``file_name`` entries name (``train_val2018/...``). The test split is the official
    validation set (the test labels were never released). Labels are the categories sorted
    by id; both JSON files list all 8,142 categories, so both splits share the labels.

    Args:
        root: the folder that holds the two JSON files.
        split: "train" (train2018.json) or "test" (val2018.json).
    """

    def __init__(self, root: str, split: str = "train") -> None:
        if split not in INAT_INDEX_FILES:
            raise ValueError(f"iNaturalist-2018 split must be train or test, got {split!r}")
        index_name = INAT_INDEX_FILES[split]
        require_files("iNaturalist-2018", root, (index_name,))
        path = os.path.join(root, index_name)
        with reading_index("iNaturalist-2018", path):
            with open(path, encoding="utf-8") as f:
                index = json.load(f)
            if not isinstance(index, dict):
                raise UserError(f"iNaturalist-2018: {path} is not a JSON object of images, annotations, categories")
            for key in ("images", "annotations", "categories"):
                if not isinstance(index.get(key), list):
                    raise UserError(f"iNaturalist-2018: {index_name} has no {key!r} list")
            categories = sorted(index["categories"], key=lambda c: c["id"])
            label_of = {c["id"]: i for i, c in enumerate(categories)}
            category_of_image = {a["image_id"]: a["category_id"] for a in index["annotations"]}
            self.image_paths: List[str] = []
            targets = []
            for image in index["images"]:
                category = category_of_image.get(image["id"])
                if category not in label_of:
                    raise UserError(f"iNaturalist-2018: image {image['id']} of {index_name} has no known category")
                self.image_paths.append(os.path.join(root, image["file_name"]))
                targets.append(label_of[category])
            class_names = [str(c.get("name", c["id"])) for c in categories]
        super().__init__(targets, class_names)

    def load_image(self, index: int) -> Image.Image:
        with Image.open(self.image_paths[index]) as image:
            return image.convert("RGB")


@DATASET_REGISTRY.register()
def inat2018_train(root: str) -> INaturalist2018:
    return INaturalist2018(root, "train")


@DATASET_REGISTRY.register()
def inat2018_test(root: str) -> INaturalist2018:
    return INaturalist2018(root, "test")
