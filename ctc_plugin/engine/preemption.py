"""PreemptionHook: a preemption signal stops a run after its current iteration, with a checkpoint
at that iteration; the tool then exits with ``PREEMPTED_STATUS`` for a requeue script to test."""

import logging
import os
from typing import Callable, Sequence

import torch
import torch.distributed as dist
from detectron2.engine import HookBase
from detectron2.utils import comm

from ..utils import signals
from ..utils.errors import Preempted

logger = logging.getLogger(__name__)


class PreemptionHook(HookBase):
    """After every step: when a watched signal has arrived on any process, write a checkpoint at
    this iteration (``save(iteration) -> path``, rank 0 writes) and stop every process there.

    All processes must stop after the same iteration, so the flag is agreed on by an all-reduce
    (one integer) each step when there are several. Register it last: the step's other hooks
    (memory update, learning rate, periodic checkpoint, writers) have run when it saves. The
    signals are watched from ``before_train`` unless the tool already watches them (it does from
    the start of the process, so that a signal during setup is not lost).
    """

    def __init__(self, save: Callable[[int], str], signal_names: Sequence[str] = signals.DEFAULT_SIGNALS) -> None:
        self._save = save
        self._names = list(signal_names)
        self._owns_handlers = False

    def before_train(self) -> None:
        if not signals.watched():
            signals.watch(self._names)
            self._owns_handlers = True
        if self._agreed():
            raise Preempted(f"{self._signal_name()} arrived before training began; nothing new to save")

    def after_train(self) -> None:
        if self._owns_handlers:
            signals.unwatch()

    def after_step(self) -> None:
        if not self._agreed():
            return
        logger.warning(f"{self._signal_name()} received: stopping after this iteration, with a checkpoint")
        iteration = self.trainer.iter
        path = self._save(iteration)
        comm.synchronize()  # no process exits before the checkpoint is whole
        raise Preempted(
            f"preempted by {self._signal_name()} after iteration {iteration + 1} of {self.trainer.max_iter}; "
            f"checkpoint {os.path.abspath(path)} written (--resume continues from it)"
        )

    def _signal_name(self) -> str:
        return signals.received() or "a signal on another process"

    def _agreed(self) -> bool:
        requested = signals.received() is not None
        if comm.get_world_size() == 1:
            return requested
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        flag = torch.tensor([int(requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())
