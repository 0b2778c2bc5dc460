"""tools/pretrain.py end to end on a tiny CIFAR-100 in the official layout, on the real engine."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision
from fixtures.datasets import write_tiny_cifar100
from fixtures.processes import kill_when_written
from torch import nn

pytestmark = pytest.mark.slow  # every test here starts tool processes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "pretrain.py")
# 64 training images, batch 16: 4 iterations per epoch; K and the input are cut to size.
TINY = [
    "MODEL.DEVICE", "cpu", "MODEL.DEPTH", "18", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "16",
    "CTC.IRS.NUM_NEGATIVES", "32", "DATALOADER.NUM_WORKERS", "0", "TEST.IMS_PER_BATCH", "32",
    "TRAINER.LOG_PERIOD", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_tiny_cifar100(str(tmp_path_factory.mktemp("cifar")), num_train=64, num_test=16)


def pretrain(output_dir, root, *opts, flags=(), config="configs/pretrain/cifar100_r18_ctc.yaml", **kwargs):
    command = [sys.executable, TOOL, "--config-file", os.path.join(REPO, config), *flags]
    command += [*TINY, "DATASETS.ROOT", root, "OUTPUT_DIR", str(output_dir), *opts]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


def read_metrics(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f]


def test_one_ias_and_one_irs_epoch(tmp_path, cifar_root):
    result = pretrain(tmp_path, cifar_root, "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(os.listdir(tmp_path))
    assert {"model_epoch_0001.pth", "model_epoch_0002.pth", "model_final.pth", "config.yaml"} <= set(names)
    assert any(name.startswith("events.out.tfevents") for name in names)

    checkpoint = torch.load(tmp_path / "model_final.pth", weights_only=True)
    record = checkpoint["backbone"]
    assert record["builder"] == "build_resnet" and record["module"] == "ctc_plugin.backbones.build"
    assert (record["model"]["DEPTH"], record["model"]["STEM"], record["model"]["NUM_CLASSES"]) == (18, "cifar", 100)
    assert checkpoint["epoch"] == 2 and checkpoint["ctc"]["stage"] == 2
    reference = torchvision.models.resnet18(num_classes=100)
    reference.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    reference.load_state_dict(checkpoint["model"])  # torchvision's keys, strict

    metrics = read_metrics(tmp_path)
    by_iter = {m["iteration"]: m for m in metrics if "lr" in m}
    assert by_iter[0]["lr"] == pytest.approx(0.05)  # stage 1 starts at BASE_LR ...
    assert by_iter[4]["lr"] == pytest.approx(0.005)  # ... stage 2 restarts at 0.1 x BASE_LR
    assert "loss_ias" in by_iter[3] and "loss_irs" in by_iter[4] and "loss_irs" not in by_iter[3]
    assert sum("test/top1" in m for m in metrics) == 2  # evaluated after each epoch
    assert "information revitalization stage begins" in result.stdout
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert results["epoch"] == 2 and results["iterations"] == 8 and results["train_images"] == 64
    provenance = results["provenance"]
    assert provenance["resumptions"] == 0 and provenance["world_size"] == 1 and provenance["device"] == "cpu"
    assert provenance["torch"] == str(torch.__version__) and provenance["numpy"] == np.__version__
    assert provenance["omp_num_threads"] == os.environ.get("OMP_NUM_THREADS")  # None when unset
    assert provenance["mkl_num_threads"] == os.environ.get("MKL_NUM_THREADS")
    assert provenance["torch_threads"] >= 1 and provenance["torch_interop_threads"] >= 1
    assert provenance["python"] == ".".join(map(str, sys.version_info[:3]))

    evaluated = pretrain(tmp_path, cifar_root, "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1",
                         flags=("--eval-only", "--resume"))  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "Epoch 2: test top-1" in evaluated.stdout and "Starting training" not in evaluated.stdout
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["provenance"]["resumptions"] == 0  # evaluating is no resumption of training


def test_baseline_is_the_same_engine_without_ctc(tmp_path, cifar_root):
    result = pretrain(
        tmp_path, cifar_root, "SOLVER.IAS_EPOCHS", "2", config="configs/pretrain/cifar100_r18_baseline.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "model_final.pth", weights_only=True)
    assert checkpoint["ctc"] == {"stage": 1, "terms": {}}  # no memories, no heads
    keys = {k for m in read_metrics(tmp_path) for k in m}
    assert "total_loss" in keys and not {"loss_ias", "loss_irs"} & keys  # cross-entropy alone


# Stage 2 (and mid-epoch stops in both stages) are covered by tests/test_cluster.py's SIGTERM tests.
@pytest.mark.parametrize("kill_after_epoch", [1], ids=["resume-in-stage-1"])
def test_sigkill_then_resume_is_bitwise_the_uninterrupted_run(tmp_path, cifar_root, kill_after_epoch):
    schedule = ("SOLVER.IAS_EPOCHS", "2", "SOLVER.IRS_EPOCHS", "1", "DATALOADER.NUM_WORKERS", "1")
    reference = pretrain(tmp_path / "reference", cifar_root, *schedule)
    assert reference.returncode == 0, reference.stderr[-3000:]

    interrupted = tmp_path / "interrupted"
    command = [sys.executable, TOOL, "--config-file", os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml")]
    command += [*TINY, "DATASETS.ROOT", cifar_root, "OUTPUT_DIR", str(interrupted), *schedule]
    checkpoint = interrupted / f"model_epoch_{kill_after_epoch:04d}.pth"
    kill_when_written(command, checkpoint)
    assert checkpoint.exists() and not (interrupted / "model_final.pth").exists()

    resumed = pretrain(interrupted, cifar_root, *schedule, flags=("--resume",))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at iteration {4 * kill_after_epoch}" in resumed.stdout
    expected = torch.load(tmp_path / "reference" / "model_final.pth", weights_only=True)
    actual = torch.load(interrupted / "model_final.pth", weights_only=True)
    assert (expected["trainer"]["resumptions"], actual["trainer"]["resumptions"]) == (0, 1)
    results = {}
    for name in ("reference", "interrupted"):
        with open(tmp_path / name / "results.json") as f:
            results[name] = json.load(f)
    assert results["reference"]["provenance"]["resumptions"] == 0
    assert results["interrupted"]["provenance"]["resumptions"] == 1
    # Apart from the provenance, the resumed run's results are the uninterrupted run's.
    assert {k: v for k, v in results["interrupted"].items() if k != "provenance"} == {
        k: v for k, v in results["reference"].items() if k != "provenance"
    }
    for key, value in expected["model"].items():
        assert torch.equal(value, actual["model"][key]), key
    irs_expected, irs_actual = expected["ctc"]["terms"]["irs"], actual["ctc"]["terms"]["irs"]
    memories_expected, memories_actual = irs_expected.pop("_extra_state"), irs_actual.pop("_extra_state")
    assert torch.equal(memories_expected["memory_current"], memories_actual["memory_current"])
    assert torch.equal(memories_expected["memory_bank"], memories_actual["memory_bank"])
    assert memories_expected["log_z_current"] == memories_actual["log_z_current"]
    assert any(key.startswith("bank.") for key in irs_expected)
    for key, value in irs_expected.items():  # heads and the information bank
        assert torch.equal(value, irs_actual[key]), key


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (
            ("SOLVER.IAS_EPOCH", "3"),
            "unknown config key SOLVER.IAS_EPOCH in the command line; did you mean SOLVER.IAS_EPOCHS?",
        ),
        (("SOLVER.BASE_LR", "fast"), "bad value 'fast' for SOLVER.BASE_LR"),
        (("DATASETS.ROOT", "/nonexistent/datasets"), "dataset root not found: /nonexistent/datasets"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, cifar_root, opts, message):
    result = pretrain(tmp_path, cifar_root, *opts)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"pretrain: error: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "model_final.pth")
