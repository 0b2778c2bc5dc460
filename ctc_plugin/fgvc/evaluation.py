"""Top-1 / top-5 accuracy over a test set sharded across processes (bridges to timm, Detectron2)."""

from typing import Dict, Iterable

import torch
from torch import nn


@torch.no_grad()
def evaluate_topk(model: nn.Module, loader: Iterable, device: torch.device, amp: bool = False) -> Dict[str, float]:
    """Accuracy in percent of ``model`` on every process's share of the test set.

    Counts correct predictions per process with timm's ``accuracy`` and sums them over
    processes, so the result is exact whatever the sharding. Top-5 becomes top-C for
    fewer than five classes. The model is left in the mode it was in.

    Args:
        model: maps images to logits (not DDP-wrapped: processes see different batch counts).
        loader: this process's batches of (images, labels, ...).
        device: where the model lives.
        amp: run the forward in float16 autocast (GPU only).

    Returns:
        {"top1": ..., "top5": ..., "num_images": ...}.
    """
    from detectron2.utils import comm
    from timm.utils import accuracy

    was_training = model.training
    model.eval()
    correct = torch.zeros(2, dtype=torch.float64)
    seen = 0
    for batch in loader:
        images, labels = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
        with torch.autocast(device.type, enabled=amp):
            logits = model(images)
        top5_k = min(5, logits.shape[1])
        top1, top5 = accuracy(logits.float(), labels, topk=(1, top5_k))
        correct += torch.tensor([top1.item(), top5.item()], dtype=torch.float64) * labels.shape[0] / 100.0
        seen += labels.shape[0]
    model.train(was_training)
    totals = comm.all_gather((correct.round().tolist(), seen))
    total_seen = sum(count for _, count in totals)
    total_correct = [sum(values[i] for values, _ in totals) for i in range(2)]
    scale = 100.0 / max(total_seen, 1)
    return {"top1": total_correct[0] * scale, "top5": total_correct[1] * scale, "num_images": float(total_seen)}
