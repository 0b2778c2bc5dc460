"""L_IRS: CRD's contrastive loss between the network and its frozen information bank."""

from typing import Dict, Optional

import torch

from .memory import init_memory, memory_scores, momentum_update
from .nce import first_batch_log_z, nce_loss


class ContrastiveRevitalization:
    """CRD (Tian et al. 2020) with two memories, as CTC's stage 2 uses it.

    ``v1`` embeds the current network's features, ``v2`` the information bank's. Memory
    ``M1`` holds v1s and ``M2`` v2s. For each sample, slot 0 is its own index and K
    negatives come from a sampler: ``P1_j = exp(M2_j . v1 / tau) / Z1`` and
    ``P2_j = exp(M1_j . v2 / tau) / Z2``, Z fixed on the first batch as ``mean(exp) * N``.
    The loss is the NCE loss (Pn = 1/N) of both directions, summed.

    Two equal ways to get the (B, 1+K) scores: gather the B x (1+K) memory rows (CRD's way,
    here in chunks), or one B x N product followed by a gather of 1+K scores per row;
    ``memory_scores`` picks the cheaper (the product at CIFAR scale, the gather at ImageNet).

    Args:
        num_data: N.
        dim: embedding width.
        temperature: tau (CRD: 0.07).
        momentum: memory momentum (CRD: 0.5).
        generator: seeds both memories' initialisation.
        device: where the memories live.
    """

    def __init__(
        self,
        num_data: int,
        dim: int = 128,
        temperature: float = 0.07,
        momentum: float = 0.5,
        generator: Optional[torch.Generator] = None,
        device: torch.device = torch.device("cpu"),
    ) -> None:
        generator = generator or torch.Generator()
        self.num_data = num_data
        self.temperature = temperature
        self.momentum = momentum
        self.memory_current = init_memory(num_data, dim, generator, device)  # M1
        self.memory_bank = init_memory(num_data, dim, generator, device)  # M2
        self.log_z_current: Optional[float] = None  # Z1
        self.log_z_bank: Optional[float] = None  # Z2

    def scores(self, embedding: torch.Tensor, memory: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """(B, 1+K) ``memory[slots] . embedding / tau``."""
        # Dividing the B x d embedding is cheaper than dividing the B x (1+K) scores.
        return memory_scores(embedding / self.temperature, memory, slots)

    def loss(self, v1: torch.Tensor, v2: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """L_IRS for unit embeddings v1 (current) and v2 (bank), (B, d) each.

        Args:
            slots: (B, 1+K) memory indices, column 0 the samples' own indices.
        """
        v1, v2 = v1.float(), v2.float()
        scores_current = self.scores(v1, self.memory_bank, slots)  # P1: M2 . v1
        scores_bank = self.scores(v2, self.memory_current, slots)  # P2: M1 . v2
        if self.log_z_current is None:
            self.log_z_current = first_batch_log_z(scores_current, self.num_data)
            self.log_z_bank = first_batch_log_z(scores_bank, self.num_data)
        return nce_loss(scores_current, self.num_data, self.log_z_current) + nce_loss(
            scores_bank, self.num_data, self.log_z_bank
        )

    def update(self, v1: torch.Tensor, v2: torch.Tensor, indices: torch.Tensor) -> None:
        """Momentum update of M1 with v1 and M2 with v2 at ``indices`` (gathered over ranks)."""
        momentum_update(self.memory_current, indices, v1, self.momentum)
        momentum_update(self.memory_bank, indices, v2, self.momentum)

    @torch.no_grad()
    def refill(self, v1: torch.Tensor, v2: torch.Tensor, indices: torch.Tensor) -> None:
        """Overwrite slots with normalised embeddings (momentum 0), before stage 2."""
        momentum_update(self.memory_current, indices, v1, 0.0)
        momentum_update(self.memory_bank, indices, v2, 0.0)

    def state_dict(self) -> Dict[str, object]:
        return {
            "memory_current": self.memory_current,
            "memory_bank": self.memory_bank,
            "log_z_current": self.log_z_current,
            "log_z_bank": self.log_z_bank,
        }

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.memory_current.copy_(state["memory_current"])
        self.memory_bank.copy_(state["memory_bank"])
        self.log_z_current = state["log_z_current"]
        self.log_z_bank = state["log_z_bank"]
