"""A small COCO-format detection set of synthetic shapes with exact polygon masks.

No real annotated images can be had offline, so the demo (and the tests) draw filled
polygons (triangles, quadrilaterals, 16-gon "discs") on textured backgrounds; the mask
of each object is exactly its polygon. Written in Detectron2's builtin ``coco/`` layout,
``root/coco/{train,val}2017/*.jpg`` and ``root/coco/annotations/instances_{split}2017.json``,
so that with ``DETECTRON2_DATASETS=root`` the builtin ``coco_2017_*`` names read it. The
JSON lists COCO's 80 thing categories (the builtin metadata requires them); the shapes
use three of them.
"""

import math
import os
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..utils.io import atomic_write_json

# (COCO category id, number of polygon vertices, fill colour) of the three shape kinds.
SHAPES: Tuple[Tuple[int, int, Tuple[int, int, int]], ...] = (
    (1, 3, (220, 40, 40)),  # "person": triangles
    (3, 4, (40, 200, 40)),  # "car": quadrilaterals
    (18, 16, (40, 40, 220)),  # "dog": discs
)


def _coco_categories() -> List[Dict]:
    from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES

    return [{"id": c["id"], "name": c["name"], "supercategory": "thing"} for c in COCO_CATEGORIES if c["isthing"]]


def _polygon(rng: np.random.Generator, vertices: int, left: float, width: float, height: int) -> List[float]:
    """A convex polygon with ``vertices`` corners inside the strip [left, left + width)."""
    radius = float(rng.uniform(0.25, 0.45) * min(width, height))
    cx = float(rng.uniform(left + radius + 2, left + width - radius - 2))
    cy = float(rng.uniform(radius + 2, height - radius - 2))
    start = float(rng.uniform(0, 2 * math.pi))
    points = []
    for k in range(vertices):
        angle = start + 2 * math.pi * k / vertices
        points += [round(cx + radius * math.cos(angle), 2), round(cy + radius * math.sin(angle), 2)]
    return points


def _area(polygon: List[float]) -> float:
    xs, ys = polygon[0::2], polygon[1::2]
    return 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs))))


def _write_split(root: str, split: str, num_images: int, size: Tuple[int, int], rng: np.random.Generator) -> None:
    width, height = size
    image_dir = os.path.join(root, "coco", f"{split}2017")
    os.makedirs(image_dir, exist_ok=True)
    images: List[Dict] = []
    annotations: List[Dict] = []
    for image_id in range(1, num_images + 1):
        background = rng.integers(70, 180, size=(height, width, 3)).astype(np.uint8)
        image = Image.fromarray(background)
        draw = ImageDraw.Draw(image)
        for index in range(2):  # one object per half of the image: no occlusion, exact masks
            category_id, vertices, colour = SHAPES[(image_id + index) % len(SHAPES)]
            polygon = _polygon(rng, vertices, index * width / 2, width / 2, height)
            draw.polygon(polygon, fill=colour)
            xs, ys = polygon[0::2], polygon[1::2]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": [polygon],
                    "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                    "area": _area(polygon),
                    "iscrowd": 0,
                }
            )
        file_name = f"{image_id:012d}.jpg"
        image.save(os.path.join(image_dir, file_name), quality=95)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
    path = os.path.join(root, "coco", "annotations", f"instances_{split}2017.json")
    atomic_write_json(path, {"images": images, "annotations": annotations, "categories": _coco_categories()})


def write_shapes_coco(
    root: str, num_train: int = 32, num_val: int = 8, size: Tuple[int, int] = (128, 96), seed: int = 0
) -> str:
    """Write the set under ``root`` (the folder ``DETECTRON2_DATASETS`` names); returns ``root``."""
    rng = np.random.default_rng(seed)
    _write_split(str(root), "train", num_train, size, rng)
    _write_split(str(root), "val", num_val, size, rng)
    return str(root)
