"""L_IAS: non-parametric instance discrimination against a memory bank (Wu et al. 2018)."""

from typing import Dict, Optional

import torch
import torch.nn.functional as F

from .memory import init_memory, memory_scores, momentum_update
from .nce import first_batch_log_z, nce_loss
from .negatives import UniformNegatives


class InstanceDiscrimination:
    """Each training image is its own class; its class "weight" is its memory slot.

    Full softmax (``num_negatives == 0``, CIFAR): logits ``s_j = z . m_j / tau`` over all
    N slots and ``L = CE(s, index)``. Sampled (``num_negatives = K``, ImageNet): NCE with K
    uniform negatives and ``P_j = exp(z . m_j / tau) / Z``, Z fixed on the first batch as
    ``mean(exp) * N``. After each step, ``m_i <- normalise(mu m_i + (1 - mu) z_i)``.

    Args:
        num_data: N, the number of training images.
        dim: embedding width.
        temperature: tau_I (release: 0.1).
        momentum: mu_I (release: 0.5).
        num_negatives: 0 for the full softmax, else K.
        generator: seeds the memory's initialisation.
        device: where the memory lives.
    """

    def __init__(
        self,
        num_data: int,
        dim: int = 128,
        temperature: float = 0.1,
        momentum: float = 0.5,
        num_negatives: int = 0,
        generator: Optional[torch.Generator] = None,
        device: torch.device = torch.device("cpu"),
    ) -> None:
        self.num_data = num_data
        self.temperature = temperature
        self.momentum = momentum
        self.num_negatives = num_negatives
        self.memory = init_memory(num_data, dim, generator or torch.Generator(), device)
        self.log_z: Optional[float] = None
        self.negatives = UniformNegatives(num_data)

    def loss(self, z: torch.Tensor, indices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """L_IAS of unit embeddings ``z`` (B, d) of the images ``indices`` (B,)."""
        z = z.float()
        if self.num_negatives == 0:
            logits = (z / self.temperature) @ self.memory.t()  # B x N
            return F.cross_entropy(logits, indices)
        negatives = self.negatives.draw(indices, self.num_negatives, generator).to(z.device)
        slots = torch.cat([indices.unsqueeze(1), negatives], dim=1)  # B x (1+K), positive first
        scores = memory_scores(z / self.temperature, self.memory, slots)
        if self.log_z is None:
            self.log_z = first_batch_log_z(scores, self.num_data)
        return nce_loss(scores, self.num_data, self.log_z)

    def update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        """Momentum update of the slots ``indices`` with the (gathered) embeddings ``z``."""
        momentum_update(self.memory, indices, z, self.momentum)

    def state_dict(self) -> Dict[str, object]:
        return {"memory": self.memory, "log_z": self.log_z}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.memory.copy_(state["memory"])
        self.log_z = state["log_z"]
