"""Thin builders: datasets by registered name, and the train and test loaders."""

import os
from typing import List, Sequence

from torch.utils.data import DataLoader

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset
from .sampler import EpochBatchSampler
from .samples import IndexedSamples
from .subset import ClassSubset
from .transforms import build_transform


def build_dataset(
    name: str, root: str, classes: Sequence[int] = (), images_per_class: int = 0
) -> ClassificationDataset:
    """The dataset registered as ``name`` read from ``root``, optionally restricted to
    ``classes`` (relabelled 0..k-1) and to the first ``images_per_class`` of each class."""
    if name not in DATASET_REGISTRY:
        known = ", ".join(sorted(n for n, _ in DATASET_REGISTRY))
        raise UserError(f"unknown dataset {name!r}; registered: {known}")
    if root and not os.path.isdir(root):
        raise UserError(f"dataset root not found: {root}")
    dataset = DATASET_REGISTRY.get(name)(root)
    if len(dataset) == 0:
        raise UserError(f"dataset {name} in {root} is empty")
    if classes or images_per_class:
        return ClassSubset(dataset, classes, images_per_class)
    return dataset


def build_train_loader(cfg, dataset: ClassificationDataset, sampler: EpochBatchSampler) -> DataLoader:
    """Batches of (images, labels, indices) for the iterations of ``sampler``."""
    transform = build_transform(dataset.style, True, cfg.INPUT.SIZE, cfg.INPUT.AUTO_AUGMENT)
    workers = cfg.DATALOADER.NUM_WORKERS
    return DataLoader(
        IndexedSamples(dataset, transform, seed=cfg.SEED),
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
    )


def build_test_loader(cfg, dataset: ClassificationDataset, indices: Sequence[int] = ()) -> DataLoader:
    """The images ``indices`` (default: all) of ``dataset`` with the test transform, in order."""
    transform = build_transform(dataset.style, False, cfg.INPUT.SIZE)
    return DataLoader(
        IndexedSamples(dataset, transform, seed=cfg.SEED),
        batch_size=cfg.TEST.IMS_PER_BATCH,
        sampler=list(indices) if len(indices) else range(len(dataset)),
        num_workers=cfg.DATALOADER.NUM_WORKERS,
    )


def shard_indices(num_samples: int, rank: int, world_size: int, pad: bool = False) -> List[int]:
    """Every ``world_size``-th index from ``rank``; with ``pad``, all shards get the same length."""
    shard = list(range(rank, num_samples, world_size))
    if pad:
        shard += shard[-1:] * (-(-num_samples // world_size) - len(shard))
    return shard
