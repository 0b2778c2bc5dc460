"""Thin builder of the CTC module from a config."""

import torch
from torch import nn

from .ctc import CTC


def build_ctc(cfg, backbone: nn.Module, targets: torch.Tensor, device: torch.device) -> CTC:
    """CTC around ``backbone`` for a training set with labels ``targets``, from ``cfg.CTC``."""
    return CTC(
        backbone,
        targets,
        alpha=cfg.CTC.ALPHA,
        beta=cfg.CTC.BETA,
        embed_dim=cfg.CTC.EMBED_DIM,
        ias_temperature=cfg.CTC.IAS.TEMPERATURE,
        ias_momentum=cfg.CTC.IAS.MOMENTUM,
        ias_negatives=cfg.CTC.IAS.NUM_NEGATIVES,
        train_ias_head=cfg.CTC.IAS.TRAIN_HEAD,
        irs_temperature=cfg.CTC.IRS.TEMPERATURE,
        irs_momentum=cfg.CTC.IRS.MOMENTUM,
        irs_negatives=cfg.CTC.IRS.NUM_NEGATIVES,
        irs_negative_mode=cfg.CTC.IRS.NEGATIVES,
        seed=cfg.SEED,
        device=device,
    ).to(device)
