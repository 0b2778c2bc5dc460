"""L_IAS: non-parametric instance discrimination against a memory bank (Wu et al. 2018)."""

from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode as CN
from torch import nn

from ..config import register_config
from ..config.checks import fraction, non_negative, positive
from ..registry import LOSS_TERM_REGISTRY
from ..utils.errors import UserError
from .heads import EmbedHead
from .memory import init_memory, memory_scores, momentum_update
from .nce import first_batch_log_z, nce_loss
from .negatives import UniformNegatives
from .term import LossTerm, StepInputs, TermData, full_precision


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


class AggregationTerm(LossTerm):
    """CTC's stage-1 term ``alpha * L_IAS``: an embedding head and instance discrimination.

    Args:
        weight: alpha.
        num_data: N.
        num_features: width of the backbone's pooled features.
        embed_dim: width of the head's unit embedding (128).
        train_head: False keeps the head at its random initialisation (as in the release).
        temperature, momentum, num_negatives, generator, device: of ``InstanceDiscrimination``.
    """

    name = "ias"
    stage = 1

    def __init__(
        self,
        weight: float,
        num_data: int,
        num_features: int,
        embed_dim: int = 128,
        temperature: float = 0.1,
        momentum: float = 0.5,
        num_negatives: int = 0,
        train_head: bool = True,
        generator: Optional[torch.Generator] = None,
        device: torch.device = torch.device("cpu"),
    ) -> None:
        super().__init__(weight)
        self.head = EmbedHead(num_features, embed_dim)
        self.train_head = train_head
        self.criterion = InstanceDiscrimination(
            num_data, embed_dim, temperature, momentum, num_negatives, generator, device
        )

    def head_parameters(self) -> List[nn.Parameter]:
        return list(self.head.parameters()) if self.train_head else []

    def loss(self, inputs: StepInputs) -> torch.Tensor:
        z = self.head(inputs.features)  # B x 128, unit norm
        self.keep_update(z, inputs.indices)
        with full_precision(z.device):
            return self.criterion.loss(z, inputs.indices, inputs.generator)

    def apply_update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        self.criterion.update(z, indices)

    def get_extra_state(self) -> Dict[str, Any]:
        return self.criterion.state_dict()

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        self.criterion.load_state_dict(state)


def check_ias_config(cfg, num_train_images: int) -> None:
    """NCE's K negatives are drawn from the other memory slots: fewer than the training images."""
    negatives = cfg.CTC.IAS.NUM_NEGATIVES
    if cfg.CTC.ALPHA > 0 and negatives >= num_train_images:
        raise UserError(
            f"CTC.IAS.NUM_NEGATIVES {negatives} must be below the {num_train_images} training images "
            "(0: the full softmax over every memory slot)"
        )


@register_config(
    rules=(
        non_negative("CTC.ALPHA"),
        positive("CTC.IAS.TEMPERATURE"),
        fraction("CTC.IAS.MOMENTUM"),
        non_negative("CTC.IAS.NUM_NEGATIVES"),
    ),
    check=check_ias_config,
)
def add_ias_config(cfg: CN) -> None:
    """``build_aggregation_term``'s keys: CTC.ALPHA and CTC.IAS (in place)."""
    # Weight of L_IAS in stage 1 (0 switches the loss off).
    cfg.CTC.ALPHA = 0.01
    cfg.CTC.IAS = CN()
    # Softmax temperature tau_I of instance discrimination (release: 0.1).
    cfg.CTC.IAS.TEMPERATURE = 0.1
    # Memory momentum mu_I (release: 0.5).
    cfg.CTC.IAS.MOMENTUM = 0.5
    # 0: full softmax over all N memory slots (CIFAR); K > 0: NCE with K uniform negatives (ImageNet).
    cfg.CTC.IAS.NUM_NEGATIVES = 0
    # Train the IAS head; False reproduces the release, whose head stays at its random initialisation.
    cfg.CTC.IAS.TRAIN_HEAD = True


@LOSS_TERM_REGISTRY.register()
def build_aggregation_term(cfg, data: TermData) -> Optional[AggregationTerm]:
    """``alpha * L_IAS`` from ``cfg.CTC.IAS`` (None when ``CTC.ALPHA`` is 0)."""
    if cfg.CTC.ALPHA <= 0:
        return None
    ias = cfg.CTC.IAS
    return AggregationTerm(
        cfg.CTC.ALPHA, data.num_data, data.num_features, cfg.CTC.EMBED_DIM, ias.TEMPERATURE, ias.MOMENTUM,
        ias.NUM_NEGATIVES, ias.TRAIN_HEAD, data.generator, data.device,
    )  # fmt: skip
