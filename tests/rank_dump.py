"""Test helper: ``ctc-pretrain`` whose every process saves its weights and memories after training.

    python tests/rank_dump.py <ctc-pretrain arguments>   # writes OUTPUT_DIR/rank<r>.pth

Run as a script it is a real tool start, so torchrun, srun-style environments and
Detectron2's launch all see it as they would see ``ctc-pretrain``.
"""

import os
import sys

import torch
from detectron2.engine import HookBase
from detectron2.utils import comm

from ctc_plugin.registry import HOOK_REGISTRY


def rank_state(ctc) -> dict:
    """Parameters (the bank's included) and every memory of a ``CTC`` module.

    Parameters, not BatchNorm running statistics: DDP broadcasts rank 0's buffers before
    every forward, and each rank's last forward then updates its own.
    """
    state = {k: v.detach().clone() for k, v in ctc.named_parameters()}
    irs, ias = ctc.terms["irs"].criterion, ctc.terms["ias"].criterion
    state["irs.memory_current"] = irs.memory_current
    state["irs.memory_bank"] = irs.memory_bank
    state["ias.memory"] = ias.memory
    state["irs.log_z"] = torch.tensor([irs.log_z_current, irs.log_z_bank])
    return state


@HOOK_REGISTRY.register()
class DumpRankState(HookBase):
    def __init__(self, cfg, trainer) -> None:
        self.folder = cfg.OUTPUT_DIR

    def after_train(self) -> None:
        torch.save(rank_state(self.trainer.ctc), os.path.join(self.folder, f"rank{comm.get_rank()}.pth"))


if __name__ == "__main__":
    from ctc_plugin.cli import pretrain

    sys.exit(pretrain.main([*sys.argv[1:], "TRAINER.EXTRA_HOOKS", "['DumpRankState']"]))
