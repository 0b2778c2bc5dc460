"""The hooks of CTC pretraining: the stage logic, epoch checkpoints and evaluation."""

import logging
from typing import Dict

import torch
from detectron2.engine import HookBase, hooks

from ..registry import HOOK_REGISTRY

logger = logging.getLogger(__name__)


@HOOK_REGISTRY.register()
class CTCStageHook(HookBase):
    """Runs CTC's two stages around the trainer's steps.

    Before each step it tells the method the iteration (which seeds the negatives). At
    the first step of stage 2 it snapshots the information bank, optionally refills the
    IRS memories, sets stage 2's weight decay and rebuilds DistributedDataParallel for
    the stage's parameters. After each step it applies the memory update.
    """

    def __init__(self, cfg, trainer) -> None:
        self.stage1_iters = cfg.SOLVER.IAS_EPOCHS * trainer.iters_per_epoch
        self.has_stage2 = cfg.SOLVER.IRS_EPOCHS > 0
        self.weight_decay = cfg.SOLVER.WEIGHT_DECAY
        self.refill = cfg.CTC.IRS.REFILL_MEMORY and cfg.CTC.BETA > 0

    def before_train(self) -> None:
        # After a resume the method is already in its saved stage; rebuild DDP to match.
        self.trainer.wrap_model()

    def before_step(self) -> None:
        ctc = self.trainer.ctc
        ctc.iteration = self.trainer.iter
        if self.has_stage2 and self.trainer.iter == self.stage1_iters and ctc.stage == 1:
            self.start_stage2()

    def start_stage2(self) -> None:
        ctc = self.trainer.ctc
        logger.info(f"Iteration {self.trainer.iter}: information revitalization stage begins")
        ctc.start_revitalization()
        if self.refill:
            logger.info("Refilling both IRS memories with the information bank's embeddings")
            ctc.refill_memories(self.trainer.build_refill_loader())
        for group in self.trainer.optimizer.param_groups:
            group["weight_decay"] = self.weight_decay
        self.trainer.wrap_model()

    def after_step(self) -> None:
        self.trainer.ctc.update_memories()
        self.trainer.storage.put_scalar("stage", self.trainer.ctc.stage, smoothing_hint=False)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        torch.set_rng_state(state["torch_rng"])


class EpochCheckpointer(hooks.PeriodicCheckpointer):
    """Detectron2's periodic checkpointer, naming files by epoch: ``model_epoch_0007.pth``.

    Saves every ``period_epochs`` epochs, and ``model_final.pth`` after the last step.
    """

    def __init__(self, checkpointer, period_epochs: int, iters_per_epoch: int) -> None:
        super().__init__(checkpointer, period_epochs * iters_per_epoch)
        self.iters_per_epoch = iters_per_epoch

    def step(self, iteration: int, **kwargs) -> None:
        iteration = int(iteration)
        epoch = (iteration + 1) // self.iters_per_epoch
        state = {"iteration": iteration, "epoch": epoch}
        if (iteration + 1) % self.period == 0:
            self.checkpointer.save(f"{self.file_prefix}_epoch_{epoch:04d}", **state)
        if iteration >= self.max_iter - 1:
            self.checkpointer.save(f"{self.file_prefix}_final", **state)
