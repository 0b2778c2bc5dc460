"""A non-editable install works away from the repository: the model zoo's configs ship inside it, and
every console script starts."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every test here starts tool processes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = (
    "ctc-pretrain", "ctc-train-net", "ctc-finetune-fgvc", "ctc-convert", "ctc-temporal-transfer", "ctc-estimate-mi",
    "ctc-demo", "ctc-submit",
)  # fmt: skip
CHECK = """
import os, sys
import ctc_plugin
from ctc_plugin import model_zoo
assert ctc_plugin.__file__.startswith(sys.argv[1]), ctc_plugin.__file__
cfg = model_zoo.get_config("cifar100_r18_ctc")
assert (cfg.SOLVER.IAS_EPOCHS, cfg.CTC.ALPHA, cfg.MODEL.STEM) == (200, 0.01, "cifar")
path = model_zoo.get_config_file("imagenet_r50_ctc")
assert path.startswith(sys.argv[1]) and not os.path.islink(os.path.dirname(os.path.dirname(path))), path
print("ok", path)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install .`` (not editable) into a fresh folder, as a user's environment would hold it."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "--target", str(target), REPO],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return target


def start_outside(installed, tmp_path, *command) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)


def run_outside(installed, tmp_path, *command) -> subprocess.CompletedProcess:
    process = start_outside(installed, tmp_path, *command)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_model_zoo_reads_the_packaged_configs(installed, tmp_path):
    result = run_outside(installed, tmp_path, sys.executable, "-c", CHECK, str(installed))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_console_script_answers_help(installed, tmp_path, script):
    path = os.path.join(installed, "bin", script)
    assert os.path.isfile(path), sorted(os.listdir(os.path.join(installed, "bin")))
    helping = start_outside(installed, tmp_path, path, "--help")  # both at once: each is mostly imports
    refusing = start_outside(installed, tmp_path, path, "--no-such-flag")
    stdout, stderr = helping.communicate(timeout=300)
    assert helping.returncode == 0, stderr[-3000:]
    assert stdout.startswith("usage: ") and "--" in stdout
    _, refused = refusing.communicate(timeout=300)
    assert refusing.returncode == 2
    (line,) = refused.strip().splitlines()  # one line, no usage block
    assert ": error: " in line and ("--no-such-flag" in line or "required" in line), line
