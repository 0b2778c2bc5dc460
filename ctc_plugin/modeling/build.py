"""Thin builder of the CTC module and its terms from a config."""

import torch
from torch import nn

from ..registry import LOSS_TERM_REGISTRY
from ..utils.errors import UserError
from ..utils.seeding import mix_seed
from . import ias as _ias  # noqa: F401  (registers build_aggregation_term)
from . import irs as _irs  # noqa: F401  (registers build_revitalization_term)
from . import projector as _projector  # noqa: F401  (registers build_projector_head)
from .classifier import build_classifier_head
from .ctc import CTC
from .term import LossTerm, TermData


def build_ctc(cfg, backbone: nn.Module, targets: torch.Tensor, device: torch.device) -> CTC:
    """CTC around ``backbone`` for a training set with labels ``targets``, with the terms that
    ``cfg.CTC.LOSS_TERMS`` names in ``LOSS_TERM_REGISTRY`` and the classifier head that
    ``cfg.CTC.CLASSIFIER_HEAD`` names in ``CLASSIFIER_HEAD_REGISTRY``.

    A builder that returns None (its weight is 0) adds no term (nor its memories, N x 128 floats each).
    The head is built after the terms, so the backbone and the terms' heads start from the same
    weights whichever head classifies.
    """
    targets = torch.as_tensor(targets, dtype=torch.long)
    generator = torch.Generator().manual_seed(mix_seed(cfg.SEED, 1))  # the memories' initialisation
    data = TermData(targets, backbone.num_features, generator, device)
    terms = []
    for name in cfg.CTC.LOSS_TERMS:
        if name not in LOSS_TERM_REGISTRY:
            known = ", ".join(sorted(n for n, _ in LOSS_TERM_REGISTRY))
            raise UserError(f"CTC.LOSS_TERMS: no loss term {name!r} is registered; registered: {known}")
        term = LOSS_TERM_REGISTRY.get(name)(cfg, data)
        if term is None:
            continue
        if not isinstance(term, LossTerm) or any(term.name == other.name for other in terms):
            raise UserError(f"CTC.LOSS_TERMS: {name} must build a LossTerm with a name of its own, got {term!r}")
        terms.append(term)
    head = build_classifier_head(cfg, backbone)
    return CTC(
        backbone, terms, classifier_head=head, seed=cfg.SEED, channels_last=cfg.SOLVER.CHANNELS_LAST, device=device
    ).to(device)
