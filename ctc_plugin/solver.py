"""The optimizer and the two-stage learning-rate schedule."""

import torch
from fvcore.common.param_scheduler import CompositeParamScheduler, CosineParamScheduler, ParamScheduler

from .modeling import CTC


def build_optimizer(cfg, ctc: CTC) -> torch.optim.Optimizer:
    """SGD over the backbone and the heads; stage 1 uses WEIGHT_DECAY * IAS_WEIGHT_DECAY_COEF."""
    return torch.optim.SGD(
        ctc.trainable_parameters(),
        lr=cfg.SOLVER.BASE_LR,
        momentum=cfg.SOLVER.MOMENTUM,
        nesterov=cfg.SOLVER.NESTEROV,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY * cfg.SOLVER.IAS_WEIGHT_DECAY_COEF,
    )


def build_lr_multiplier(cfg) -> ParamScheduler:
    """Multiplier of BASE_LR over training: a cosine 1 -> 0 over stage 1, then a restart at
    IRS_LR_FACTOR with its own cosine to 0 over stage 2 (per iteration)."""
    stage1, stage2 = cfg.SOLVER.IAS_EPOCHS, cfg.SOLVER.IRS_EPOCHS
    first = CosineParamScheduler(1.0, 0.0)
    if stage2 == 0:
        return first
    total = stage1 + stage2
    return CompositeParamScheduler(
        [first, CosineParamScheduler(cfg.SOLVER.IRS_LR_FACTOR, 0.0)],
        lengths=[stage1 / total, stage2 / total],
        interval_scaling=["rescaled", "rescaled"],
    )
