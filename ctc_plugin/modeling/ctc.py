"""CTC: the network, its contrastive terms, and which stage it is in."""

from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.distributed import rank
from ..utils.seeding import mix_seed
from .classifier import HeadOnFeatures
from .term import LossTerm, StepInputs, TrainingImages


class CTC(nn.Module):
    """Contrastive temporal coding (Cui, Zhao et al., ECCV 2022, arXiv 2203.03871).

    Stage 1, information aggregation: ``CE + alpha * L_IAS``. Stage 2, information
    revitalization: ``CE + beta * L_IRS`` against the information bank, a frozen copy of the
    network taken when stage 2 begins. Each contrastive loss is a ``LossTerm`` of one stage
    (``AggregationTerm``, ``RevitalizationTerm``); without terms it is the plain cross-entropy
    baseline. CE classifies with the backbone's ``fc``, or with a classifier head in its place
    (``CLASSIFIER_HEAD_REGISTRY``, e.g. the expendable projector of ``projector.py``), which is
    trained with the backbone and kept out of its state_dict. docs/method.md gives the formulas
    and every default.

    ``forward(batch)`` returns the loss dict a Detectron2 trainer sums. The batch is
    ``(images, labels, indices, iterations)``: the iteration seeds the step's negatives, so
    they are a function of (seed, iteration, rank) and a resumed run draws the same ones. The
    memory updates of a step are applied by ``update_memories()`` after the optimizer step
    (the IAS softmax needs the pre-update memory in its backward pass).

    Args:
        backbone: a ``ctc_plugin.backbones.Backbone`` (``forward_pre_logits``, ``fc``, ``num_features``).
        terms: the contrastive terms (each named once).
        classifier_head: pooled features -> logits for CE, in place of ``backbone.fc`` (which then
            takes no gradient, so neither the optimizer nor DistributedDataParallel waits for
            it); None: ``backbone.fc``.
        seed: seeds the negatives.
        channels_last: run the network on channels_last images.
        device: where the inputs go (the memories were created there).
    """

    def __init__(
        self,
        backbone: nn.Module,
        terms: Sequence[LossTerm] = (),
        *,
        classifier_head: Optional[nn.Module] = None,
        seed: int = 0,
        channels_last: bool = False,
        device: torch.device = torch.device("cpu"),
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.terms = nn.ModuleDict({term.name: term for term in terms})
        self.classifier_head = classifier_head
        if classifier_head is not None:
            backbone.fc.requires_grad_(False)  # unused: it stays at its initialisation
        self.seed = seed
        self.channels_last = channels_last
        self.device = device
        self.stage = 1
        self._mark_trainable()

    def trainable_parameters(self) -> List[nn.Parameter]:
        """Every parameter the optimizer holds, in either stage: the backbone's, the classifier head's, the terms'."""
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        head = list(self.classifier_head.parameters()) if self.classifier_head is not None else []
        return backbone + head + [p for term in self.terms.values() for p in term.head_parameters()]

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C) class logits of pooled features: the classifier head's, or the backbone's ``fc``."""
        if self.classifier_head is None:
            return self.backbone.fc(features)
        return self.classifier_head(features)

    def classifying_network(self) -> nn.Module:
        """Images -> logits as CE classifies them: the backbone, or the head on its pooled features."""
        if self.classifier_head is None:
            return self.backbone
        return HeadOnFeatures(self.backbone, self.classifier_head)

    def active_terms(self) -> List[LossTerm]:
        return [term for term in self.terms.values() if term.stage == self.stage]

    def enter_stage(self, stage: int, training_images: Optional[TrainingImages] = None) -> None:
        """Begin ``stage``'s terms (stage 2 copies the network into the information bank).

        ``training_images`` (in training, not when a checkpoint is loaded) reaches the terms'
        ``begin``, for a term that reads every training image then (the IRS memory refill).

        DistributedDataParallel must be rebuilt afterwards: it reduces exactly the parameters
        that require grad, and only the current stage's heads do.
        """
        self.stage = stage
        for term in self.active_terms():
            term.begin(self.backbone, training_images)
        self._mark_trainable()

    def _mark_trainable(self) -> None:
        for term in self.terms.values():
            term.requires_grad_(False)
        for term in self.active_terms():
            for parameter in term.head_parameters():
                parameter.requires_grad_(True)

    def forward(self, batch: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        images, labels, indices, iterations = batch
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        labels, indices = labels.to(self.device, non_blocking=True), indices.to(self.device, non_blocking=True)
        features = self.backbone.forward_pre_logits(images)  # B x D
        losses = {"loss_cls": F.cross_entropy(self.logits(features), labels)}
        active = self.active_terms()
        if active:
            # On the method's device: the negatives are drawn where they are used.
            generator = torch.Generator(self.device).manual_seed(mix_seed(self.seed, 2, int(iterations[0]), rank()))
            inputs = StepInputs(images, features, labels, indices, generator)
            for term in active:
                losses[f"loss_{term.name}"] = term.weight * term.loss(inputs)
        return losses

    @torch.no_grad()
    def update_memories(self) -> None:
        """Apply the last step's memory updates, gathered from all ranks (call on every rank)."""
        for term in self.active_terms():
            term.update()

    def method_state_dict(self) -> Dict[str, Any]:
        """Everything of CTC that is not the backbone: the stage, each term's heads, memories, Z, bank,
        and the classifier head (when there is one)."""
        state = {"stage": self.stage, "terms": {name: term.state_dict() for name, term in self.terms.items()}}
        if self.classifier_head is not None:
            state["classifier_head"] = self.classifier_head.state_dict()
        return state

    def load_method_state_dict(self, state: Dict[str, Any]) -> None:
        self.enter_stage(int(state["stage"]))
        for name, term in self.terms.items():
            term.load_state_dict(state["terms"][name])
        if self.classifier_head is not None:
            self.classifier_head.load_state_dict(state["classifier_head"])
