"""Samplers of negative memory slots: any image, or images of other classes only."""

import torch


class UniformNegatives:
    """K slots per sample drawn uniformly from all N (CRD's "relax" mode, lemniscate's NCE)."""

    def __init__(self, num_data: int) -> None:
        self.num_data = num_data

    def draw(self, labels: torch.Tensor, num_negatives: int, generator: torch.Generator) -> torch.Tensor:
        """(B, K) slot indices."""
        return torch.randint(self.num_data, (labels.numel(), num_negatives), generator=generator)


class OtherClassNegatives:
    """K slots per sample drawn uniformly from the images of the other classes.

    CRD keeps one index list per class and per sample (about N x classes integers, some
    10 GB at ImageNet scale). Here the N indices are sorted by class once; the images
    not of class c are the sorted positions outside [start_c, start_c + count_c), so a
    uniform draw r in [0, N - count_c) maps to position r, or r + count_c past the block.
    Memory: N + 2 x classes integers.
    """

    def __init__(self, targets: torch.Tensor) -> None:
        targets = torch.as_tensor(targets, dtype=torch.long)
        self.order = torch.argsort(targets, stable=True)
        self.counts = torch.bincount(targets)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.num_data = targets.numel()
        if (self.counts == self.num_data).any():
            raise ValueError("negatives from other classes need at least two classes")

    def draw(self, labels: torch.Tensor, num_negatives: int, generator: torch.Generator) -> torch.Tensor:
        """(B, K) slot indices, none of the sample's own class."""
        labels = labels.cpu()
        count = self.counts[labels].unsqueeze(1)
        start = self.starts[labels].unsqueeze(1)
        uniform = torch.rand(labels.numel(), num_negatives, generator=generator, dtype=torch.float64)
        position = (uniform * (self.num_data - count)).long()
        position += count * (position >= start)
        return self.order[position]
