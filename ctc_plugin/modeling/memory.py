"""Memory banks of one unit-ish vector per training image, updated by momentum.

Memories are plain tensors, not module buffers: DistributedDataParallel would otherwise
broadcast them from rank 0 every step. Every rank applies the same gathered update instead.
"""

import math

import torch
import torch.nn.functional as F


def init_memory(num_slots: int, dim: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Uniform in +-1/sqrt(dim/3), the initialisation of lemniscate and CRD."""
    bound = 1.0 / math.sqrt(dim / 3)
    memory = torch.rand(num_slots, dim, generator=generator).mul_(2 * bound).sub_(bound)
    return memory.to(device)


@torch.no_grad()
def momentum_update(memory: torch.Tensor, indices: torch.Tensor, values: torch.Tensor, momentum: float) -> None:
    """``m_i <- normalise(momentum * m_i + (1 - momentum) * v_i)`` for the given rows."""
    rows = memory.index_select(0, indices).mul_(momentum).add_(values.to(memory.dtype), alpha=1 - momentum)
    memory.index_copy_(0, indices, F.normalize(rows, dim=1))
