"""CTC's two stages in the trainer: the optimizer, the learning-rate schedule and the stage hook."""

import logging

import torch
from detectron2.engine import HookBase
from fvcore.common.param_scheduler import CompositeParamScheduler, CosineParamScheduler, ParamScheduler

from ..modeling import CTC

logger = logging.getLogger(__name__)


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


class CTCStageHook(HookBase):
    """Runs CTC's stages around the trainer's steps.

    At the first step of stage 2 the method enters it (the information bank is taken),
    optionally refills the IRS memories, the optimizer takes stage 2's weight decay and
    DistributedDataParallel is rebuilt for the stage's parameters. After every step the
    memory updates are applied.
    """

    def __init__(self, cfg, trainer) -> None:
        self.stage1_iters = cfg.SOLVER.IAS_EPOCHS * trainer.iters_per_epoch
        self.has_stage2 = cfg.SOLVER.IRS_EPOCHS > 0
        self.weight_decay = cfg.SOLVER.WEIGHT_DECAY
        self.refill = cfg.CTC.IRS.REFILL_MEMORY and cfg.CTC.BETA > 0

    def before_step(self) -> None:
        ctc = self.trainer.ctc
        if self.has_stage2 and self.trainer.iter == self.stage1_iters and ctc.stage == 1:
            logger.info(f"Iteration {self.trainer.iter}: information revitalization stage begins")
            ctc.enter_stage(2)
            if self.refill:
                logger.info("Refilling both IRS memories with the information bank's embeddings")
                ctc.terms["irs"].refill(self.trainer.build_refill_loader(), ctc.device)
            for group in self.trainer.optimizer.param_groups:
                group["weight_decay"] = self.weight_decay
            self.trainer.wrap_model()

    def after_step(self) -> None:
        self.trainer.ctc.update_memories()
        self.trainer.storage.put_scalar("stage", self.trainer.ctc.stage, smoothing_hint=False)
