"""The analysis tools on a tiny fabricated pretraining run, the target datasets' layouts, the hook."""

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fixtures.datasets import write_stl10
from fixtures.networks import save_pretrain_checkpoint
from PIL import Image

from ctc_plugin.analysis.runs import load_backbone, select_epochs
from ctc_plugin.analysis.targets import split_names
from ctc_plugin.backbones import ResNet
from ctc_plugin.checkpoint import list_checkpoints
from ctc_plugin.cli import estimate_mi, temporal_transfer
from ctc_plugin.config import get_cfg
from ctc_plugin.data import build_dataset
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_fashion_mnist = pytest.mark.skipif(
    not os.path.isdir(FASHION_MNIST), reason="Fashion-MNIST (Debian dataset-fashion-mnist) is not installed"
)


def pretrain_config():
    """What tools/pretrain.py would write for Fashion-MNIST classes 0-4, 2 + 1 epochs."""
    cfg = get_cfg()
    cfg.DATASETS.TRAIN, cfg.DATASETS.TEST = "fashion_mnist_train", "fashion_mnist_test"
    cfg.DATASETS.ROOT = FASHION_MNIST
    cfg.DATASETS.CLASSES = [0, 1, 2, 3, 4]
    cfg.INPUT.SIZE = 32
    cfg.SOLVER.IAS_EPOCHS, cfg.SOLVER.IRS_EPOCHS = 2, 1
    return cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """model_epoch_0001/0002.pth and model_final.pth (epoch 3) of a random ResNet-18, CIFAR stem."""
    folder = tmp_path_factory.mktemp("run") / "fmnist_ctc"
    folder.mkdir()
    (folder / "config.yaml").write_text(pretrain_config().dump())
    torch.manual_seed(0)
    model = ResNet(18, stem="cifar", num_classes=5)
    for epoch, name in ((1, "model_epoch_0001.pth"), (2, "model_epoch_0002.pth"), (3, "model_final.pth")):
        with torch.no_grad():  # a different network per epoch
            for p in model.parameters():
                p.mul_(1.05)
        save_pretrain_checkpoint(model, folder / name, epoch=epoch)
    return str(folder)


@pytest.fixture(scope="module")
def other_run_dir(tmp_path_factory):
    """A second run of the same setting (other weights): model_final.pth only (epoch 3)."""
    folder = tmp_path_factory.mktemp("run") / "fmnist_other"
    folder.mkdir()
    (folder / "config.yaml").write_text(pretrain_config().dump())
    torch.manual_seed(1)
    save_pretrain_checkpoint(ResNet(18, stem="cifar", num_classes=5), folder / "model_final.pth", epoch=3)
    return str(folder)


# ---- checkpoints -----------------------------------------------------------------------------


def test_checkpoints_are_listed_in_epoch_order(run_dir):
    checkpoints = list_checkpoints(run_dir)
    assert [c.epoch for c in checkpoints] == [1, 2, 3]
    assert os.path.basename(checkpoints[-1].path) == "model_final.pth"
    assert [c.epoch for c in select_epochs(checkpoints, every=2)] == [1, 3]
    assert [c.epoch for c in select_epochs(checkpoints, epochs=[2])] == [2]
    model, epoch = load_backbone(checkpoints[0].path)
    assert epoch == 1 and not model.training and model.num_features == 512


def test_bad_run_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="run folder not found"):
        list_checkpoints(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="no checkpoints"):
        list_checkpoints(str(tmp_path))
    (tmp_path / "model_epoch_0001.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_backbone(str(tmp_path / "model_epoch_0001.pth"))


# ---- the tools ---------------------------------------------------------------------------------


@pytest.mark.slow
@needs_fashion_mnist
def test_temporal_transfer_tool_writes_table_and_png(run_dir, tmp_path):
    out = tmp_path / "transfer"
    argv = [
        "--run",
        run_dir,
        "--output-dir",
        str(out),
        "--max-train-samples",
        "40",
        "--max-test-samples",
        "20",
        "--steps",
        "30",
        "--batch-size",
        "16",
        "--milestones",
        "10,20",
        "--num-workers",
        "0",
        "--feature-batch-size",
        "64",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert temporal_transfer.main(argv) == 0
    with open(out / "temporal_transfer.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # The offline default target: the Fashion-MNIST classes the run held out, at 32x32.
    assert rows[0]["target"] == "fashion_mnist classes [5, 6, 7, 8, 9]" and rows[0]["image_size"] == "32"
    assert all(0.0 <= float(r["top1"]) <= 100.0 for r in rows)
    # Three draws of 40 training images, drawn from the probe seed; top1 is their mean.
    for row in rows:
        draws = [float(value) for value in row["top1_draws"].split(" ")]
        assert len(draws) == 3 and row["draws"] == "3" and row["probe_seed"] == "0"
        assert float(row["top1"]) == pytest.approx(sum(draws) / 3, abs=1e-4)
        assert row["train_images"] == "40" and row["test_images"] == "20"
    assert (out / "temporal_transfer.png").read_bytes()[:8] == PNG_MAGIC
    assert len(os.listdir(tmp_path / "cache")) == 6  # train + test features of 3 checkpoints

    # --resume keeps the table and probes nothing again.
    before = (out / "temporal_transfer.csv").read_text()
    assert temporal_transfer.main(argv + ["--resume"]) == 0
    assert (out / "temporal_transfer.csv").read_text() == before


@pytest.mark.slow
@needs_fashion_mnist
def test_a_runs_rows_are_the_same_whatever_the_other_runs_of_the_invocation(run_dir, other_run_dir, tmp_path):
    """A study probes each arm in its own process: it must get the numbers of probing all arms in one."""
    flags = ["--epochs", "3", "--max-train-samples", "40", "--max-test-samples", "20", "--steps", "30"]
    flags += ["--batch-size", "16", "--milestones", "10,20", "--num-workers", "0", "--format", "json", "--seed", "11"]

    def probe(name, *runs):
        out = tmp_path / name
        argv = [arg for run in runs for arg in ("--run", run)]
        assert temporal_transfer.main(argv + ["--output-dir", str(out), *flags]) == 0
        text = (out / "temporal_transfer.json").read_text()
        return text, {row["run"]: row for row in json.loads(text)}

    both_text, both = probe("both", run_dir, other_run_dir)
    again_text, _ = probe("again", run_dir, other_run_dir)
    assert again_text == both_text  # the same flags: bitwise the same table
    _, swapped = probe("swapped", other_run_dir, run_dir)
    _, alone = probe("alone", other_run_dir)
    assert swapped == both and alone["fmnist_other"] == both["fmnist_other"]
    row = both["fmnist_other"]
    assert isinstance(row["top1_draws"], list) and len(row["top1_draws"]) == row["draws"] == 3
    assert row["probe_seed"] == 11 and row["top1"] == pytest.approx(sum(row["top1_draws"]) / 3, abs=1e-4)


@needs_fashion_mnist
def test_resume_reads_a_table_of_the_tool_before_draws(run_dir, tmp_path):
    out = tmp_path / "transfer"
    out.mkdir()
    old_columns = "run,epoch,top1,target,train_images,test_images,image_size,protocol,steps,checkpoint"
    old_rows = [
        f"fmnist_ctc,{e},{50 + e}.5,fashion_mnist classes [5],40,20,32,appendix,30,/old/{e}.pth" for e in (1, 2)
    ]
    (out / "temporal_transfer.csv").write_text("\n".join([old_columns, *old_rows]) + "\n")
    argv = ["--run", run_dir, "--output-dir", str(out), "--max-train-samples", "40", "--max-test-samples", "20"]
    argv += ["--steps", "10", "--batch-size", "16", "--milestones", "5", "--num-workers", "0", "--draws", "2"]
    assert temporal_transfer.main(argv + ["--resume"]) == 0
    with open(out / "temporal_transfer.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["epoch"], r["top1"], r["top1_draws"]) for r in rows[:2]] == [("1", "51.5", ""), ("2", "52.5", "")]
    assert rows[2]["epoch"] == "3" and len(rows[2]["top1_draws"].split()) == 2 and rows[2]["draws"] == "2"
    assert temporal_transfer.main(argv + ["--resume"]) == 0  # the new rows read back: nothing to probe
    with open(out / "temporal_transfer.csv") as f:
        assert list(csv.DictReader(f)) == rows


@needs_fashion_mnist
def test_estimate_mi_tool_writes_table_and_png(run_dir, tmp_path):
    out = tmp_path / "mi"
    status = estimate_mi.main(
        [
            "--run",
            run_dir,
            "--output-dir",
            str(out),
            "--format",
            "json",
            "--epochs",
            "1,3",
            "--max-samples",
            "48",
            "--xt-steps",
            "5",
            "--ty-steps",
            "5",
            "--batch-size",
            "32",
            "--hidden",
            "16",
            "--num-workers",
            "0",
        ]
    )
    assert status == 0
    rows = json.loads((out / "mutual_information.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 3]
    assert all(r["I_XT"] >= 0 and r["I_TY"] >= 0 and r["samples"] == 48 for r in rows)
    assert rows[0]["dataset"] == "fashion_mnist_test"
    assert (out / "information_plane.png").read_bytes()[:8] == PNG_MAGIC


def run_tool(name, *args):
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", f"{name}.py"), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_tools_turn_bad_input_into_one_line(tmp_path):
    result = run_tool("temporal_transfer", "--run", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"temporal_transfer: error: run folder not found: {tmp_path / 'nowhere'}"
    ]
    (tmp_path / "config.yaml").write_text(pretrain_config().dump())
    result = run_tool("estimate_mi", "--run", str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"estimate_mi: error: no checkpoints (model_epoch_XXXX.pth or model_final.pth) in {tmp_path}"
    ]


@pytest.mark.parametrize(
    "tool, flags, message",
    [
        ("temporal_transfer", ["--every", "0"], "--every 0 must be positive"),
        ("temporal_transfer", ["--lr", "-0.4"], "--lr -0.4 must be positive"),
        ("temporal_transfer", ["--momentum", "1.5"], "--momentum 1.5 must be in [0, 1)"),
        ("estimate_mi", ["--xt-lr", "0"], "--xt-lr 0.0 must be positive"),
        ("estimate_mi", ["--num-workers", "-1"], "--num-workers -1 must be 0 or more"),
    ],
)
def test_analysis_flags_out_of_range_are_one_line(tmp_path, capsys, tool, flags, message):
    main = {"temporal_transfer": temporal_transfer.main, "estimate_mi": estimate_mi.main}[tool]
    assert main(["--run", str(tmp_path), *flags]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"{tool}: error: {message}"]


# ---- target datasets in their official layouts ------------------------------------------------


def test_stl10_reads_the_official_layout(tmp_path):
    images = write_stl10(tmp_path)
    assert split_names("stl10") == ("stl10_train", "stl10_test")
    train, test = build_dataset("stl10_train", str(tmp_path)), build_dataset("stl10_test", str(tmp_path))
    assert len(train) == 6 and len(test) == 4 and train.num_classes == 10 and train.classes[7] == "monkey"
    image, label = train[3]
    assert image.size == (96, 96) and label == 3
    assert np.array_equal(np.asarray(image), images["train"][3])  # orientation and channel order
    (tmp_path / "stl10_binary" / "test_X.bin").write_bytes(b"\0" * 100)
    with pytest.raises(UserError, match="STL-10 file"):
        build_dataset("stl10_test", str(tmp_path))


def test_cinic10_reads_the_official_layout(tmp_path):
    for split in ("train", "valid", "test"):
        for name, color in (("airplane", (255, 0, 0)), ("truck", (0, 0, 255))):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (32, 32), color).save(folder / f"{split}_{i}.png")
    test = build_dataset("cinic10_test", str(tmp_path))
    assert test.classes == ["airplane", "truck"] and test.targets == [0, 0, 1, 1]
    image, label = test[2]
    assert label == 1 and image.mode == "RGB" and image.getpixel((0, 0)) == (0, 0, 255)
    assert len(build_dataset("cinic10_valid", str(tmp_path))) == 4
    with pytest.raises(UserError, match="CINIC-10"):
        build_dataset("cinic10_train", str(tmp_path / "test"))


def test_temporal_transfer_on_stl10_keeps_96_pixels(run_dir, tmp_path):
    write_stl10(tmp_path / "data", n_train=4, n_test=2)
    out = tmp_path / "out"
    status = temporal_transfer.main(
        [
            "--run",
            run_dir,
            "--dataset",
            "stl10",
            "--root",
            str(tmp_path / "data"),
            "--epochs",
            "3",
            "--output-dir",
            str(out),
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--num-workers",
            "0",
        ]
    )
    assert status == 0
    with open(out / "temporal_transfer.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["target"] == "stl10" and row["image_size"] == "96" and row["train_images"] == "4"
    assert row["test_images"] == "2" and len(row["top1_draws"].split()) == 3  # the whole test split, 3 draws


# ---- the hook --------------------------------------------------------------------------------


def hook_config(period_epochs: int):
    cfg = pretrain_config()
    cfg.TEMPORAL_TRANSFER.PERIOD_EPOCHS = period_epochs
    cfg.TEMPORAL_TRANSFER.MAX_TRAIN_SAMPLES, cfg.TEMPORAL_TRANSFER.MAX_TEST_SAMPLES = 30, 20
    cfg.TEMPORAL_TRANSFER.STEPS, cfg.TEMPORAL_TRANSFER.BATCH_SIZE = 10, 16
    cfg.TEMPORAL_TRANSFER.MILESTONES = [5]
    cfg.DATALOADER.NUM_WORKERS = 0
    return cfg


@needs_fashion_mnist
def test_hook_probes_every_k_epochs_and_after_the_last():
    from detectron2.utils.events import EventStorage

    from ctc_plugin.analysis.hook import TemporalTransferHook
    from ctc_plugin.registry import HOOK_REGISTRY

    assert HOOK_REGISTRY.get("TemporalTransferHook") is TemporalTransferHook
    torch.manual_seed(0)
    backbone = ResNet(18, stem="cifar", num_classes=5).train()
    trainer = SimpleNamespace(model=SimpleNamespace(backbone=backbone), iters_per_epoch=3, max_iter=15, iter=0)
    hook = TemporalTransferHook(hook_config(period_epochs=2), trainer)
    hook.trainer = trainer
    probed = []
    real_probe = hook.probe
    hook.probe = lambda epoch: probed.append((trainer.iter, epoch))
    for iteration in range(trainer.max_iter):
        trainer.iter = iteration
        hook.after_step()
    assert probed == [(5, 2), (11, 4), (14, 5)]  # epochs 2 and 4, then the last iteration

    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    with EventStorage(0) as storage:
        trainer.storage = storage
        top1 = real_probe(epoch=5)
        assert storage.latest()["temporal_transfer/top1"][0] == pytest.approx(top1)
    assert 0.0 <= top1 <= 100.0 and backbone.training
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())


@pytest.mark.slow
@needs_fashion_mnist
def test_hook_runs_the_release_protocol_on_a_copy():
    from detectron2.utils.events import EventStorage

    from ctc_plugin.analysis.hook import TemporalTransferHook

    cfg = hook_config(period_epochs=1)
    cfg.TEMPORAL_TRANSFER.PROTOCOL = "release"
    backbone = ResNet(18, stem="cifar", num_classes=5).train()
    trainer = SimpleNamespace(model=SimpleNamespace(backbone=backbone), iters_per_epoch=3, max_iter=3, iter=2)
    hook = TemporalTransferHook(cfg, trainer)
    probe = hook.transfer_probe
    hook.trainer = trainer
    hook.transfer_probe = replace(probe, settings=replace(probe.settings, epochs=2, batch_size=16))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    with EventStorage(0) as storage:
        trainer.storage = storage
        top1 = hook.probe(epoch=1)
    sizes = [step.size for step in hook._transform.transforms if type(step).__name__ == "Resize"]
    assert 0.0 <= top1 <= 100.0 and sizes == [32]  # the release's 32 px
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # BatchNorm drifted on a copy
    cfg.TEMPORAL_TRANSFER.PROTOCOL = "releases"
    with pytest.raises(UserError, match="TEMPORAL_TRANSFER.PROTOCOL must be one of appendix, release"):
        TemporalTransferHook(cfg, trainer)


def test_hook_is_off_by_default():
    from ctc_plugin.analysis.hook import TemporalTransferHook

    cfg = get_cfg()
    trainer = SimpleNamespace(iters_per_epoch=2, max_iter=4, iter=1)
    hook = TemporalTransferHook(cfg, trainer)  # builds no dataset
    hook.trainer = trainer
    hook.after_step()  # and probes nothing
    assert cfg.TEMPORAL_TRANSFER.PERIOD_EPOCHS == 0 and cfg.TEMPORAL_TRANSFER.STEPS == 15000


def test_analysis_package_imports_neither_detectron2_timm_nor_matplotlib_at_module_level():
    """hook.py, the hook Detectron2's trainer runs, is the one module that bridges to Detectron2."""
    import ast

    folder = os.path.join(REPO, "ctc_plugin", "analysis")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py") or name == "hook.py":
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read())
        for node in tree.body:  # module level only: plots import matplotlib inside functions
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] in ("detectron2", "timm", "matplotlib") for m in modules), (name, modules)
