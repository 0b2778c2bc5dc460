"""finetune_fgvc: one epoch on CPU on each tiny official layout, from converted or raw weights."""

import json
import os
import subprocess
import sys

import pytest
import torch
from test_convert_timm import pretrain_checkpoint, random_resnet
from test_fgvc_datasets import LAYOUTS, NUM_CLASSES

from ctc_plugin.convert.source import load_resnet_state_dict
from ctc_plugin.convert.timm import convert_to_timm_file

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "finetune_fgvc.py")
# The smallest run that still exercises everything: ResNet-18, 64 px, 2 iterations an epoch.
TINY = [
    "MODEL.NAME",
    "resnet18",
    "MODEL.DEVICE",
    "cpu",
    "INPUT.SIZE",
    "64",
    "SOLVER.EPOCHS",
    "1",
    "SOLVER.IMS_PER_BATCH",
    "4",
    "TEST.IMS_PER_BATCH",
    "8",
    "DATALOADER.NUM_WORKERS",
    "0",
    "LOG_PERIOD",
    "1",
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A raw ResNet-18 pretraining checkpoint and its --to timm conversion."""
    folder = tmp_path_factory.mktemp("weights")
    raw = pretrain_checkpoint(random_resnet(18, num_classes=100), str(folder / "pretrain.pth"))
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


def finetune_in_process(config: str, opts, resume: bool = False):
    from ctc_plugin.fgvc import get_fgvc_cfg
    from ctc_plugin.fgvc.trainer import FGVCFineTuner
    from ctc_plugin.utils.cli import merge_config

    cfg = merge_config(get_fgvc_cfg(), os.path.join(REPO, "configs", "fgvc", config), opts)
    cfg.freeze()
    tuner = FGVCFineTuner(cfg, resume=resume)
    return tuner, tuner.train()


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
    tuner, results = finetune_in_process(
        config, TINY + ["DATASETS.ROOT", root, "MODEL.WEIGHTS", weights[source], "OUTPUT_DIR", output]
    )
    print(f"{name} from {source} weights: top-1 {results['top1']:.1f}, top-5 {results['top5']:.1f}")
    assert results["epoch"] == 1 and results["num_images"] == 2 * NUM_CLASSES
    assert 0 <= results["top1"] <= results["top5"] == 100.0  # top-5 of 3 classes
    # The pretrained backbone arrived; the head is new (3 classes, not the source's 100).
    source_weights, _ = load_resnet_state_dict(weights["raw"])
    assert tuner.model.fc.out_features == NUM_CLASSES
    checkpoint = torch.load(os.path.join(output, "checkpoint_last.pth"), weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["iteration"] == 2
    assert not torch.equal(checkpoint["model"]["conv1.weight"], source_weights["conv1.weight"])  # it trained
    assert {"optimizer", "iteration"} <= set(checkpoint["trainer"])
    evaluations = [row for row in read_metrics(output) if "top1" in row]
    assert len(evaluations) == 1 and evaluations[0]["top1"] == pytest.approx(results["top1"])
    assert os.path.isfile(os.path.join(output, "model_final.pth"))


def test_tool_trains_resumes_and_evaluates(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    common = [
        "--config-file",
        "configs/fgvc/cub200_r50.yaml",
        *TINY,
        "DATASETS.ROOT",
        root,
        "MODEL.WEIGHTS",
        weights["timm"],
        "OUTPUT_DIR",
        output,
    ]
    first = run_tool(*common)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "cub200: top-1" in first.stdout
    resumed = run_tool("--resume", *common, "SOLVER.EPOCHS", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming after epoch 1 (iteration 2)" in resumed.stdout
    checkpoint = torch.load(os.path.join(output, "checkpoint_last.pth"), weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["trainer"]["iteration"] == 3
    assert checkpoint["trainer"]["optimizer"]["state"]  # momentum buffers carried over
    epochs = [row["epoch"] for row in read_metrics(output) if "top1" in row]
    assert epochs == [1, 2]


def test_tool_names_the_missing_index_file(tmp_path):
    root = LAYOUTS["aircraft"](str(tmp_path / "data"))
    os.remove(os.path.join(root, "fgvc-aircraft-2013b", "data", "images_variant_trainval.txt"))
    result = run_tool(
        "--config-file",
        "configs/fgvc/aircraft_r50.yaml",
        "DATASETS.ROOT",
        root,
        "OUTPUT_DIR",
        str(tmp_path / "out"),
        timeout=120,
    )
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("finetune_fgvc: error:") and "images_variant_trainval.txt" in last_line
    assert "Traceback" not in result.stderr


def test_two_processes_on_cpu(tmp_path, weights):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "out")
    result = run_tool(
        "--num-gpus", "2", "--dist-url", "auto", "--config-file", "configs/fgvc/cub200_r50.yaml", *TINY,
        "DATASETS.ROOT", root, "MODEL.WEIGHTS", weights["timm"], "OUTPUT_DIR", output,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(os.path.join(output, "results.json")) as f:
        results = json.load(f)
    assert results["num_images"] == 2 * NUM_CLASSES  # every test image counted once over both ranks
    assert os.path.isfile(os.path.join(output, "model_final.pth"))
