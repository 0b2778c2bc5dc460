"""Real images in the CUB-200-2011 layout: Fashion-MNIST classes written as a fine-grained set.

The demo fine-tunes through ``tools/finetune_fgvc.py`` exactly as on CUB-200-2011; the
images are real (Fashion-MNIST's), only their folder structure is borrowed.
"""

import os
from typing import Sequence

from ..data.fashion_mnist import FashionMNIST
from ..utils.io import atomic_write_text


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
