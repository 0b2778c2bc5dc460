"""benchmarks/device/check.sh --tiny: the GPU check runs its sections at toy size on the CPU, so it cannot rot.

Its gpu_tests section is ``pytest -m gpu``: tests/test_gpu.py, which this suite runs itself, so the
test skips it rather than start the suite again inside the suite."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ["steps", "negatives", "loader", "pretrain", "train_net", "finetune_fgvc"]  # all but gpu_tests


@pytest.mark.slow
def test_the_device_check_runs_every_section_and_writes_its_table(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)  # one thread per process (conftest.py): 5x faster at load 6
    command = ["bash", os.path.join(REPO, "benchmarks", "device", "check.sh"), "--tiny", str(tmp_path)]
    command += ["--skip", "gpu_tests"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    with open(tmp_path / "check.json") as f:
        report = json.load(f)
    assert report["tiny"] is True and report["gpu"] == "cpu" and report["skipped"] == ["gpu_tests"]
    assert list(report["sections"]) == SECTIONS
    assert all(section["status"] == "passed" for section in report["sections"].values())
    steps = report["sections"]["steps"]
    for preset in ("r18_cifar", "r50_imagenet"):
        for precision in ("fp32", "amp"):
            assert steps[f"{preset}_irs_over_ce_{precision}"] > 0
    assert report["sections"]["train_net"]["train_net_over_plain"] > 0
    assert report["sections"]["pretrain"]["r50_amp_irs_img_s"] > 0
    table = (tmp_path / "check.md").read_text()
    assert table.startswith("GPU check: cpu, torch ") and all(f"| {name} | passed |" in table for name in SECTIONS)
    assert "\nNot run: gpu_tests.\n" in table and "| gpu_tests |" not in table


def test_the_check_says_what_is_missing_in_one_line(tmp_path):
    """An interpreter without Detectron2 and no prepared wheels: one line naming prepare.sh, exit 2."""
    bare = tmp_path / "python"  # answers every "import ..." probe with failure, as the bare GPU machine does
    bare.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then exit 1; fi\nexec {sys.executable} "$@"\n')
    bare.chmod(0o755)
    (tmp_path / "wheels").mkdir()
    env = dict(os.environ, PYTHON=str(bare), CTC_DEVICE_WHEELS=str(tmp_path / "wheels"))
    script = os.path.join(REPO, "benchmarks", "device", "check.sh")
    result = subprocess.run(["bash", script, "--tiny", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"check: Detectron2 is not importable and {tmp_path / 'wheels'}/ holds no wheels "
        "(run benchmarks/device/prepare.sh)"
    ]


@pytest.mark.slow
def test_the_check_refuses_a_section_it_does_not_have(tmp_path):
    script = os.path.join(REPO, "benchmarks", "device", "check.py")
    result = subprocess.run([sys.executable, script, "--output-dir", str(tmp_path), "--skip", "gpu_test"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "no section gpu_test; sections: gpu_tests, steps, " in result.stderr
