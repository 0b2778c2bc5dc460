"""Test helper: a tiny CIFAR-100 written in the official ``cifar-100-python/`` layout."""

import os
import pickle

import numpy as np


def write_tiny_cifar100(
    root: str, num_train: int = 128, num_test: int = 32, num_classes: int = 4, seed: int = 0
) -> str:
    """Random 32x32 images of the first ``num_classes`` classes; returns ``root``.

    Each class has its own mean colour, so a few steps of training can learn something.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    for split, count in (("train", num_train), ("test", num_test)):
        labels = np.arange(count) % num_classes
        base = (labels[:, None] * (200 // num_classes) + 20).astype(np.int64)
        data = np.clip(base + rng.integers(-20, 20, (count, 3072)), 0, 255).astype(np.uint8)
        entry = {
            "data": data,
            "fine_labels": labels.tolist(),
            "coarse_labels": (labels // 5).tolist(),
            "filenames": [f"{split}_{i}.png" for i in range(count)],
            "batch_label": f"{split} batch",
        }
        with open(os.path.join(folder, split), "wb") as f:
            pickle.dump(entry, f)
    meta = {
        "fine_label_names": [f"class_{i}" for i in range(100)],
        "coarse_label_names": [f"super_{i}" for i in range(20)],
    }
    with open(os.path.join(folder, "meta"), "wb") as f:
        pickle.dump(meta, f)
    return root
