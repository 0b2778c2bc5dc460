"""CTC: the network, its contrastive heads and losses, and the two stages' state."""

import copy
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.distributed import gather_rows, rank
from ..utils.seeding import mix_seed
from .bank import InferenceCopy
from .heads import EmbedHead
from .ias import InstanceDiscrimination
from .irs import ContrastiveRevitalization
from .negatives import OtherClassNegatives, UniformNegatives

Batch = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _float32(device: torch.device) -> torch.autocast:
    """No autocast: the memory products and exp(s / 0.07) of the NCE losses stay in float32."""
    return torch.autocast(device_type=device.type, enabled=False)


class CTC(nn.Module):
    """Contrastive temporal coding (Cui, Zhao et al., ECCV 2022, arXiv 2203.03871).

    Stage 1, information aggregation: ``CE + alpha * L_IAS``. At the stage boundary the
    backbone is copied into a frozen information bank (eval mode, no grad). Stage 2,
    information revitalization: ``CE + beta * L_IRS`` between the network and the bank.
    With ``alpha = beta = 0`` it is the plain cross-entropy baseline.

    ``forward(batch)`` returns the loss dict a Detectron2 trainer sums; the memory update
    of each step is kept and applied by ``update_memories()`` after the optimizer step
    (the IAS softmax needs the pre-update memory in its backward pass).

    Args:
        backbone: a network with ``forward_features``, ``fc`` and ``num_features``.
        targets: the label of every training image, in dataset order (N,).
        alpha, beta: the weights of L_IAS and L_IRS (paper, CIFAR: 0.01 and 1.0).
        embed_dim: width of both contrastive embeddings (128).
        ias_temperature, ias_momentum: tau_I and mu_I (release: 0.1, 0.5).
        ias_negatives: 0 for the full softmax over N, else K sampled negatives.
        train_ias_head: False reproduces the release's IAS head, never trained.
        irs_temperature, irs_momentum, irs_negatives: CRD's tau, mu and K (0.07, 0.5, 16384).
        irs_negative_mode: "other_classes" or "uniform".
        seed: seeds the memories and the negatives (drawn per iteration and rank).
        device: where the memories live.
    """

    def __init__(
        self,
        backbone: nn.Module,
        targets: torch.Tensor,
        *,
        alpha: float = 0.01,
        beta: float = 1.0,
        embed_dim: int = 128,
        ias_temperature: float = 0.1,
        ias_momentum: float = 0.5,
        ias_negatives: int = 0,
        train_ias_head: bool = True,
        irs_temperature: float = 0.07,
        irs_momentum: float = 0.5,
        irs_negatives: int = 16384,
        irs_negative_mode: str = "other_classes",
        seed: int = 0,
        device: torch.device = torch.device("cpu"),
    ) -> None:
        super().__init__()
        targets = torch.as_tensor(targets, dtype=torch.long)
        num_data = targets.numel()
        self.backbone = backbone
        self.ias_head = EmbedHead(backbone.num_features, embed_dim)
        self.irs_head = EmbedHead(backbone.num_features, embed_dim)  # on the network's features
        self.bank_head = EmbedHead(backbone.num_features, embed_dim)  # on the bank's features
        self.bank: Optional[nn.Module] = None
        # A faster copy of the bank for its forward pass (BatchNorm folded, oneDNN layout on a
        # CPU; docs/benchmarks.md), kept out of the module's children so that it is neither
        # saved nor seen by DDP, and rebuilt whenever the bank changes.
        self._bank_forward: Tuple[nn.Module, ...] = ()
        self.alpha, self.beta = alpha, beta
        self.train_ias_head = train_ias_head
        self.irs_negatives = irs_negatives
        self.seed = seed
        self.stage = 1
        self.iteration = 0  # set by the trainer before each step; seeds the negatives
        self.channels_last = False  # set by the trainer when the network is channels_last
        self.device = device
        # The memories exist only for the losses that are on (N x 128 floats each).
        generator = torch.Generator().manual_seed(mix_seed(seed, 1))
        self.ias = (
            InstanceDiscrimination(num_data, embed_dim, ias_temperature, ias_momentum, ias_negatives, generator, device)
            if alpha > 0
            else None
        )
        self.irs = (
            ContrastiveRevitalization(num_data, embed_dim, irs_temperature, irs_momentum, generator, device)
            if beta > 0
            else None
        )
        if irs_negative_mode == "other_classes":
            self.negatives = OtherClassNegatives(targets)
        elif irs_negative_mode == "uniform":
            self.negatives = UniformNegatives(num_data)
        else:
            raise ValueError(f"irs_negative_mode must be 'other_classes' or 'uniform', got {irs_negative_mode!r}")
        self._pending: Optional[Tuple[torch.Tensor, ...]] = None
        self.set_stage(1)

    # ---- stages ----------------------------------------------------------------------
    def trainable_parameters(self) -> List[nn.Parameter]:
        """Every parameter the optimizer should hold, in either stage."""
        heads = [self.irs_head, self.bank_head] + ([self.ias_head] if self.train_ias_head else [])
        return list(self.backbone.parameters()) + [p for head in heads for p in head.parameters()]

    def set_stage(self, stage: int) -> None:
        """Mark only the parameters the stage's losses use as requiring grad.

        DistributedDataParallel must be (re)built after this, as it reduces exactly the
        parameters that require grad.
        """
        self.stage = stage
        uses_ias = stage == 1 and self.alpha > 0 and self.train_ias_head
        uses_irs = stage == 2 and self.beta > 0
        self.ias_head.requires_grad_(uses_ias)
        self.irs_head.requires_grad_(uses_irs)
        self.bank_head.requires_grad_(uses_irs)

    def start_revitalization(self) -> None:
        """Snapshot the backbone into the frozen information bank and enter stage 2."""
        self.bank = copy.deepcopy(self.backbone).eval().requires_grad_(False)
        self._bank_forward = ()
        self.set_stage(2)

    @torch.no_grad()
    def bank_features(self, images: torch.Tensor) -> torch.Tensor:
        """The information bank's pooled features of ``images`` (no grad).

        ``no_grad`` rather than ``inference_mode``: the features feed the trainable bank
        head, which saves them for its backward pass.
        """
        if not self._bank_forward:
            memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
            self._bank_forward = (InferenceCopy(self.bank, memory_format),)
        return self._bank_forward[0].forward_features(images)

    def _apply(self, fn, *args, **kwargs):
        self._bank_forward = ()  # rebuilt from the moved or converted bank on first use
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True) -> "CTC":
        super().train(mode)
        if self.bank is not None:
            self.bank.eval()  # the information bank is frozen, BatchNorm statistics included
        return self

    # ---- a training step ---------------------------------------------------------------
    def forward(self, batch: Batch) -> Dict[str, torch.Tensor]:
        images, labels, indices = (t.to(self.device, non_blocking=True) for t in batch)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        features = self.backbone.forward_features(images)  # B x D
        losses = {"loss_cls": F.cross_entropy(self.backbone.fc(features), labels)}
        generator = torch.Generator().manual_seed(mix_seed(self.seed, 2, self.iteration, rank()))
        if self.stage == 1 and self.alpha > 0:
            z = self.ias_head(features)  # B x 128, unit norm
            with _float32(self.device):
                losses["loss_ias"] = self.alpha * self.ias.loss(z, indices, generator)
            self._pending = (z.detach(), indices)
        elif self.stage == 2 and self.beta > 0:
            bank_features = self.bank_features(images)
            v1 = self.irs_head(features)
            v2 = self.bank_head(bank_features)
            negatives = self.negatives.draw(labels, self.irs_negatives, generator).to(indices.device)
            slots = torch.cat([indices.unsqueeze(1), negatives], dim=1)  # B x (1+K), positive first
            with _float32(self.device):
                losses["loss_irs"] = self.beta * self.irs.loss(v1, v2, slots)
            self._pending = (v1.detach(), v2.detach(), indices)
        return losses

    @torch.no_grad()
    def update_memories(self) -> None:
        """Apply the last step's memory update, gathered from all ranks (call on every rank)."""
        if self._pending is None:
            return
        pending, self._pending = [gather_rows(t) for t in self._pending], None
        if len(pending) == 2:
            self.ias.update(*pending)
        else:
            self.irs.update(*pending)

    @torch.no_grad()
    def refill_memories(self, batches: Iterable[Batch]) -> None:
        """Fill both IRS memories with the bank's embeddings (every rank, same batch count)."""
        for images, _, indices in batches:
            features = self.bank_features(images.to(self.device))
            v1, v2 = self.irs_head(features), self.bank_head(features)
            self.irs.refill(gather_rows(v1), gather_rows(v2), gather_rows(indices.to(self.device)))

    # ---- checkpointing -------------------------------------------------------------------
    def method_state_dict(self) -> Dict[str, object]:
        """Everything of CTC that is not the backbone: heads, memories, Z, bank, stage."""
        state = {
            "stage": self.stage,
            "heads": {
                "ias_head": self.ias_head.state_dict(),
                "irs_head": self.irs_head.state_dict(),
                "bank_head": self.bank_head.state_dict(),
            },
        }
        for name in ("ias", "irs"):
            if getattr(self, name) is not None:
                state[name] = getattr(self, name).state_dict()
        if self.bank is not None:
            state["bank"] = self.bank.state_dict()
        return state

    def load_method_state_dict(self, state: Dict[str, object]) -> None:
        for name, head_state in state["heads"].items():
            getattr(self, name).load_state_dict(head_state)
        for name in ("ias", "irs"):
            if getattr(self, name) is not None:
                getattr(self, name).load_state_dict(state[name])
        if "bank" in state:
            self.start_revitalization()
            self.bank.load_state_dict(state["bank"])
            self._bank_forward = ()
        else:
            self.bank = None
        self.set_stage(state["stage"])
