"""ctc-finetune-fgvc: one epoch on CPU on each tiny official layout, from converted or raw weights; exact resume."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import torch
from fixtures.checkpoints import assert_same_final_weights_and_momentum
from fixtures.datasets import LAYOUTS, NUM_CLASSES
from fixtures.networks import random_resnet, save_pretrain_checkpoint
from fixtures.processes import kill_when_written

from ctc_plugin.checkpoint import find_resume_checkpoint
from ctc_plugin.config import merge_config
from ctc_plugin.convert.source import load_resnet_state_dict
from ctc_plugin.convert.timm import convert_to_timm_file
from ctc_plugin.fgvc import get_fgvc_cfg

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "finetune_fgvc.py")
# The smallest run that still exercises everything: ResNet-18, 64 px, 2 iterations an epoch.
TINY = [
    "MODEL.NAME", "resnet18", "MODEL.DEVICE", "cpu", "INPUT.SIZE", "64", "SOLVER.EPOCHS", "1",
    "SOLVER.IMS_PER_BATCH", "4", "TEST.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0", "TRAINER.LOG_PERIOD", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A raw ResNet-18 pretraining checkpoint and its --to timm conversion."""
    folder = tmp_path_factory.mktemp("weights")
    raw = save_pretrain_checkpoint(random_resnet(18, num_classes=100), str(folder / "pretrain.pth"))
    converted = str(folder / "r18_timm.pth")
    convert_to_timm_file(*load_resnet_state_dict(raw), converted)
    return {"raw": raw, "timm": converted}


def run_tool(*args, timeout=300):
    return subprocess.run(
        [sys.executable, TOOL, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )


def finetune_in_process(config: str, opts):
    from ctc_plugin.fgvc.trainer import FGVCTrainer

    cfg = merge_config(get_fgvc_cfg(), os.path.join(REPO, "configs", "fgvc", config), opts)
    cfg.freeze()
    trainer = FGVCTrainer(cfg)
    trainer.resume_or_load(resume=False)
    return trainer, trainer.train()


def read_results(output_dir) -> dict:
    with open(os.path.join(output_dir, "results.json")) as f:
        return json.load(f)


def read_metrics(output_dir: str):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize(
    "name, config, source",
    [
        ("cub200", "cub200_r50.yaml", "timm"),
        ("aircraft", "aircraft_r50.yaml", "timm"),
        ("inat2018", "inat2018_r50.yaml", "raw"),
    ],
)
def test_one_epoch_on_each_layout(tmp_path, weights, name, config, source):
    root = LAYOUTS[name](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    trainer, results = finetune_in_process(
        config, TINY + ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights[source], "OUTPUT_DIR", output]
    )
    print(f"{name} from {source} weights: top-1 {results['top1']:.1f}, top-5 {results['top5']:.1f}")
    assert results["epoch"] == 1 and results["num_images"] == 2 * NUM_CLASSES
    assert 0 <= results["top1"] <= results["top5"] == 100.0  # top-5 of 3 classes
    # The pretrained backbone arrived; the head is new (3 classes, not the source's 100).
    source_weights, _ = load_resnet_state_dict(weights["raw"])
    assert trainer.model.backbone.fc.out_features == NUM_CLASSES
    checkpoint = torch.load(os.path.join(output, "model_final.pth"), weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["iteration"] == 1
    assert checkpoint["backbone"]["builder"] == "build_timm_backbone" and "network" not in checkpoint
    assert (checkpoint["backbone"]["model"]["TIMM"]["NAME"], checkpoint["backbone"]["model"]["NUM_CLASSES"]) == (
        "resnet18",
        NUM_CLASSES,
    )
    assert checkpoint["resume_settings"] == {"DATASETS.TRAIN": f"{name}_train"}
    assert not torch.equal(checkpoint["model"]["conv1.weight"], source_weights["conv1.weight"])  # it trained
    assert {"optimizer", "iteration"} <= set(checkpoint["trainer"]["_trainer"])
    evaluations = [row for row in read_metrics(output) if "test/top1" in row]
    assert len(evaluations) == 1 and evaluations[0]["test/top1"] == pytest.approx(results["top1"])
    with open(os.path.join(output, "results.json")) as f:
        assert json.load(f)["top1"] == pytest.approx(results["top1"])


def test_timm_reads_the_final_checkpoint_itself(tmp_path, weights):
    import timm

    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    trainer, _ = finetune_in_process(
        "cub200_r50.yaml", TINY + ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"], "OUTPUT_DIR", output]
    )
    overlay = dict(file=os.path.join(output, "model_final.pth"), num_classes=NUM_CLASSES)
    model = timm.create_model("resnet18", pretrained=True, num_classes=NUM_CLASSES, pretrained_cfg_overlay=overlay)
    for key, value in trainer.model.backbone.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.slow
def test_tool_trains_resumes_and_evaluates(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    common = ["--config-file", "configs/fgvc/cub200_r50.yaml", *TINY]
    common += ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"], "OUTPUT_DIR", output]
    first = run_tool(*common)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "cub200_test: top-1" in first.stdout
    assert read_results(output)["provenance"]["resumptions"] == 0
    # A checkpoint written before the count resumes as before, counting from 0.
    path = find_resume_checkpoint(output)
    old = torch.load(path, weights_only=True)
    del old["trainer"]["resumptions"]
    torch.save(old, path)
    resumed = run_tool("--resume", *common, "SOLVER.EPOCHS", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout and "at iteration 2" in resumed.stdout
    checkpoint = torch.load(os.path.join(output, "model_final.pth"), weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["trainer"]["iteration"] == 3
    assert checkpoint["trainer"]["resumptions"] == 1 and read_results(output)["provenance"]["resumptions"] == 1
    assert checkpoint["trainer"]["_trainer"]["optimizer"]["state"]  # momentum buffers carried over
    epochs = [row["test/epoch"] for row in read_metrics(output) if "test/top1" in row]
    assert epochs == [1, 2]
    evaluated = run_tool("--eval-only", "--resume", *common, "SOLVER.EPOCHS", "2")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "cub200_test: top-1" in evaluated.stdout
    assert read_results(output)["provenance"]["resumptions"] == 1  # the evaluated checkpoint's count


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_the_uninterrupted_run(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    common = ["--config-file", "configs/fgvc/cub200_r50.yaml", *TINY, "SOLVER.EPOCHS", "5"]
    common += ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"], "TEST.EVAL_PERIOD_EPOCHS", "0"]
    reference = run_tool(*common, "OUTPUT_DIR", str(tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr[-2000:]
    kept = sorted(name for name in os.listdir(tmp_path / "reference") if name.endswith(".pth"))
    assert kept == ["model_epoch_0004.pth", "model_epoch_0005.pth", "model_final.pth"]  # SOLVER.MAX_CHECKPOINTS 2

    interrupted = tmp_path / "interrupted"
    command = [sys.executable, TOOL, *common, "SOLVER.MAX_CHECKPOINTS", "0", "OUTPUT_DIR", str(interrupted)]
    checkpoint = interrupted / "model_epoch_0001.pth"
    kill_when_written(command, checkpoint, cwd=REPO)
    assert checkpoint.exists() and not (interrupted / "model_final.pth").exists()

    resumed = run_tool("--resume", *common, "OUTPUT_DIR", str(interrupted))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_final_weights_and_momentum(tmp_path / "reference", interrupted)
    assert read_results(tmp_path / "reference")["provenance"]["resumptions"] == 0
    assert read_results(interrupted)["provenance"]["resumptions"] == 1


@pytest.mark.slow
def test_tool_names_the_missing_index_file(tmp_path):
    root = LAYOUTS["aircraft"](str(tmp_path / "data"))
    os.remove(os.path.join(root, "fgvc-aircraft-2013b", "data", "images_variant_trainval.txt"))
    result = run_tool(
        "--config-file", "configs/fgvc/aircraft_r50.yaml", "DATASETS.ROOT", root, "OUTPUT_DIR", str(tmp_path / "out"),
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("finetune_fgvc: error:") and "images_variant_trainval.txt" in last_line
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_two_processes_on_cpu(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    result = run_tool(
        "--num-gpus", "2", "--config-file", "configs/fgvc/cub200_r50.yaml", *TINY,
        "DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"], "OUTPUT_DIR", output,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(os.path.join(output, "results.json")) as f:
        results = json.load(f)
    assert results["num_images"] == 2 * NUM_CLASSES  # every test image counted once over both ranks
    assert os.path.isfile(os.path.join(output, "model_final.pth"))


@pytest.mark.slow
def test_sigterm_mid_epoch_then_resume_is_bitwise_the_uninterrupted_run(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))  # 9 training images: 9 iterations an epoch
    common = ["--config-file", "configs/fgvc/cub200_r50.yaml", *TINY, "SOLVER.EPOCHS", "2"]
    common += ["SOLVER.IMS_PER_BATCH", "1", "DATALOADER.NUM_WORKERS", "1", "TEST.EVAL_PERIOD_EPOCHS", "0"]
    common += ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"]]
    reference = run_tool(*common, "OUTPUT_DIR", str(tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr[-2000:]

    interrupted = tmp_path / "interrupted"
    command = [sys.executable, TOOL, *common, "OUTPUT_DIR", str(interrupted)]
    with open(tmp_path / "stderr.txt", "w") as err:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        for line in process.stdout:
            if "iter: 2 " in line:
                os.killpg(process.pid, signal.SIGTERM)
                break
        process.communicate(timeout=300)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert process.returncode == 75, stderr[-2000:]
    stopped = int(re.search(r"finetune_fgvc: preempted by SIGTERM after iteration (\d+) of 18;", stderr).group(1))
    assert stopped < 9 and (interrupted / f"model_iter_{stopped:07d}.pth").exists()  # mid-epoch 1

    resumed = run_tool("--resume", *common, "OUTPUT_DIR", str(interrupted))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at iteration {stopped}" in resumed.stdout
    assert_same_final_weights_and_momentum(tmp_path / "reference", interrupted)
