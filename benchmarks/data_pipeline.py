#!/usr/bin/env python
"""Item 3: images per second of the training loaders against the model's training step.

Writes a synthetic CIFAR-100 (official ``cifar-100-python/`` pickles) and a synthetic
ImageNet (``train/<class>/*.JPEG``, 500 x 375 JPEGs, ImageNet's typical size) to a temporary
folder, then times the project's own train loader (``build_train_loader``: the dataset, the
seeded per-sample augmentation, the epoch batch sampler) with 0 and 2 workers, in
interleaved rounds with the model step it feeds: ResNet-18 (CIFAR stem, 32 px, batch 64) for
CIFAR, ResNet-50 (224 px; timed at ``--r50-batch``) for ImageNet. A loader faster than the
step (ratio > 1) is not the bottleneck. The last line is ``key=value`` pairs.
"""

import argparse
import os
import pickle
import tempfile

import numpy as np
from _common import ce_training_step, interleaved, key_values, machine, medians
from PIL import Image

from ctc_plugin.data import EpochBatchSampler, build_dataset, build_train_loader, build_transform


def write_cifar(root: str, count: int) -> None:
    rng = np.random.default_rng(0)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    labels = (np.arange(count) % 100).tolist()
    entry = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), "fine_labels": labels}
    with open(os.path.join(folder, "train"), "wb") as f:
        pickle.dump(entry, f)
    with open(os.path.join(folder, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, f)


def write_imagenet(root: str, classes: int, per_class: int) -> None:
    """Smooth colour fields with noise: JPEGs of a realistic size and decode cost."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500]
    for c in range(classes):
        folder = os.path.join(root, "train", f"n{c:08d}")
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            base = np.stack([(x * rng.uniform(0.2, 0.5) + y * rng.uniform(0.1, 0.4)) % 256] * 3, -1)
            image = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(os.path.join(folder, f"{i:04d}.JPEG"), quality=90)


def loader_pass(dataset, size: int, batch: int, workers: int, batches: int):
    """A closure: read ``batches`` batches of a fresh loader (worker start-up included)."""
    transform = build_transform(dataset.style, True, size)

    def run() -> None:
        sampler = EpochBatchSampler(len(dataset), batch, seed=0, max_iter=batches)
        for _ in build_train_loader(dataset, transform, sampler, seed=0, num_workers=workers):
            pass

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=8, help="batches per timed loader pass")
    parser.add_argument("--r50-batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        write_cifar(root, 64 * args.batches * 2)
        write_imagenet(root, classes=8, per_class=4 * args.batches)
        sets = {
            "cifar": (build_dataset("cifar100_train", root), 64, 32),
            "imagenet": (build_dataset("imagenet_train", root), 32, 224),
        }
        variants = {}
        for name, (dataset, batch, size) in sets.items():
            for workers in (0, 2):
                variants[f"{name}_w{workers}"] = loader_pass(dataset, size, batch, workers, args.batches)
        variants["cifar_step"] = ce_training_step(18, "cifar", 32, 64)
        variants["imagenet_step"] = ce_training_step(50, "imagenet", 224, args.r50_batch)
        median = medians(interleaved(variants, args.rounds, warmup=1))

    ips = {
        "cifar_w0": 64 * args.batches / median["cifar_w0"],
        "cifar_w2": 64 * args.batches / median["cifar_w2"],
        "imagenet_w0": 32 * args.batches / median["imagenet_w0"],
        "imagenet_w2": 32 * args.batches / median["imagenet_w2"],
        "cifar_step": 64 / median["cifar_step"],
        "imagenet_step": args.r50_batch / median["imagenet_step"],
    }
    print(f"images per second (medians of {args.rounds} interleaved rounds); {machine()}")
    for name, value in ips.items():
        print(f"{name:14s} {value:9.1f}")
    out = {f"data_{name}_ips": value for name, value in ips.items()}
    for name in ("cifar", "imagenet"):
        for workers in (0, 2):
            out[f"data_{name}_w{workers}_over_step"] = ips[f"{name}_w{workers}"] / ips[f"{name}_step"]
    print(key_values(out))


if __name__ == "__main__":
    main()
