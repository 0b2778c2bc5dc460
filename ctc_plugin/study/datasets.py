"""The demo's data, written in the official layouts its tools read: no annotated images can be had offline.

``write_shapes_coco``: a small COCO-format detection set of synthetic shapes with exact
polygon masks (filled triangles, quadrilaterals and 16-gon "discs" on textured
backgrounds), in Detectron2's builtin ``coco/`` layout: ``root/coco/{train,val}2017/*.jpg``
and ``root/coco/annotations/instances_{split}2017.json``, so that with
``DETECTRON2_DATASETS=root`` the builtin ``coco_2017_*`` names read it. The JSON lists
COCO's 80 thing categories (the builtin metadata requires them); the shapes use three.

``write_fashion_cub``: real Fashion-MNIST images written in the CUB-200-2011 layout, so the
demo fine-tunes through ``ctc-finetune-fgvc`` exactly as on CUB; only the folders are borrowed.
"""

import math
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..data.fashion_mnist import FashionMNIST
from ..utils.io import atomic_write_json, atomic_write_text

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


def write_fashion_cub(
    fashion_root: str, root: str, classes: Sequence[int], train_per_class: int, test_per_class: int
) -> str:
    """Write ``root/CUB_200_2011/`` from Fashion-MNIST's training (train) and test (test) images.

    Args:
        fashion_root: Fashion-MNIST's folder (Debian's or torchvision's layout).
        root: the folder that will hold ``CUB_200_2011/`` (what ``DATASETS.ROOT`` names).
        classes: Fashion-MNIST class indices to use, in order (CUB class ids 1..k).
        train_per_class, test_per_class: images per class in each split.
    Returns:
        ``root``.
    """
    folder = os.path.join(root, "CUB_200_2011")
    lines = {"images.txt": [], "image_class_labels.txt": [], "train_test_split.txt": []}
    image_id = 0
    for is_train, count in ((1, train_per_class), (0, test_per_class)):
        source = FashionMNIST(fashion_root, train=bool(is_train))
        for class_id, fashion_class in enumerate(classes, start=1):
            name = _folder_name(class_id, source.classes[fashion_class])
            os.makedirs(os.path.join(folder, "images", name), exist_ok=True)
            indices = [i for i, t in enumerate(source.targets) if t == fashion_class][:count]
            for index in indices:
                image_id += 1
                relative = f"{name}/{name}_{image_id:05d}.jpg"
                source.load_image(index).convert("RGB").save(os.path.join(folder, "images", relative), quality=95)
                lines["images.txt"].append(f"{image_id} {relative}")
                lines["image_class_labels.txt"].append(f"{image_id} {class_id}")
                lines["train_test_split.txt"].append(f"{image_id} {is_train}")
    names = FashionMNIST(fashion_root, train=False).classes
    lines["classes.txt"] = [f"{i} {_folder_name(i, names[c])}" for i, c in enumerate(classes, start=1)]
    for file_name, rows in lines.items():
        atomic_write_text(os.path.join(folder, file_name), "\n".join(rows) + "\n")
    return root


def _folder_name(class_id: int, name: str) -> str:
    """CUB's folder style, e.g. ``001.Sandal``."""
    return f"{class_id:03d}." + name.replace("/", "_").replace(" ", "_")
