"""Samplers of memory slots: the positive slot and K negatives of each sample.

Three modes: K negatives from any image ("uniform"), from the other classes with the
sample's own slot as the positive ("other_classes", the release's "exact"), or from the other
classes with a random image of the sample's class as the positive ("relax", the release's).

They draw on the generator's device (the method's: a CUDA generator on a GPU), so a step's
B x K indices are never made on the CPU and copied over; the draw stays a function of the
step's seed, iteration and rank, so a resumed run draws the same ones.
"""

import torch


class UniformNegatives:
    """K slots per sample drawn uniformly from all N, the sample's own slot the positive.

    The release's ``ContrastMemory`` draws so (its ``AliasMethod`` over equal weights) when it
    is given no contrast indices; lemniscate's NCE does the same.
    """

    def __init__(self, num_data: int) -> None:
        self.num_data = num_data

    def positives(self, indices: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The positive slot of each sample: its own."""
        return indices

    def draw(self, labels: torch.Tensor, num_negatives: int, generator: torch.Generator) -> torch.Tensor:
        """(B, K) slot indices, on the generator's device."""
        shape = (labels.numel(), num_negatives)
        return torch.randint(self.num_data, shape, generator=generator, device=generator.device)


class OtherClassNegatives:
    """K slots per sample drawn uniformly from the images of the other classes.

    CRD keeps one index list per class and per sample (about N x classes integers, some
    10 GB at ImageNet scale). Here the N indices are sorted by class once; the images not
    of class c are the N - count_c sorted positions that follow c's block, wrapping
    around, so a uniform draw r in [0, N - count_c) maps to position end_c + r of the
    sorted indices written twice. Memory: 2N + 3 x classes integers.
    """

    def __init__(self, targets: torch.Tensor) -> None:
        targets = torch.as_tensor(targets, dtype=torch.long)
        order = torch.argsort(targets, stable=True)
        self.order_twice = torch.cat([order, order])  # positions p and p + N hold the same image
        self.counts = torch.bincount(targets)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.ends = self.starts + self.counts
        self.num_data = targets.numel()
        if (self.counts == self.num_data).any():
            raise ValueError("negatives from other classes need at least two classes")

    def _on(self, device: torch.device) -> None:
        if self.order_twice.device != device:
            self.order_twice, self.counts = self.order_twice.to(device), self.counts.to(device)
            self.starts, self.ends = self.starts.to(device), self.ends.to(device)

    def draw(self, labels: torch.Tensor, num_negatives: int, generator: torch.Generator) -> torch.Tensor:
        """(B, K) slot indices, none of the sample's own class, on the generator's device."""
        device = generator.device
        self._on(device)
        labels = labels.to(device)
        # Integers in [0, 2^62) modulo N - count_c: uniform to within N / 2^62, no float64
        # draw and four passes over the B x K block (each pass costs on a busy CPU).
        position = torch.randint(2**62, (labels.numel(), num_negatives), generator=generator, device=device)
        position.remainder_((self.num_data - self.counts[labels]).unsqueeze(1))
        position.add_(self.ends[labels].unsqueeze(1))
        return self.order_twice[position]

    def positives(self, indices: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The positive slot of each sample: its own (the release's "exact" mode)."""
        return indices


class RelaxedNegatives(OtherClassNegatives):
    """Other-class negatives, and as the positive a random image of the sample's class.

    The release's ``--mode relax``: the positive slot is drawn uniformly from the sample's
    class (the sample itself included), while the memories are still updated at its own slot.
    """

    def positives(self, indices: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B,) slot indices of the same class as each sample, on the indices' device."""
        device = generator.device
        self._on(device)
        labels = labels.to(device)
        offset = torch.randint(2**62, (labels.numel(),), generator=generator, device=device)
        offset.remainder_(self.counts[labels])
        return self.order_twice[self.starts[labels] + offset].to(indices.device)
