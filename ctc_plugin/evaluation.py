"""Top-k accuracy of a classifier on a test loader, summed over ranks."""

from typing import Dict, Iterable, Sequence

import torch
import torch.distributed as dist
from torch import nn

from .utils.distributed import world_size


@torch.no_grad()
def classification_accuracy(
    network: nn.Module, batches: Iterable, device: torch.device, topk: Sequence[int] = (1, 5)
) -> Dict[str, float]:
    """Top-k accuracy in percent; the network is evaluated in eval mode and its mode restored."""
    was_training = network.training
    network.eval()
    counts = torch.zeros(len(topk) + 1, dtype=torch.float64)
    try:
        for images, labels, _ in batches:
            logits = network(images.to(device))
            labels = labels.to(device)
            ranked = logits.topk(min(max(topk), logits.size(1)), dim=1).indices
            hits = ranked.eq(labels.unsqueeze(1))
            for i, k in enumerate(topk):
                counts[i] += hits[:, :k].any(dim=1).sum().item()
            counts[-1] += labels.numel()
    finally:
        network.train(was_training)
    if world_size() > 1:
        dist.all_reduce(counts)
    total = max(counts[-1].item(), 1.0)
    return {f"top{k}": 100.0 * counts[i].item() / total for i, k in enumerate(topk)}
