"""Epoch-based, resumable, rank-sharded batches for iteration-based trainers."""

from typing import Iterator, List, Tuple

import torch
from torch.utils.data import Sampler

from ..utils.errors import UserError
from ..utils.seeding import mix_seed


class EpochBatchSampler(Sampler):
    """Yields the batches of iterations ``[start_iter, max_iter)`` of one rank.

    Every epoch is a fresh permutation seeded by ``(seed, epoch)``; iteration ``i`` takes
    the ``i % iters_per_epoch``-th global batch of its epoch, and rank ``r`` its ``r``-th
    slice. The last incomplete global batch of an epoch is dropped. Items are
    ``(index, epoch, iteration)`` for ``IndexedSamples``.

    Args:
        num_samples: size of the dataset.
        batch_size: images per rank and iteration.
        world_size, rank: the process group's size and this process's rank.
        seed: the run's seed.
        start_iter, max_iter: the iterations to produce (set ``start_iter`` when resuming).
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        world_size: int = 1,
        rank: int = 0,
        seed: int = 0,
        start_iter: int = 0,
        max_iter: int = 0,
    ) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.start_iter = start_iter
        self.max_iter = max_iter
        self.global_batch = batch_size * world_size
        self.iters_per_epoch = num_samples // self.global_batch
        if self.iters_per_epoch == 0:
            raise UserError(
                f"{num_samples} training images cannot fill one batch of SOLVER.IMS_PER_BATCH {self.global_batch}"
            )

    def epoch_permutation(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(mix_seed(self.seed, epoch))
        return torch.randperm(self.num_samples, generator=generator)

    def __iter__(self) -> Iterator[List[Tuple[int, int, int]]]:
        epoch, permutation = -1, None
        for iteration in range(self.start_iter, self.max_iter):
            if iteration // self.iters_per_epoch != epoch:
                epoch = iteration // self.iters_per_epoch
                permutation = self.epoch_permutation(epoch)
            start = (iteration % self.iters_per_epoch) * self.global_batch + self.rank * self.batch_size
            yield [(int(i), epoch, iteration) for i in permutation[start : start + self.batch_size]]

    def __len__(self) -> int:
        return max(0, self.max_iter - self.start_iter)
