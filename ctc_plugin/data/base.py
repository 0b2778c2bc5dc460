"""The dataset contract: a map-style dataset of ``(PIL image, label)`` with class metadata."""

from typing import Any, List, Sequence, Tuple

from torch.utils.data import Dataset


class ClassificationDataset(Dataset):
    """Base of every registered dataset.

    Subclasses fill ``targets`` (one int label per sample, in sample order) and
    ``classes`` (class names), set ``style`` to the augmentation family that suits
    the images ("cifar": small images cropped with padding, "imagenet": large images
    cropped and resized, "mnist": 28x28 grey), and implement ``load_image(i)`` -> PIL.
    """

    style: str = "imagenet"

    def __init__(self, targets: Sequence[int], classes: Sequence[str]) -> None:
        self.targets: List[int] = [int(t) for t in targets]
        self.classes: List[str] = list(classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def load_image(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Tuple[Any, int]:
        return self.load_image(index), self.targets[index]
