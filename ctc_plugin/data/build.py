"""Thin builders: datasets by registered name, and the train and test loaders."""

import os
from typing import Callable, List, Sequence

from torch.utils.data import DataLoader

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset
from .sampler import EpochBatchSampler
from .samples import IndexedSamples
from .subset import class_subset


def build_dataset(
    name: str, root: str, classes: Sequence[int] = (), images_per_class: int = 0, what: str = "DATASETS.CLASSES"
) -> ClassificationDataset:
    """The dataset registered as ``name`` read from ``root``, optionally restricted to
    ``classes`` (relabelled 0..k-1; named ``what`` in messages) and to the first
    ``images_per_class`` of each class.

    Raises:
        UserError: an unknown name, a missing root, a reader's complaint, or an empty dataset.
    """
    if name not in DATASET_REGISTRY:
        known = ", ".join(sorted(n for n, _ in DATASET_REGISTRY))
        raise UserError(f"unknown dataset {name!r}; registered: {known}")
    if root and not os.path.isdir(root):
        raise UserError(f"dataset root not found: {root}")
    dataset = DATASET_REGISTRY.get(name)(root)
    dataset.name = name
    if len(dataset) == 0:
        raise UserError(f"dataset {name} in {root} is empty")
    if classes or images_per_class:
        return class_subset(dataset, classes, images_per_class, what)
    return dataset


def build_train_loader(
    dataset: ClassificationDataset,
    transform: Callable,
    sampler: EpochBatchSampler,
    seed: int,
    num_workers: int,
    pin_memory: bool = False,
) -> DataLoader:
    """Batches of (images, labels, indices, iterations) for the iterations of ``sampler``.

    One iterator serves the whole run (``sampler`` spans every epoch), so its workers start
    once, not every epoch. ``pin_memory`` (training on a GPU) makes the copies to the device
    asynchronous.
    """
    return DataLoader(
        IndexedSamples(dataset, transform, seed=seed),
        batch_sampler=sampler,
        num_workers=num_workers,
        prefetch_factor=4 if num_workers else None,
        pin_memory=pin_memory,
    )


def build_test_loader(
    dataset: ClassificationDataset,
    transform: Callable,
    batch_size: int,
    num_workers: int,
    indices: Sequence[int] = (),
    pin_memory: bool = False,
    seed: int = 0,
    stream: int = 0,
) -> DataLoader:
    """The images ``indices`` (default: all) of ``dataset`` with ``transform``, in order: (images, labels, indices).

    A random ``transform`` is drawn from ``(seed, stream)`` (see ``IndexedSamples``).
    """
    return DataLoader(
        IndexedSamples(dataset, transform, seed=seed, stream=stream),
        batch_size=batch_size,
        sampler=list(indices) if len(indices) else range(len(dataset)),
        num_workers=num_workers,
        pin_memory=pin_memory,
    )


def shard_indices(num_samples: int, rank: int, world_size: int, pad: bool = False) -> List[int]:
    """Every ``world_size``-th index from ``rank``; with ``pad``, all shards get the same length."""
    shard = list(range(rank, num_samples, world_size))
    if pad:
        shard += shard[-1:] * (-(-num_samples // world_size) - len(shard))
    return shard
