"""CTC's two stages in the trainer: the optimizer, the learning-rate schedule and the stage hook."""

import logging
import math

import torch
from detectron2.engine import HookBase
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import ParamScheduler

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


class TwoStageCosine(ParamScheduler):
    """Multiplier of BASE_LR: a cosine from 1 over stage 1, then a restart at ``restart`` with its
    own cosine over stage 2; each cosine ends at ``floor`` times its start.

    It works in whole iterations: stage 2 starts at exactly iteration ``stage1_iters`` at any
    length. (fvcore's ``CompositeParamScheduler`` switches when ``where + 1e-6`` passes the
    boundary: an iteration early from a million iterations on, ImageNet's length.)
    """

    def __init__(self, stage1_iters: int, max_iter: int, restart: float = 0.1, floor: float = 0.0) -> None:
        self.stage1_iters, self.max_iter = stage1_iters, max_iter
        self.restart, self.floor = restart, floor

    def __call__(self, where: float) -> float:
        iteration = round(where * self.max_iter)  # LRMultiplier passes iteration / max_iter
        if iteration < self.stage1_iters:
            start, progress = 1.0, iteration / self.stage1_iters
        else:
            start = self.restart
            progress = (iteration - self.stage1_iters) / max(1, self.max_iter - self.stage1_iters)
        end = self.floor * start
        return end + 0.5 * (start - end) * (1 + math.cos(math.pi * progress))


class EpochStepWarmup(ParamScheduler):
    """``schedule`` after the release's warm-up: through epoch e < ``warmup_epochs`` (counted
    from 0) the multiplier is (e + 1) / ``warmup_epochs``, one step per epoch (0.2, 0.4, ... 1.0
    over 5 epochs; ``adjust_learning_rate_cosine`` of the release), not scaled by ``schedule``.
    """

    def __init__(self, schedule: ParamScheduler, warmup_epochs: int, iters_per_epoch: int, max_iter: int) -> None:
        self.schedule, self.warmup_epochs = schedule, warmup_epochs
        self.iters_per_epoch, self.max_iter = iters_per_epoch, max_iter

    def __call__(self, where: float) -> float:
        epoch = round(where * self.max_iter) // self.iters_per_epoch
        if epoch < self.warmup_epochs:
            return (epoch + 1) / self.warmup_epochs
        return self.schedule(where)


def build_lr_multiplier(cfg, iters_per_epoch: int) -> ParamScheduler:
    """The schedule of ``SOLVER``: ``TwoStageCosine`` (one stage for the baseline), after a warm-up
    over ``WARMUP_EPOCHS`` shaped as ``WARMUP_SHAPE`` says (one of ``config.defaults.WARMUP_SHAPES``):
    "linear_iter", a per-iteration linear ramp from 1 / warm-up iterations (Detectron2's
    ``WarmupParamScheduler``); "release_epoch", ``EpochStepWarmup``."""
    max_iter = (cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS) * iters_per_epoch
    stage1_iters = cfg.SOLVER.IAS_EPOCHS * iters_per_epoch if cfg.SOLVER.IRS_EPOCHS else max_iter
    schedule = TwoStageCosine(stage1_iters, max_iter, cfg.SOLVER.IRS_LR_FACTOR, cfg.SOLVER.COSINE_FLOOR)
    warmup_iters = cfg.SOLVER.WARMUP_EPOCHS * iters_per_epoch
    if not warmup_iters:
        return schedule
    if cfg.SOLVER.WARMUP_SHAPE == "release_epoch":
        return EpochStepWarmup(schedule, cfg.SOLVER.WARMUP_EPOCHS, iters_per_epoch, max_iter)
    return WarmupParamScheduler(schedule, 1.0 / warmup_iters, warmup_iters / max_iter, "linear")


class CTCStageHook(HookBase):
    """Runs CTC's stages around the trainer's steps.

    At the first step of stage 2 the method enters it (the information bank is taken, and a
    term may read every training image, e.g. the IRS memory refill), the optimizer takes stage 2's weight decay and
    DistributedDataParallel is rebuilt for the stage's parameters. After every step the
    memory updates are applied.
    """

    def __init__(self, cfg, trainer) -> None:
        self.stage1_iters = cfg.SOLVER.IAS_EPOCHS * trainer.iters_per_epoch
        self.has_stage2 = cfg.SOLVER.IRS_EPOCHS > 0
        self.weight_decay = cfg.SOLVER.WEIGHT_DECAY

    def before_step(self) -> None:
        ctc = self.trainer.ctc
        if self.has_stage2 and self.trainer.iter == self.stage1_iters and ctc.stage == 1:
            logger.info(f"Iteration {self.trainer.iter}: information revitalization stage begins")
            ctc.enter_stage(2, self.trainer.build_refill_loader)
            for group in self.trainer.optimizer.param_groups:
                group["weight_decay"] = self.weight_decay
            self.trainer.wrap_model()

    def after_step(self) -> None:
        self.trainer.ctc.update_memories()
        self.trainer.storage.put_scalar("stage", self.trainer.ctc.stage, smoothing_hint=False)
