"""Top-k accuracy of a classifier on this process's share of a test set, summed over processes."""

from typing import Dict, Iterable, Sequence

import torch
import torch.distributed as dist
from torch import nn

from ..utils.distributed import world_size


@torch.no_grad()
def classification_accuracy(
    network: nn.Module, batches: Iterable, device: torch.device, topk: Sequence[int] = (1, 5), amp: bool = False
) -> Dict[str, float]:
    """Top-k accuracy in percent, exact whatever the sharding (hits are counted, then summed).

    Top-k becomes top-C for fewer than k classes. The network runs in eval mode (float16
    autocast with ``amp``) and its mode is restored.

    Returns:
        ``{"top1": ..., "top5": ..., "num_images": ..., "num_classes": ...}``.
    """
    was_training = network.training
    network.eval()
    counts = torch.zeros(len(topk) + 1, dtype=torch.float64, device=device)
    num_classes = 0
    try:
        for images, labels, *_ in batches:
            with torch.autocast(device.type, enabled=amp):
                logits = network(images.to(device, non_blocking=True))
            labels = labels.to(device, non_blocking=True)
            num_classes = logits.size(1)
            ranked = logits.topk(min(max(topk), logits.size(1)), dim=1).indices
            hits = ranked.eq(labels.unsqueeze(1))
            for i, k in enumerate(topk):
                counts[i] += hits[:, :k].any(dim=1).sum()
            counts[-1] += labels.numel()
    finally:
        network.train(was_training)
    if world_size() > 1:
        dist.all_reduce(counts)  # on the network's device: NCCL reduces CUDA tensors only
    total = max(counts[-1].item(), 1.0)
    results = {f"top{k}": 100.0 * counts[i].item() / total for i, k in enumerate(topk)}
    return {**results, "num_images": int(counts[-1].item()), "num_classes": num_classes}
