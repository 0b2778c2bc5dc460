"""Detectron2 hooks for epoch-based fine-tuning with timm's scheduler (bridges to Detectron2)."""

import logging
from typing import Any, Callable, Dict

from detectron2.engine import HookBase
from detectron2.utils import comm

from .checkpoint import save_finetune_checkpoint

logger = logging.getLogger(__name__)


class TimmSchedulerHook(HookBase):
    """Sets the learning rate of each iteration from a timm scheduler built with ``step_on_epochs=False``.

    The rate is a function of the iteration alone (``step_update(num_updates=iter)``), so a
    resumed run continues the schedule exactly. Records ``lr`` in the event storage.
    """

    def __init__(self, scheduler: Any, optimizer: Any) -> None:
        self._scheduler = scheduler
        self._optimizer = optimizer

    def before_step(self) -> None:
        self._scheduler.step_update(num_updates=self.trainer.iter)
        lr = max(group["lr"] for group in self._optimizer.param_groups)
        self.trainer.storage.put_scalar("lr", lr, smoothing_hint=False)


class EpochCheckpointer(HookBase):
    """After each epoch's last iteration, rank 0 writes ``state_fn(epoch)`` atomically.

    Args:
        output_dir: the run's folder.
        iters_per_epoch: iterations in one epoch.
        keep_period: also keep a numbered copy every this many epochs (0: never).
        state_fn: completed epochs -> the checkpoint's dict.
    """

    def __init__(
        self, output_dir: str, iters_per_epoch: int, keep_period: int, state_fn: Callable[[int], Dict[str, Any]]
    ) -> None:
        self._output_dir = output_dir
        self._iters_per_epoch = iters_per_epoch
        self._keep_period = keep_period
        self._state_fn = state_fn

    def after_step(self) -> None:
        completed = self.trainer.iter + 1
        if completed % self._iters_per_epoch:
            return
        epoch = completed // self._iters_per_epoch
        if comm.is_main_process():
            keep = self._keep_period > 0 and epoch % self._keep_period == 0
            save_finetune_checkpoint(self._output_dir, self._state_fn(epoch), keep=keep)
        comm.synchronize()
