"""A run's OUTPUT_DIR/config.yaml is the config it trained with, values completed from the data included.

The tools run in this process, on tiny real datasets; a registered hook keeps the trainer's
config so that the file can be compared with it key by key.
"""

import os
import shutil

import pytest
import yaml
from detectron2.engine import HookBase
from fixtures.datasets import LAYOUTS, write_tiny_cifar100

from ctc_plugin.analysis.runs import load_run_config, run_normalization
from ctc_plugin.cli import finetune_fgvc, pretrain
from ctc_plugin.data import NORMALIZATION
from ctc_plugin.registry import HOOK_REGISTRY

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINED_WITH = {}  # OUTPUT_DIR -> the trainer's config


@HOOK_REGISTRY.register()
class KeepTrainerConfig(HookBase):
    def __init__(self, cfg, trainer) -> None:
        TRAINED_WITH[cfg.OUTPUT_DIR] = trainer.cfg


def flat(node, prefix=""):
    """{"A.B.C": value} of a config or of the dictionary read from its YAML (tuples as lists)."""
    items = {}
    for key, value in node.items():
        if isinstance(value, dict):
            items.update(flat(value, f"{prefix}{key}."))
        else:
            items[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return items


def assert_recorded_as_trained(output_dir):
    with open(os.path.join(output_dir, "config.yaml")) as f:
        recorded = flat(yaml.safe_load(f))
    trained = flat(TRAINED_WITH[output_dir])
    assert sorted(recorded) == sorted(trained)
    for key, value in trained.items():
        assert recorded[key] == value, key
    return recorded


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_tiny_cifar100(str(tmp_path_factory.mktemp("cifar")), num_train=32, num_test=8)


def pretrain_run(output_dir, root):
    status = pretrain.main([
        "--config-file", os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml"),
        "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0",
        "CTC.IRS.NUM_NEGATIVES", "16", "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "0",
        "TRAINER.EXTRA_HOOKS", "['KeepTrainerConfig']", "DATASETS.ROOT", root, "OUTPUT_DIR", output_dir,
    ])  # fmt: skip
    assert status == 0


def test_pretraining_records_the_config_it_trained_with(tmp_path, cifar_root):
    output = str(tmp_path / "run")
    pretrain_run(output, cifar_root)
    recorded = assert_recorded_as_trained(output)
    mean, std = NORMALIZATION["cifar"]
    assert recorded["MODEL.NUM_CLASSES"] == 100  # filled from the training set, not the default 0
    assert (recorded["INPUT.PIXEL_MEAN"], recorded["INPUT.PIXEL_STD"]) == (list(mean), list(std))


def test_fine_tuning_records_the_config_it_trained_with(tmp_path):
    root = LAYOUTS["cub200"](str(tmp_path / "data"))
    output = str(tmp_path / "run")
    status = finetune_fgvc.main([
        "--config-file", os.path.join(REPO, "configs/fgvc/cub200_r50.yaml"),
        "MODEL.NAME", "resnet18", "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "INPUT.SIZE", "32",
        "SOLVER.EPOCHS", "1", "SOLVER.IMS_PER_BATCH", "4", "TEST.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0",
        "TRAINER.EXTRA_HOOKS", "['KeepTrainerConfig']", "DATASETS.ROOT", root, "OUTPUT_DIR", output,
    ])  # fmt: skip
    assert status == 0
    assert_recorded_as_trained(output)


def test_analyses_read_the_normalisation_from_config_yaml_not_the_training_set(tmp_path, cifar_root):
    root = shutil.copytree(cifar_root, str(tmp_path / "cifar"))
    output = str(tmp_path / "run")
    pretrain_run(output, root)
    shutil.rmtree(root)  # the training set is gone; the run's config still says how it normalised
    mean, std = NORMALIZATION["cifar"]
    assert run_normalization(load_run_config(output)) == (list(mean), list(std))


def test_a_run_recorded_without_the_normalisation_still_reads_it_from_its_training_set(tmp_path, cifar_root):
    output = tmp_path / "old_run"
    output.mkdir()
    (output / "config.yaml").write_text(f"DATASETS:\n  ROOT: {cifar_root}\nINPUT:\n  PIXEL_MEAN: []\n  PIXEL_STD: []\n")
    mean, std = NORMALIZATION["cifar"]
    assert run_normalization(load_run_config(str(output))) == (list(mean), list(std))
