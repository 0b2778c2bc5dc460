"""Config keys are declared by their owner: a term, a builder or a hook brings its keys and rules beside its code."""

import json
import os
import subprocess
import sys

import pytest
import torch
from fixtures.datasets import write_tiny_cifar100

from ctc_plugin import CONFIG_REGISTRY
from ctc_plugin.analysis.targets import PROTOCOLS
from ctc_plugin.config import get_cfg
from ctc_plugin.config.checks import PRETRAIN_RULES, check_pretrain_values
from ctc_plugin.config.defaults import WARMUP_SHAPES
from ctc_plugin.data.transforms import AUTO_AUGMENT_POLICIES
from ctc_plugin.modeling.irs import NEGATIVE_SAMPLERS
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPO, "tests")

# A user's own training script: import the module that registers the term and its keys, then run ctc-pretrain.
USER_SCRIPT = """
import sys
from ctc_plugin.config import get_cfg, merge_config
from ctc_plugin.utils.errors import UserError

try:
    merge_config(get_cfg(), None, ["CTC.FEATURE_NORM.WEIGHT", "0.1"])
except UserError as e:
    print(f"before the import: {e}")
import feature_norm_term  # noqa: F401  (registers build_feature_norm_penalty and CTC.FEATURE_NORM)
from ctc_plugin.cli import pretrain

argv = sys.argv[1:]
print(f"negative weight: exit {pretrain.main(argv + ['CTC.FEATURE_NORM.WEIGHT', '-1.0'])}")
sys.exit(pretrain.main(argv + ["CTC.FEATURE_NORM.WEIGHT", "0.1"]))
"""


def test_the_package_owners_declare_their_keys():
    owners = {name: adder for name, adder in CONFIG_REGISTRY}
    expected = {
        "add_ias_config": "ctc_plugin.modeling.ias",
        "add_irs_config": "ctc_plugin.modeling.irs",
        "add_resnext_config": "ctc_plugin.backbones.build",
        "add_timm_config": "ctc_plugin.backbones.build",
        "add_temporal_transfer_config": "ctc_plugin.analysis.config",
    }
    assert {name: owners[name].add.__module__ for name in expected} == expected
    cfg = get_cfg()
    assert cfg.CTC.IAS.TEMPERATURE == 0.1 and cfg.CTC.IRS.NEGATIVES == "other_classes"
    assert cfg.MODEL.RESNEXT.CARDINALITY == 16 and cfg.MODEL.TIMM.NAME == "resnet18"
    assert cfg.TEMPORAL_TRANSFER.PROTOCOL == "appendix"


def _rule(rules, key):
    (rule,) = [rule for rule in rules if rule.key == key]
    return rule


@pytest.mark.parametrize(
    "owner, key, choices",
    [
        (None, "SOLVER.WARMUP_SHAPE", WARMUP_SHAPES),
        (None, "INPUT.AUTO_AUGMENT_POLICY", AUTO_AUGMENT_POLICIES),
        ("add_irs_config", "CTC.IRS.NEGATIVES", tuple(NEGATIVE_SAMPLERS)),
        ("add_temporal_transfer_config", "TEMPORAL_TRANSFER.PROTOCOL", PROTOCOLS),
    ],
)
def test_an_enum_key_takes_its_choices_from_its_owner(owner, key, choices):
    rules = PRETRAIN_RULES if owner is None else CONFIG_REGISTRY.get(owner).rules
    rule = _rule(rules, key)
    assert all(rule.holds(choice) for choice in choices) and not rule.holds("not_a_choice")
    assert rule.requirement == f"be one of {', '.join(choices)}"


@pytest.mark.parametrize(
    "opts, message",
    [
        (["CTC.IAS.NUM_NEGATIVES", 40, "CTC.ALPHA", 0.5], "CTC.IAS.NUM_NEGATIVES 40 must be below the 40 training"),
        (["SOLVER.IAS_EPOCHS", 0, "SOLVER.IRS_EPOCHS", 1], "CTC's stage 2 needs an information bank"),
        (["CTC.IRS.NEGATIVES", "exact"], "CTC.IRS.NEGATIVES 'exact' must be one of other_classes, relax, uniform"),
        (["TEMPORAL_TRANSFER.PROTOCOL", "paper"], "TEMPORAL_TRANSFER.PROTOCOL 'paper' must be one of appendix"),
        (["MODEL.RESNEXT.CARDINALITY", 0], "MODEL.RESNEXT.CARDINALITY 0 must be positive"),
    ],
)
def test_owners_rules_and_checks_are_applied_before_training(opts, message):
    cfg = get_cfg()
    for key, value in zip(opts[0::2], opts[1::2]):
        cfg.merge_from_list([key, value])
    with pytest.raises(UserError, match=message):
        check_pretrain_values(cfg, num_train_images=40)
    check_pretrain_values(get_cfg(), num_train_images=40)  # the defaults pass


@pytest.mark.slow
def test_a_term_of_a_users_own_brings_its_key_and_trains(tmp_path):
    root = write_tiny_cifar100(str(tmp_path / "data"), num_train=64, num_test=16)
    output = tmp_path / "run"
    argv = [
        "--config-file", os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml"),
        "MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "16", "DATALOADER.NUM_WORKERS", "0",
        "TEST.IMS_PER_BATCH", "16", "TRAINER.LOG_PERIOD", "1", "DATASETS.ROOT", root, "OUTPUT_DIR", str(output),
        "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "0", "CTC.ALPHA", "0.5",
        "CTC.LOSS_TERMS", '["build_aggregation_term", "build_feature_norm_penalty"]',
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-c", USER_SCRIPT, *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "before the import: unknown config key CTC.FEATURE_NORM.WEIGHT in the command line" in result.stdout
    assert "negative weight: exit 2" in result.stdout
    assert "pretrain: error: CTC.FEATURE_NORM.WEIGHT -1.0 must be 0 or more" in result.stderr

    with open(output / "metrics.json") as f:
        logged = [json.loads(line) for line in f]
    penalties = [m["loss_feature_norm"] for m in logged if "loss_feature_norm" in m]
    assert len(penalties) == 4 and all(0 < p < float("inf") for p in penalties)  # 4 iterations, weight 0.1
    assert all("loss_ias" in m for m in logged if "loss_feature_norm" in m)
    with open(output / "config.yaml") as f:
        assert "FEATURE_NORM:\n    WEIGHT: 0.1" in f.read()
    checkpoint = torch.load(output / "model_final.pth", weights_only=True)
    assert list(checkpoint["ctc"]["terms"]) == ["ias", "feature_norm"]
