"""The NCE loss of lemniscate and CRD, written in log space."""

import math

import torch
import torch.nn.functional as F

from ..utils.distributed import mean_over_ranks


def nce_loss(log_probs: torch.Tensor, num_data: int, log_z: float = 0.0) -> torch.Tensor:
    """NCE loss with noise distribution Pn = 1/N.

    With K negatives per row and P the normalised scores,
    ``-[log(P_pos / (P_pos + K Pn)) + sum_k log(K Pn / (P_k + K Pn))] / batch``.
    Both log-ratios are log-sigmoids of ``x = log P - log(K Pn)``, written as softplus
    (``-log sigmoid(x) = softplus(-x)``), which is exact and stable.

    Args:
        log_probs: (B, 1 + K) log P, or scores s with ``log P = s - log_z``; column 0 is
            the positive.
        num_data: N, the number of memory slots.
        log_z: log Z, subtracted in the same pass as log(K Pn).
    """
    num_negatives = log_probs.size(1) - 1
    # One pass over the B x (1+K) block for both constants; softplus needs no negated copy.
    logits = log_probs - (log_z + math.log(num_negatives / num_data))
    positive = F.softplus(-logits[:, 0]).sum()
    negatives = F.softplus(logits[:, 1:]).sum()
    return (positive + negatives) / log_probs.size(0)


def first_batch_log_z(scores: torch.Tensor, num_data: int) -> float:
    """log Z with Z = mean(exp(scores)) * N, averaged over ranks so that every rank agrees."""
    mean_exp = mean_over_ranks(scores.detach().exp().mean())
    return float(mean_exp.log()) + math.log(num_data)
