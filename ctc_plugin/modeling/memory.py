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


# Cost of gathering one memory row for one score, in units of one row of the dense B x N
# product (measured by benchmarks/memory_scale.py; docs/benchmarks.md). The product wins
# while N < GATHER_COST x (1 + K): at CIFAR scale; the gather at ImageNet's.
GATHER_COST = 32
# Elements of the B x (1+K) x d block gathered at once (32 MB of float32).
_GATHER_CHUNK = 2**23


class _GatheredScores(torch.autograd.Function):
    """``(memory[slots] * embedding[:, None]).sum(-1)`` without holding the B x (1+K) x d block.

    The forward pass gathers a few rows at a time into one reused buffer (a fresh large
    allocation per chunk costs page faults); the backward pass (gradient for the embedding
    only: memories take no gradient) is one ``embedding_bag`` weighted sum.
    """

    @staticmethod
    def forward(ctx, embedding: torch.Tensor, memory: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        batch, width = slots.shape
        rows = max(1, _GATHER_CHUNK // (width * memory.size(1)))
        scores = embedding.new_empty(slots.shape)
        block = memory.new_empty(min(rows, batch) * width, memory.size(1))
        with torch.autocast(embedding.device.type, enabled=False):  # scores in the memory's dtype
            for start in range(0, batch, rows):
                chunk = slots[start : start + rows]
                gathered = torch.index_select(memory, 0, chunk.reshape(-1), out=block[: chunk.numel()])
                torch.bmm(
                    gathered.view(chunk.size(0), width, -1),
                    embedding[start : start + rows, :, None],
                    out=scores[start : start + rows, :, None],
                )
        ctx.memory = memory  # read again in backward: update the memory only after it
        ctx.save_for_backward(slots)
        return scores

    @staticmethod
    def backward(ctx, grad_scores: torch.Tensor):
        (slots,) = ctx.saved_tensors
        grad = F.embedding_bag(slots, ctx.memory, per_sample_weights=grad_scores.contiguous(), mode="sum")
        return grad, None, None


def memory_scores(embedding: torch.Tensor, memory: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """(B, 1+K) scores ``memory[slots[b, k]] . embedding[b]``, differentiable in ``embedding``.

    Two equal ways: one B x N product followed by a gather of 1+K scores per row (cost
    B x N x d, dense), or a gather of the B x (1+K) rows (cost B x (1+K) x d, but each
    element a random memory read; done in chunks so it never holds the whole block). The
    cheaper one is used; the gather's cost does not grow with N.
    """
    if memory.size(0) < GATHER_COST * slots.size(1):
        return (embedding @ memory.t()).gather(1, slots)  # B x N, then B x (1+K)
    return _GatheredScores.apply(embedding, memory, slots)
