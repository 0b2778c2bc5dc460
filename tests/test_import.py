"""The library imports with torch (and fvcore) alone: Detectron2 and timm only where it bridges."""

import subprocess
import sys

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
