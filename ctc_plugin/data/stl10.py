"""STL-10 in its official binary layout (``stl10_binary/``, the files torchvision reads).

``train_X.bin`` / ``test_X.bin`` hold uint8 96x96x3 images stored column-major per
channel (the MATLAB order), ``train_y.bin`` / ``test_y.bin`` labels 1..10 and
``class_names.txt`` one name per line. The 100k unlabelled images are not read. The
image files are memory-mapped, so building the dataset reads no pixels.
"""

import os

import numpy as np
from PIL import Image

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset, reading_index

SIDE = 96
FOLDER = "stl10_binary"


class STL10(ClassificationDataset):
    """The 5k/8k labelled 96x96 colour images of ``ROOT/stl10_binary`` (or ROOT itself)."""

    # Small images probed at their own size: no resize (the release resized them to 32).
    style = "cifar"

    def __init__(self, root: str, train: bool) -> None:
        folder = os.path.join(root, FOLDER)
        if not os.path.isdir(folder) and os.path.isfile(os.path.join(root, "class_names.txt")):
            folder = root
        split = "train" if train else "test"
        paths = [os.path.join(folder, name) for name in (f"{split}_X.bin", f"{split}_y.bin", "class_names.txt")]
        for path in paths:
            if not os.path.isfile(path):
                raise UserError(f"STL-10 file missing: {path}")
        images_path, labels_path, names_path = paths
        with reading_index("STL-10", names_path):
            with open(names_path, encoding="utf-8") as f:
                classes = [line.strip() for line in f if line.strip()]
        labels = np.fromfile(labels_path, dtype=np.uint8).astype(np.int64) - 1
        if labels.size == 0:
            raise UserError(f"STL-10 label file {labels_path} is empty")
        if labels.min() < 0 or labels.max() >= len(classes):
            raise UserError(f"STL-10 labels in {labels_path} must lie in 1..{len(classes)}")
        image_bytes = 3 * SIDE * SIDE
        size = os.path.getsize(images_path)
        if size != labels.size * image_bytes:
            raise UserError(
                f"STL-10 file {images_path} has {size} bytes; {labels.size} images need {labels.size * image_bytes}"
            )
        super().__init__(labels.tolist(), classes)
        # (N, C, W, H) on disk, column-major within each channel.
        self.images = np.memmap(images_path, dtype=np.uint8, mode="r", shape=(labels.size, 3, SIDE, SIDE))

    def load_image(self, index: int) -> Image.Image:
        chw = np.asarray(self.images[index])  # (C, W, H)
        return Image.fromarray(np.ascontiguousarray(chw.transpose(2, 1, 0)))  # (H, W, C)


@DATASET_REGISTRY.register()
def stl10_train(root: str) -> STL10:
    return STL10(root, train=True)


@DATASET_REGISTRY.register()
def stl10_test(root: str) -> STL10:
    return STL10(root, train=False)
