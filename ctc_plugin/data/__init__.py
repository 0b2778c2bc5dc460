from . import aircraft, cifar100, cinic10, cub, fashion_mnist, imagenet, inat, stl10  # noqa: F401  (only registration)
from .base import ClassificationDataset
from .build import build_dataset, build_test_loader, build_train_loader, shard_indices
from .sampler import EpochBatchSampler
from .samples import IndexedSamples
from .subset import Subset, class_subset, random_indices, random_subset
from .transforms import NORMALIZATION, Cutout, build_transform

__all__ = [
    "NORMALIZATION",
    "ClassificationDataset",
    "Cutout",
    "EpochBatchSampler",
    "IndexedSamples",
    "Subset",
    "build_dataset",
    "build_test_loader",
    "build_train_loader",
    "build_transform",
    "class_subset",
    "random_indices",
    "random_subset",
    "shard_indices",
]
