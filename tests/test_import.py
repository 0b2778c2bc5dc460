"""The library imports with torch (and fvcore) alone: Detectron2 and timm only where it bridges."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every test here starts a Python process (an import or a tool)

BLOCK_BRIDGES = """
import importlib.abc, importlib.util, sys
BRIDGES = ("detectron2", "timm")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BRIDGES:
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BRIDGES else find_spec(name, *a)
import ctc_plugin
import ctc_plugin.analysis, ctc_plugin.backbones, ctc_plugin.checkpoint, ctc_plugin.config, ctc_plugin.convert
import ctc_plugin.data, ctc_plugin.fgvc, ctc_plugin.model_zoo, ctc_plugin.modeling
import ctc_plugin.analysis.runs, ctc_plugin.analysis.sweep, ctc_plugin.convert.timm, ctc_plugin.fgvc.model
assert "cifar100_train" in ctc_plugin.DATASET_REGISTRY and "build_resnet" in ctc_plugin.BACKBONE_REGISTRY
assert "cub200_train" in ctc_plugin.DATASET_REGISTRY and not any(n.startswith("detectron2") for n in sys.modules)
"""


def test_library_imports_without_detectron2_and_timm():
    result = subprocess.run([sys.executable, "-c", BLOCK_BRIDGES], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


# Detectron2 as if not installed: importing it raises ModuleNotFoundError and find_spec says None.
WITHOUT_DETECTRON2 = "import sys; sys.modules['detectron2'] = None; "
TOOL_WITHOUT_DETECTRON2 = WITHOUT_DETECTRON2 + "from ctc_plugin.cli.{0} import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize(
    "tool, argv, message",
    [
        ("convert_weights", ["/nonexistent/model_final.pth", "out.pth", "--to", "timm"], "does not exist"),
        ("temporal_transfer", ["--run", "/nonexistent/run", "--dataset", "stl10"], "run folder not found"),
        ("estimate_mi", ["--run", "/nonexistent/run"], "run folder not found"),
    ],
)
def test_torch_only_tools_refuse_bad_input_in_one_line_without_detectron2(tmp_path, tool, argv, message):
    command = [sys.executable, "-c", TOOL_WITHOUT_DETECTRON2.format(tool), *argv]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"{tool}: error: ") and message in result.stderr


def test_logging_is_set_up_without_detectron2(tmp_path):
    script = WITHOUT_DETECTRON2 + (
        "import logging; from ctc_plugin.utils.logs import setup_logging; "
        "setup_logging(sys.argv[1]); setup_logging(sys.argv[1]); "
        "logging.getLogger('ctc_plugin.analysis.sweep').info('checkpoint 3 of 5'); "
        "logging.getLogger('ctc_plugin').warning('no target classes')"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    console = result.stdout.splitlines()  # once each: setting up again added no handler
    assert len(console) == 2 and console[0].endswith(" ctc.analysis.sweep]: checkpoint 3 of 5")
    assert console[1].startswith("WARNING [") and console[1].endswith(" ctc]: no target classes")
    with open(tmp_path / "log.txt") as f:
        log = f.read().splitlines()
    assert len(log) == 2 and log[0].endswith("] ctc_plugin.analysis.sweep INFO: checkpoint 3 of 5")


def test_a_second_run_in_the_same_process_logs_once_to_the_console_and_to_its_own_file(tmp_path):
    script = WITHOUT_DETECTRON2 + (
        "import logging; from ctc_plugin.utils.logs import setup_logging; "
        "setup_logging(sys.argv[1] + '/first').info('epoch 1 of the first run'); "
        "setup_logging(sys.argv[1] + '/second').info('epoch 1 of the second run')"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [line.split("]: ")[1] for line in result.stdout.splitlines()] == [
        "epoch 1 of the first run",
        "epoch 1 of the second run",
    ]
    for run in ("first", "second"):
        log = (tmp_path / run / "log.txt").read_text().splitlines()
        assert len(log) == 1 and log[0].endswith(f"epoch 1 of the {run} run")


def test_to_detectron2_without_detectron2_says_so_in_one_line_and_writes_unverified_on_request(tmp_path):
    import torch
    from fixtures.networks import random_resnet

    source = str(tmp_path / "r18.pth")
    torch.save(random_resnet(18).state_dict(), source)
    command = [sys.executable, "-c", TOOL_WITHOUT_DETECTRON2.format("convert_weights"), source, "out.pkl"]
    refused = subprocess.run(
        [*command, "--to", "detectron2"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .endswith("(pip install -e .[detectron2], or --no-verify to write the file unverified)")
    )
    assert not (tmp_path / "out.pkl").exists()
    written = subprocess.run(
        [*command, "--to", "detectron2", "--no-verify"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert written.returncode == 0, written.stderr[-2000:]
    assert (tmp_path / "out.pkl").is_file()
