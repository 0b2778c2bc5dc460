"""Thin builder of the CTC module and its terms from a config."""

import torch
from torch import nn

from ..utils.errors import UserError
from ..utils.seeding import mix_seed
from .ctc import CTC
from .ias import AggregationTerm
from .irs import RevitalizationTerm
from .negatives import OtherClassNegatives, RelaxedNegatives, UniformNegatives


def build_ctc(cfg, backbone: nn.Module, targets: torch.Tensor, device: torch.device) -> CTC:
    """CTC around ``backbone`` for a training set with labels ``targets``, from ``cfg.CTC``.

    A term whose weight is 0 is not built (nor are its memories, N x 128 floats each).
    """
    targets = torch.as_tensor(targets, dtype=torch.long)
    num_data, width, embed = targets.numel(), backbone.num_features, cfg.CTC.EMBED_DIM
    generator = torch.Generator().manual_seed(mix_seed(cfg.SEED, 1))  # the memories' initialisation
    terms = []
    if cfg.CTC.ALPHA > 0:
        ias = cfg.CTC.IAS
        terms.append(
            AggregationTerm(cfg.CTC.ALPHA, num_data, width, embed, ias.TEMPERATURE, ias.MOMENTUM,
                            ias.NUM_NEGATIVES, ias.TRAIN_HEAD, generator, device)
        )  # fmt: skip
    if cfg.CTC.BETA > 0:
        irs = cfg.CTC.IRS
        if irs.NEGATIVES == "other_classes":
            negatives = OtherClassNegatives(targets)
        elif irs.NEGATIVES == "relax":
            negatives = RelaxedNegatives(targets)
        elif irs.NEGATIVES == "uniform":
            negatives = UniformNegatives(num_data)
        else:
            raise UserError(f"CTC.IRS.NEGATIVES must be 'other_classes', 'relax' or 'uniform', got {irs.NEGATIVES!r}")
        terms.append(
            RevitalizationTerm(cfg.CTC.BETA, num_data, width, negatives, embed, irs.TEMPERATURE, irs.MOMENTUM,
                               irs.NUM_NEGATIVES, cfg.SOLVER.CHANNELS_LAST, generator, device)
        )  # fmt: skip
    return CTC(backbone, terms, seed=cfg.SEED, channels_last=cfg.SOLVER.CHANNELS_LAST, device=device).to(device)
