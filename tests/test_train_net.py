"""tools/train_net.py end to end: convert, train Mask R-CNN, evaluate, evaluate again.

A tiny COCO in the builtin layout under $DETECTRON2_DATASETS, the shipped config, and
only size, batch and iteration overrides (plus the CPU and the output folder).
"""

import os
import re
import signal
import subprocess
import sys

import pytest
from fixtures.datasets import write_tiny_coco
from fixtures.detection import TINY, missing_from_checkpoint
from fixtures.networks import random_resnet

from ctc_plugin.convert import detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle

pytestmark = pytest.mark.slow  # every test here starts tool processes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_net(output_dir: str, datasets: str, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "tools/train_net.py",
        "--config-file",
        "configs/coco_maskrcnn_ctc.yaml",
        *args,
        *TINY,
        "OUTPUT_DIR",
        output_dir,
    ]
    env = dict(os.environ, DETECTRON2_DATASETS=datasets)
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_train_evaluate_then_eval_only(tmp_path):
    datasets = write_tiny_coco(tmp_path / "datasets")
    state_dict, arch = load_resnet_state_dict(random_resnet(18, seed=21).state_dict())
    weights = str(tmp_path / "converted.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    output = str(tmp_path / "output")

    trained = train_net(output, datasets, "MODEL.WEIGHTS", weights)
    assert trained.returncode == 0, trained.stderr[-3000:]
    with open(os.path.join(output, "log.txt")) as f:
        log = f.read()
    missing = missing_from_checkpoint(log)
    assert "backbone.fpn" in missing and "backbone.bottom_up" not in missing
    assert "MODEL.RESNETS.NORM is SyncBN but this is a single process: using BN instead" in log
    assert "Loaded 4 images in COCO format" in log
    for task in ("bbox", "segm"):
        assert f"copypaste: Task: {task}" in log
    final = os.path.join(output, "model_final.pth")
    assert os.path.isfile(final)

    evaluated = train_net(output, datasets, "--eval-only", "MODEL.WEIGHTS", final)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    with open(os.path.join(output, "log.txt")) as f:
        log = f.read()[len(log) :]
    assert f"Loading from {final}" in log
    assert "not found in the checkpoint" not in log
    assert log.count("copypaste: Task: segm") == 1


def test_bad_input_is_one_line(tmp_path):
    result = train_net(str(tmp_path / "out"), str(tmp_path), "MODEL.WEIGHTS", str(tmp_path / "missing.pkl"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"train_net: error: MODEL.WEIGHTS {tmp_path / 'missing.pkl'} does not exist "
        "(docs/detectron2.md says how to make it)"
    )
    assert "Traceback" not in result.stderr


def test_sigterm_stops_after_the_iteration_with_a_checkpoint_that_resume_takes(tmp_path):
    """Detectron2's trainer preempted: a checkpoint at the iteration, exit 75, --resume continues there.
    (Detectron2's data stream restarts on resume, so this resume is exact in its weights and
    schedule, not in its data order.)"""
    datasets = write_tiny_coco(tmp_path / "datasets")
    state_dict, arch = load_resnet_state_dict(random_resnet(18, seed=21).state_dict())
    weights = str(tmp_path / "converted.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    output = str(tmp_path / "output")
    command = [sys.executable, "tools/train_net.py", "--config-file", "configs/coco_maskrcnn_ctc.yaml", *TINY]
    command += ["SOLVER.MAX_ITER", "6", "SOLVER.CHECKPOINT_PERIOD", "2", "DATALOADER.NUM_WORKERS", "1"]
    command += ["MODEL.WEIGHTS", weights, "OUTPUT_DIR", output]
    env = dict(os.environ, DETECTRON2_DATASETS=datasets)
    with open(tmp_path / "stderr.txt", "w") as err:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        for line in process.stdout:
            if "model_0000001.pth" in line:  # the periodic checkpoint after 2 iterations
                os.killpg(process.pid, signal.SIGTERM)  # the scheduler signals the whole job
                break
        process.communicate(timeout=600)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert process.returncode == 75, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        r"train_net: preempted by SIGTERM after iteration (\d+) of 6; checkpoint (\S+) written .*", last
    )
    assert match, stderr[-3000:]
    stopped = int(match.group(1))
    assert match.group(2) == os.path.join(output, f"model_{stopped - 1:07d}.pth") and os.path.isfile(match.group(2))

    resumed = subprocess.run(
        command[:4] + ["--resume"] + command[4:], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Starting training from iteration {stopped}" in resumed.stdout
    assert os.path.isfile(os.path.join(output, "model_final.pth"))
