"""The model zoo: the paper's numbers, no invented weights, Detectron2-style accessors."""

import os
import re

import pytest

from ctc_plugin import model_zoo
from ctc_plugin.backbones import ResNet
from ctc_plugin.model_zoo import CATALOG, WeightsNotAvailableError
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "configs")

# CIFAR-100 top-1 printed in the appendix (Sec. A.4); nothing else is reported there.
PAPER_CIFAR100_TOP1 = {
    "cifar100_r18_baseline": 79.3,
    "cifar100_r18_ctc": 80.1,
    "cifar100_r18_ctc_no_ias": 80.1,
    "cifar100_r18_ctc_alpha0.5": 79.4,
    "cifar100_r18_ctc_beta0.5": 79.7,
    "cifar100_r18_ctc_beta1.5": 79.9,
}


def test_catalog_carries_the_papers_numbers_and_no_weights():
    reported = {name: e.paper_metrics["CIFAR-100 top-1"] for name, e in CATALOG.items() if e.paper_metrics}
    assert reported == PAPER_CIFAR100_TOP1
    for entry in CATALOG.values():
        assert entry.config.startswith("pretrain/") and entry.config.endswith(".yaml")
        assert os.path.isfile(os.path.join(CONFIGS, entry.config)), entry.config


def test_model_zoo_md_lists_every_model_with_its_numbers():
    with open(os.path.join(REPO, "model_zoo", "MODEL_ZOO.md")) as f:
        text = f.read()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", text, re.M)}
    assert set(rows) == set(CATALOG)
    for name, entry in CATALOG.items():
        assert f"`{entry.config}`" in rows[name]
        for value in entry.paper_metrics.values():
            assert f"| {value} |" in rows[name]
        assert "none released" in rows[name]


def test_trained_weights_are_refused_clearly():
    with pytest.raises(WeightsNotAvailableError, match="no trained weights are available for cifar100_r18_ctc") as e:
        model_zoo.get("cifar100_r18_ctc", trained=True)
    assert isinstance(e.value, UserError) and "\n" not in str(e.value)
    assert "ctc-pretrain --config-file configs/pretrain/cifar100_r18_ctc.yaml" in str(e.value)
    with pytest.raises(WeightsNotAvailableError, match="cifar100_r18_ctc_beta1.5.yaml"):
        model_zoo.get_config("cifar100_r18_ctc_beta1.5", trained=True)


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UserError, match="did you mean cifar100_r18_ctc"):
        model_zoo.get_config("cifar100_r18_ctcc")
    assert model_zoo.list_models() == list(CATALOG)


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_config_loads(name):
    cfg = model_zoo.get_config(name)
    assert cfg.MODEL.DEPTH == (18 if name.startswith("cifar100") else 50)
    assert model_zoo.get_config_file(name).endswith(os.path.join("configs", CATALOG[name].config))


def test_get_config_carries_the_ablations_settings():
    assert model_zoo.get_config("cifar100_r18_ctc_alpha0.5").CTC.ALPHA == 0.5
    assert model_zoo.get_config("cifar100_r18_ctc_beta1.5").CTC.BETA == 1.5
    assert model_zoo.get_config("cifar100_r18_ctc_no_ias").CTC.ALPHA == 0.0


def test_get_builds_the_network():
    model = model_zoo.get("cifar100_r18_ctc")
    assert isinstance(model, ResNet) and model.arch == {"depth": 18, "stem": "cifar", "num_classes": 100}
