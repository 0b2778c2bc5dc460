"""Views of a dataset by index: some of its classes (relabelled), or a seeded sample of it."""

from typing import Any, List, Optional, Sequence

import torch

from ..utils.errors import UserError
from .base import ClassificationDataset


class Subset(ClassificationDataset):
    """The samples ``indices`` of ``dataset``, with its labels or with ``relabel`` applied.

    Args:
        dataset: the full dataset.
        indices: the samples kept, in this order.
        classes: when given, the original class indices kept; labels become their position here.
    """

    def __init__(
        self, dataset: ClassificationDataset, indices: Sequence[int], classes: Optional[Sequence[int]] = None
    ) -> None:
        self.dataset = dataset
        self.indices = list(indices)
        self.style, self.name = dataset.style, dataset.name
        if classes is None:
            super().__init__([dataset.targets[i] for i in self.indices], dataset.classes)
        else:
            relabel = {c: new for new, c in enumerate(classes)}
            targets = [relabel[dataset.targets[i]] for i in self.indices]
            super().__init__(targets, [dataset.classes[c] for c in classes])

    def load_image(self, index: int) -> Any:
        return self.dataset.load_image(self.indices[index])

    def source(self, index: int) -> str:
        return self.dataset.source(self.indices[index])


def class_subset(
    dataset: ClassificationDataset, classes: Sequence[int], images_per_class: int = 0, what: str = "class indices"
) -> ClassificationDataset:
    """The samples of ``classes`` (relabelled 0..k-1 in that order; empty keeps all), at most
    ``images_per_class`` of each (the first ones; 0 keeps all).

    Raises:
        UserError: ``classes`` are not distinct indices of the dataset's classes (named by ``what``).
    """
    classes = list(classes) or list(range(dataset.num_classes))
    if any(not 0 <= c < dataset.num_classes for c in classes) or len(set(classes)) != len(classes):
        raise UserError(f"{what} must be distinct class indices in [0, {dataset.num_classes}), got {classes}")
    taken = {c: 0 for c in classes}
    indices = []
    for i, target in enumerate(dataset.targets):
        if target in taken and (images_per_class == 0 or taken[target] < images_per_class):
            taken[target] += 1
            indices.append(i)
    return Subset(dataset, indices, classes)


def random_indices(size: int, max_samples: int, seed: int = 0) -> List[int]:
    """A seeded random ``max_samples`` of ``range(size)``, in increasing order; all of it when 0."""
    if max_samples <= 0 or max_samples >= size:
        return list(range(size))
    generator = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(size, generator=generator)[:max_samples].tolist())


def random_subset(dataset: ClassificationDataset, max_samples: int, seed: int = 0) -> ClassificationDataset:
    """A seeded random ``max_samples`` of a dataset (in the original order); all when 0."""
    if max_samples <= 0 or max_samples >= len(dataset):
        return dataset
    return Subset(dataset, random_indices(len(dataset), max_samples, seed))
