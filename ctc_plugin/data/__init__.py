from . import cifar100, cinic10, fashion_mnist, imagenet, stl10  # noqa: F401  (only registration)
from .base import ClassificationDataset
from .build import build_dataset, build_test_loader, build_train_loader
from .sampler import EpochBatchSampler
from .samples import IndexedSamples
from .transforms import build_transform

__all__ = [
    "ClassificationDataset",
    "EpochBatchSampler",
    "IndexedSamples",
    "build_dataset",
    "build_test_loader",
    "build_train_loader",
    "build_transform",
]
