"""L_IRS: CRD's contrastive loss between the network and its frozen information bank."""

import copy
import logging
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch
from fvcore.common.config import CfgNode as CN
from torch import nn

from ..config import register_config
from ..config.checks import fraction, non_negative, one_of, positive
from ..registry import LOSS_TERM_REGISTRY
from ..utils.distributed import gather_rows
from ..utils.errors import UserError
from .bank import InferenceCopy
from .heads import EmbedHead
from .memory import init_memory, memory_scores, momentum_update
from .nce import first_batch_log_z, nce_loss
from .negatives import OtherClassNegatives, RelaxedNegatives, UniformNegatives
from .term import LossTerm, StepInputs, TermData, TrainingImages, full_precision

logger = logging.getLogger(__name__)


class ContrastiveRevitalization:
    """CRD (Tian et al. 2020) with two memories, as CTC's stage 2 uses it.

    ``v1`` embeds the current network's features, ``v2`` the information bank's. Memory
    ``M1`` holds v1s and ``M2`` v2s. For each sample, slot 0 is the positive (its own index, or
    with "relax" a random image of its class) and K negatives come from a sampler:
    ``P1_j = exp(M2_j . v1 / tau) / Z1`` and ``P2_j = exp(M1_j . v2 / tau) / Z2``,
    Z fixed on the first batch as ``mean(exp) * N``. The loss is the NCE loss (Pn = 1/N) of both directions, summed.

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


class RevitalizationTerm(LossTerm):
    """CTC's stage-2 term ``beta * L_IRS`` against the information bank.

    When stage 2 begins (``begin``) the network is copied into the information bank: frozen,
    eval mode, no grad. Two heads embed the network's features (``head``, v1) and the bank's
    (``bank_head``, v2); both are trained. The bank's forward pass runs on a faster copy
    (BatchNorm folded, ``InferenceCopy``) rebuilt whenever the bank changes or moves.

    Args:
        weight: beta.
        num_data: N.
        num_features: width of the backbone's pooled features.
        negatives: draws the positive and the K negative slots of each sample (``negatives.py``).
        embed_dim: width of both embeddings (128).
        num_negatives: K.
        channels_last: the network runs channels_last (and so does the bank's copy).
        refill_memory: when stage 2 begins in training, fill both memories with the bank's
            embeddings of every training image (the release's ``--update_memory_bank``).
        temperature, momentum, generator, device: of ``ContrastiveRevitalization``.
    """

    name = "irs"
    stage = 2

    def __init__(
        self,
        weight: float,
        num_data: int,
        num_features: int,
        negatives: Union[OtherClassNegatives, RelaxedNegatives, UniformNegatives],
        embed_dim: int = 128,
        temperature: float = 0.07,
        momentum: float = 0.5,
        num_negatives: int = 16384,
        channels_last: bool = False,
        generator: Optional[torch.Generator] = None,
        device: torch.device = torch.device("cpu"),
        refill_memory: bool = False,
    ) -> None:
        super().__init__(weight)
        self.refill_memory = refill_memory
        self.device = device
        self.head = EmbedHead(num_features, embed_dim)  # on the network's features
        self.bank_head = EmbedHead(num_features, embed_dim)  # on the bank's features
        self.bank: Optional[nn.Module] = None
        self.negatives = negatives
        self.num_negatives = num_negatives
        self.channels_last = channels_last
        self.criterion = ContrastiveRevitalization(num_data, embed_dim, temperature, momentum, generator, device)
        # The bank prepared for inference, and the (device, dtype) of the bank it was made from; in a
        # list, not a submodule: neither saved nor seen by DDP. A moved or converted bank (its device
        # or dtype changed) or a loaded one (the load post-hook) is prepared again on first use.
        self._fast_bank: List[Tuple[Tuple[torch.device, torch.dtype], InferenceCopy]] = []
        self.register_load_state_dict_post_hook(_forget_fast_bank)

    def head_parameters(self) -> List[nn.Parameter]:
        return list(self.head.parameters()) + list(self.bank_head.parameters())

    def begin(self, backbone: nn.Module, training_images: Optional[TrainingImages] = None) -> None:
        self.bank = copy.deepcopy(backbone).eval().requires_grad_(False)
        self._fast_bank = []
        if self.refill_memory and training_images is not None:
            logger.info("Refilling both IRS memories with the information bank's embeddings")
            self.refill(training_images(), self.device)

    @torch.no_grad()
    def bank_features(self, images: torch.Tensor) -> torch.Tensor:
        """The information bank's pooled features of ``images``.

        ``no_grad`` rather than ``inference_mode``: the features feed the trainable bank head,
        which saves them for its backward pass.
        """
        parameter = next(self.bank.parameters())
        made_from = (parameter.device, parameter.dtype)
        if not self._fast_bank or self._fast_bank[0][0] != made_from:
            memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
            self._fast_bank = [(made_from, InferenceCopy(self.bank, memory_format))]
        return self._fast_bank[0][1].forward_pre_logits(images)

    def loss(self, inputs: StepInputs) -> torch.Tensor:
        v1 = self.head(inputs.features)
        v2 = self.bank_head(self.bank_features(inputs.images))
        negatives = self.negatives.draw(inputs.labels, self.num_negatives, inputs.generator).to(inputs.indices.device)
        positives = self.negatives.positives(inputs.indices, inputs.labels, inputs.generator)
        slots = torch.cat([positives.unsqueeze(1), negatives], dim=1)  # B x (1+K), positive first
        self.keep_update(v1, v2, inputs.indices)
        with full_precision(v1.device):
            return self.criterion.loss(v1, v2, slots)

    def apply_update(self, v1: torch.Tensor, v2: torch.Tensor, indices: torch.Tensor) -> None:
        self.criterion.update(v1, v2, indices)

    @torch.no_grad()
    def refill(self, batches: Iterable, device: torch.device) -> None:
        """Fill both memories with the bank's embeddings (every rank, with the same batch count)."""
        for images, _, indices in batches:
            features = self.bank_features(images.to(device))
            v1, v2 = self.head(features), self.bank_head(features)
            self.criterion.refill(gather_rows(v1), gather_rows(v2), gather_rows(indices.to(device)))

    def train(self, mode: bool = True) -> "RevitalizationTerm":
        super().train(mode)
        if self.bank is not None:
            self.bank.eval()  # frozen, BatchNorm statistics included
        return self

    def get_extra_state(self) -> Dict[str, Any]:
        return self.criterion.state_dict()

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        self.criterion.load_state_dict(state)


def _forget_fast_bank(module: "RevitalizationTerm", incompatible_keys) -> None:
    module._fast_bank = []  # a loaded bank is a new bank


# CTC.IRS.NEGATIVES: the sampler of each mode (negatives.py), built from the training labels.
NEGATIVE_SAMPLERS = {
    "other_classes": lambda data: OtherClassNegatives(data.targets),
    "relax": lambda data: RelaxedNegatives(data.targets),
    "uniform": lambda data: UniformNegatives(data.num_data),
}


def check_irs_config(cfg, num_train_images: int) -> None:
    """Stage 2 copies the network of stage 1 into the information bank: there must be a stage 1."""
    if cfg.CTC.BETA > 0 and cfg.SOLVER.IRS_EPOCHS > 0 and cfg.SOLVER.IAS_EPOCHS == 0:
        raise UserError("CTC's stage 2 needs an information bank: SOLVER.IAS_EPOCHS must be at least 1")


@register_config(
    rules=(
        non_negative("CTC.BETA"),
        positive("CTC.IRS.TEMPERATURE"),
        fraction("CTC.IRS.MOMENTUM"),
        positive("CTC.IRS.NUM_NEGATIVES"),
        one_of("CTC.IRS.NEGATIVES", NEGATIVE_SAMPLERS),
    ),
    check=check_irs_config,
)
def add_irs_config(cfg: CN) -> None:
    """``build_revitalization_term``'s keys: CTC.BETA and CTC.IRS (in place)."""
    # Weight of L_IRS in stage 2 (0 switches the loss off).
    cfg.CTC.BETA = 1.0
    cfg.CTC.IRS = CN()
    # Temperature tau of CRD's contrastive loss (0.07).
    cfg.CTC.IRS.TEMPERATURE = 0.07
    # Momentum of both IRS memories (0.5).
    cfg.CTC.IRS.MOMENTUM = 0.5
    # Negatives per sample K.
    cfg.CTC.IRS.NUM_NEGATIVES = 16384
    # The positive slot and the K negatives of each sample (NEGATIVE_SAMPLERS). "other_classes": its
    # own slot, negatives from the other classes (the release's --mode exact). "relax": a random image
    # of its class, negatives from the other classes (the release's --mode relax). "uniform": its own
    # slot, negatives from all images (the release's AliasMethod path, used without contrast indices).
    cfg.CTC.IRS.NEGATIVES = "other_classes"
    # Refill both memories with the information bank's embeddings of every training image
    # before stage 2 (the release's --update_memory_bank).
    cfg.CTC.IRS.REFILL_MEMORY = False
    # Embed the refill's images with the training augmentation (the release) instead of the
    # test transform.
    cfg.CTC.IRS.REFILL_AUGMENT = False


@LOSS_TERM_REGISTRY.register()
def build_revitalization_term(cfg, data: TermData) -> Optional[RevitalizationTerm]:
    """``beta * L_IRS`` from ``cfg.CTC.IRS`` (None when ``CTC.BETA`` is 0)."""
    if cfg.CTC.BETA <= 0:
        return None
    irs = cfg.CTC.IRS
    if irs.NEGATIVES not in NEGATIVE_SAMPLERS:
        raise UserError(f"CTC.IRS.NEGATIVES must be one of {', '.join(NEGATIVE_SAMPLERS)}, got {irs.NEGATIVES!r}")
    return RevitalizationTerm(
        cfg.CTC.BETA, data.num_data, data.num_features, NEGATIVE_SAMPLERS[irs.NEGATIVES](data), cfg.CTC.EMBED_DIM,
        irs.TEMPERATURE, irs.MOMENTUM, irs.NUM_NEGATIVES, cfg.SOLVER.CHANNELS_LAST, data.generator, data.device,
        refill_memory=irs.REFILL_MEMORY,
    )  # fmt: skip
