"""Two CPU processes (gloo) through Detectron2's launch: identical memories and weights on both ranks."""

import os

import pytest
import torch
from detectron2.engine import launch
from detectron2.utils import comm
from fixtures.datasets import write_tiny_cifar100
from rank_dump import rank_state

from ctc_plugin.config import get_cfg
from ctc_plugin.engine import CTCTrainer

pytestmark = pytest.mark.slow  # two training processes (Detectron2's launch)


def train_and_dump(cfg, out_dir: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(cfg.SEED + comm.get_rank())  # different initial weights: DDP must broadcast
    trainer = CTCTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    torch.save(rank_state(trainer.ctc), os.path.join(out_dir, f"rank{comm.get_rank()}.pth"))


def test_two_processes_hold_identical_memories_and_weights(tmp_path):
    root = write_tiny_cifar100(str(tmp_path / "data"), num_train=64, num_test=8)
    cfg = get_cfg()
    cfg.merge_from_list(
        ["MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "DATASETS.ROOT", root, "SOLVER.IMS_PER_BATCH", "16",
         "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1", "CTC.IRS.NUM_NEGATIVES", "32", "CTC.ALPHA", "0.5",
         "CTC.IRS.REFILL_MEMORY", "True", "DATALOADER.NUM_WORKERS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0",
         "OUTPUT_DIR", str(tmp_path / "run")]
    )  # fmt: skip
    cfg.freeze()
    launch(train_and_dump, 2, dist_url="auto", args=(cfg, str(tmp_path)))
    rank0 = torch.load(tmp_path / "rank0.pth", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pth", weights_only=True)
    assert rank0.keys() == rank1.keys() and any(".bank." in key for key in rank0)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Every slot was written (by one rank or the other) and so is a unit vector.
    assert (rank0["ias.memory"].norm(dim=1) - 1).abs().max() < 1e-5
    assert (rank0["irs.memory_current"].norm(dim=1) - 1).abs().max() < 1e-5  # refilled: every slot unit norm
