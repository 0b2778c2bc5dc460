"""Samples of (image, label, index) whose augmentation depends only on (seed, epoch, index).

Seeding every sample's transform makes the augmentation of a run independent of the
number of loader workers and of the number of processes, and lets a resumed run see
exactly the images the uninterrupted one would have seen.
"""

from typing import Callable, Tuple, Union

import torch
from torch.utils.data import Dataset

from ..utils.seeding import mix_seed
from .base import ClassificationDataset

# The random stream of the memory refill's augmentation (CTC.IRS.REFILL_AUGMENT): not the
# training stream (0), so an image's refill view is not its first training view.
REFILL_STREAM = 1


class IndexedSamples(Dataset):
    """Wrap a ``ClassificationDataset`` for the loaders.

    A training key ``(index, epoch, iteration)`` (what ``EpochBatchSampler`` yields) gives
    ``(image, label, index, iteration)``: the batch says which iteration it is, so whatever a
    method draws per step is a function of the data stream. A plain ``index`` (a test loader)
    gives ``(image, label, index)``, augmented as in epoch 0 of random stream ``stream``
    (0: the training stream's).
    """

    def __init__(self, dataset: ClassificationDataset, transform: Callable, seed: int = 0, stream: int = 0) -> None:
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self.stream = stream

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Union[int, Tuple[int, int, int]]) -> Tuple:
        index, epoch = (key[0], key[1]) if isinstance(key, tuple) else (key, 0)
        image, label = self.dataset[index]
        with torch.random.fork_rng(devices=[]):
            streams = (self.stream,) if self.stream and not isinstance(key, tuple) else ()
            torch.manual_seed(mix_seed(self.seed, epoch, index, *streams))
            image = self.transform(image)
        return (image, label, index, key[2]) if isinstance(key, tuple) else (image, label, index)
