"""The NCE loss of lemniscate and CRD, written in log space."""

import math

import torch
import torch.nn.functional as F

from ..utils.distributed import mean_over_ranks


def nce_loss(log_probs: torch.Tensor, num_data: int) -> torch.Tensor:
    """NCE loss with noise distribution Pn = 1/N.

    With K negatives per row and P the normalised scores,
    ``-[log(P_pos / (P_pos + K Pn)) + sum_k log(K Pn / (P_k + K Pn))] / batch``.
    Both log-ratios are log-sigmoids of ``log P - log(K Pn)``, which is exact and stable.

    Args:
        log_probs: (B, 1 + K) log P; column 0 is the positive.
        num_data: N, the number of memory slots.
    """
    num_negatives = log_probs.size(1) - 1
    logits = log_probs - math.log(num_negatives / num_data)
    positive = F.logsigmoid(logits[:, 0]).sum()
    negatives = F.logsigmoid(-logits[:, 1:]).sum()
    return -(positive + negatives) / log_probs.size(0)


def first_batch_log_z(scores: torch.Tensor, num_data: int) -> float:
    """log Z with Z = mean(exp(scores)) * N, averaged over ranks so that every rank agrees."""
    mean_exp = mean_over_ranks(scores.detach().exp().mean())
    return float(mean_exp.log()) + math.log(num_data)
