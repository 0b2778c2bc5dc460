"""A dataset restricted to some of its classes (and images per class), labels renumbered."""

from typing import Any, Sequence

from ..utils.errors import UserError
from .base import ClassificationDataset


class ClassSubset(ClassificationDataset):
    """The samples of ``dataset`` whose class is in ``classes``, relabelled 0..k-1 in that order.

    Args:
        dataset: the full dataset.
        classes: original class indices to keep; empty keeps all.
        images_per_class: keep the first this many images of each class (0: all).
    """

    def __init__(self, dataset: ClassificationDataset, classes: Sequence[int], images_per_class: int = 0) -> None:
        classes = list(classes) or list(range(dataset.num_classes))
        bad = [c for c in classes if not 0 <= c < dataset.num_classes]
        if bad or len(set(classes)) != len(classes):
            raise UserError(
                f"DATASETS.CLASSES must be distinct class indices in [0, {dataset.num_classes}), got {list(classes)}"
            )
        relabel = {c: new for new, c in enumerate(classes)}
        self.dataset = dataset
        self.style = dataset.style
        taken = {c: 0 for c in classes}
        self.indices = []
        for i, t in enumerate(dataset.targets):
            if t in relabel and (images_per_class == 0 or taken[t] < images_per_class):
                taken[t] += 1
                self.indices.append(i)
        super().__init__([relabel[dataset.targets[i]] for i in self.indices], [dataset.classes[c] for c in classes])

    def load_image(self, index: int) -> Any:
        return self.dataset.load_image(self.indices[index])
