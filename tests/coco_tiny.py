"""Test helper: a tiny COCO in Detectron2's builtin layout, with polygon masks.

``write_tiny_coco(root)`` writes ``root/coco/annotations/instances_{train,val}2017.json``
and ``root/coco/{train,val}2017/*.jpg``; with ``DETECTRON2_DATASETS=root`` the builtin
names ``coco_2017_train`` / ``coco_2017_val`` read it.
"""

import json
import os
from typing import Dict, List

import numpy as np

# The 80 COCO thing categories with their official ids: Detectron2's builtin metadata
# for coco_2017_* insists on exactly these.
from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES
from PIL import Image, ImageDraw

CATEGORIES = [{"id": c["id"], "name": c["name"], "supercategory": "thing"} for c in COCO_CATEGORIES if c["isthing"]]
# (category id, colour) of the shapes drawn: person, car, dog.
SHAPES = ((1, (220, 40, 40)), (3, (40, 200, 40)), (18, (40, 40, 220)))


def _polygon(rng: np.random.Generator, width: int, height: int) -> List[float]:
    """A random quadrilateral of at least 20x20 pixels, as a flat COCO polygon."""
    x0, y0 = float(rng.integers(2, width - 40)), float(rng.integers(2, height - 40))
    w, h = float(rng.integers(20, 38)), float(rng.integers(20, 38))
    dx = float(rng.integers(0, 8))
    return [x0 + dx, y0, x0 + w, y0 + dx, x0 + w - dx, y0 + h, x0, y0 + h - dx]


def _write_split(root: str, split: str, num_images: int, rng: np.random.Generator) -> None:
    image_dir = os.path.join(root, "coco", f"{split}2017")
    os.makedirs(image_dir, exist_ok=True)
    images: List[Dict] = []
    annotations: List[Dict] = []
    width, height = 128, 96
    for image_id in range(1, num_images + 1):
        file_name = f"{image_id:012d}.jpg"
        background = tuple(int(v) for v in rng.integers(90, 160, size=3))
        image = Image.new("RGB", (width, height), background)
        draw = ImageDraw.Draw(image)
        for index in range(2):
            category_id, colour = SHAPES[(image_id + index) % len(SHAPES)]
            polygon = _polygon(rng, width, height)
            draw.polygon(polygon, fill=colour)
            xs, ys = polygon[0::2], polygon[1::2]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": [polygon],
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3] * 0.9,
                    "iscrowd": 0,
                }
            )
        image.save(os.path.join(image_dir, file_name), quality=95)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
    annotation_dir = os.path.join(root, "coco", "annotations")
    os.makedirs(annotation_dir, exist_ok=True)
    with open(os.path.join(annotation_dir, f"instances_{split}2017.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": CATEGORIES}, f)


def write_tiny_coco(root: str, num_train: int = 4, num_val: int = 2, seed: int = 0) -> str:
    """Write the tiny set under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    _write_split(str(root), "train", num_train, rng)
    _write_split(str(root), "val", num_val, rng)
    return str(root)
