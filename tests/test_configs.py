"""Every config loads with _BASE_ inheritance, carries the paper's values, and every key is documented."""

import glob
import os

import pytest

from ctc_plugin.analysis.linear_probe import ProbeSchedule
from ctc_plugin.config import get_cfg, merge_config
from ctc_plugin.fgvc import get_fgvc_cfg
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "pretrain", "*.yaml")))
FGVC_CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "fgvc", "*_r50.yaml")))


def load(name: str):
    return merge_config(get_cfg(), os.path.join(REPO, "configs", "pretrain", name), [])


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_config_loads(path):
    cfg = merge_config(get_cfg(), path, [])
    assert cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS > 0


@pytest.mark.parametrize("path", FGVC_CONFIGS, ids=os.path.basename)
def test_every_fgvc_config_loads(path):
    cfg = merge_config(get_fgvc_cfg(), path, [])
    assert cfg.SOLVER.EPOCHS == 100 and cfg.SOLVER.BASE_LR == 5e-3 and cfg.DATASETS.TRAIN.endswith("_train")
    assert cfg.MODEL.DEVICE == "auto"  # one device rule for every tool


def test_probe_defaults_are_one_schedule():
    assert ProbeSchedule.from_config(get_cfg().TEMPORAL_TRANSFER) == ProbeSchedule()


def test_paper_settings():
    ctc = load("cifar100_r18_ctc.yaml")
    assert (ctc.MODEL.DEPTH, ctc.MODEL.STEM, ctc.SOLVER.IMS_PER_BATCH, ctc.SOLVER.BASE_LR) == (18, "cifar", 64, 0.05)
    assert (ctc.SOLVER.IAS_EPOCHS, ctc.SOLVER.IRS_EPOCHS, ctc.CTC.ALPHA, ctc.CTC.BETA) == (200, 100, 0.01, 1.0)
    assert ctc.SOLVER.WEIGHT_DECAY == 5e-4 and ctc.SOLVER.BASE_LR * ctc.SOLVER.IRS_LR_FACTOR == pytest.approx(5e-3)
    baseline = load("cifar100_r18_baseline.yaml")
    assert (baseline.SOLVER.IAS_EPOCHS, baseline.SOLVER.IRS_EPOCHS, baseline.CTC.ALPHA, baseline.CTC.BETA) == (
        300,
        0,
        0,
        0,
    )
    imagenet = load("imagenet_r50_ctc.yaml")
    assert (imagenet.MODEL.DEPTH, imagenet.SOLVER.IMS_PER_BATCH, imagenet.SOLVER.BASE_LR) == (50, 256, 0.01)
    assert (imagenet.SOLVER.IAS_EPOCHS, imagenet.SOLVER.IRS_EPOCHS, imagenet.CTC.ALPHA) == (120, 80, 0.2)
    assert imagenet.CTC.IAS.NUM_NEGATIVES == 16384
    assert imagenet.SOLVER.IRS_LR_FACTOR == 0.1  # assumed: the appendix gives no ImageNet restart (fidelity.md)
    assert load("cifar100_r18_ctc_no_ias.yaml").CTC.ALPHA == 0
    assert load("cifar100_r18_ctc_alpha0.5.yaml").CTC.ALPHA == 0.5
    assert load("cifar100_r18_ctc_beta0.5.yaml").CTC.BETA == 0.5
    assert load("cifar100_r18_ctc_beta1.5.yaml").CTC.BETA == 1.5
    assert load("imagenet_r50_ctc_autoaug.yaml").INPUT.AUTO_AUGMENT
    assert load("cifar100_r18_ctc_autoaug.yaml").CTC.BETA == 1.0


def test_defaults_are_the_release_values():
    cfg = get_cfg()
    assert (cfg.CTC.IAS.TEMPERATURE, cfg.CTC.IAS.MOMENTUM, cfg.CTC.IRS.TEMPERATURE, cfg.CTC.IRS.MOMENTUM) == (
        0.1,
        0.5,
        0.07,
        0.5,
    )
    assert (cfg.CTC.EMBED_DIM, cfg.CTC.IRS.NUM_NEGATIVES, cfg.CTC.IRS.NEGATIVES) == (128, 16384, "other_classes")
    assert cfg.CTC.IAS.TRAIN_HEAD and not cfg.CTC.IRS.REFILL_MEMORY


@pytest.mark.parametrize("schema, doc", [(get_cfg, "configs.md"), (get_fgvc_cfg, "fgvc.md")])
def test_every_key_is_documented(schema, doc):
    with open(os.path.join(REPO, "docs", doc)) as f:
        text = f.read()

    def keys(node, prefix=""):
        for name, value in node.items():
            yield from keys(value, f"{prefix}{name}.") if hasattr(value, "items") else [f"{prefix}{name}"]

    assert [k for k in keys(schema()) if f"`{k}`" not in text] == []


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        merge_config(get_cfg(), str(tmp_path / "missing.yaml"), [])
    typo = tmp_path / "typo.yaml"
    typo.write_text("SOLVER:\n  BASE_LRR: 0.1\n")
    with pytest.raises(UserError, match=r"unknown config key SOLVER.BASE_LRR .* did you mean SOLVER.BASE_LR\?"):
        merge_config(get_cfg(), str(typo), [])
    with pytest.raises(UserError, match="KEY VALUE pairs"):
        merge_config(get_cfg(), None, ["SOLVER.BASE_LR"])
