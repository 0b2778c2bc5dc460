"""The backbone contract is kept end to end: a network that is not a ResNet, registered here, goes
through pretraining (1 + 1 epochs, the temporal-transfer hook on), temporal transfer and MINE by the
tools' own entry points; the
converters refuse it with one line saying which converter to register; a checkpoint names the module to
import."""

import json
import os

import pytest
import torch
from fixtures.datasets import write_tiny_cifar100
from torch import nn

from ctc_plugin import BACKBONE_REGISTRY
from ctc_plugin.analysis.runs import load_backbone
from ctc_plugin.backbones import build_backbone
from ctc_plugin.cli import convert_weights, estimate_mi, pretrain, temporal_transfer
from ctc_plugin.config import get_cfg
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TinyConvNet(nn.Module):
    """Two conv blocks with BatchNorm, global pooling and a classifier: not a ResNet in any key."""

    def __init__(self, width: int, num_classes: int) -> None:
        super().__init__()
        self.num_features = 2 * width
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_pre_logits(images))


@BACKBONE_REGISTRY.register()
def build_tiny_conv_net(cfg) -> nn.Module:
    return TinyConvNet(cfg.MODEL.DEPTH, cfg.MODEL.NUM_CLASSES)  # MODEL.DEPTH read as the width


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A CTC run of the tiny network on classes 0 and 1 of a tiny CIFAR-100 (2 and 3 held out)."""
    folder = tmp_path_factory.mktemp("contract")
    root = write_tiny_cifar100(str(folder / "data"), num_train=64, num_test=32, num_classes=4)
    output = str(folder / "run")
    status = pretrain.main(
        ["--config-file", os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml"),
         "MODEL.BACKBONE", "build_tiny_conv_net", "MODEL.DEPTH", "8", "MODEL.DEVICE", "cpu",
         "DATASETS.ROOT", root, "DATASETS.CLASSES", "[0, 1]", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "8",
         "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1", "CTC.ALPHA", "0.5", "CTC.IRS.NUM_NEGATIVES", "8",
         "CTC.IRS.REFILL_MEMORY", "True", "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", output,
         "TRAINER.EXTRA_HOOKS", '["TemporalTransferHook"]', "TEMPORAL_TRANSFER.PERIOD_EPOCHS", "1",
         "TEMPORAL_TRANSFER.STEPS", "5", "TEMPORAL_TRANSFER.BATCH_SIZE", "8", "TEMPORAL_TRANSFER.MILESTONES", "[3]"]
    )  # fmt: skip
    assert status == 0
    return {"root": root, "output": output, "folder": folder}


def test_pretraining_runs_both_stages_and_records_the_builder(run):
    checkpoint = torch.load(os.path.join(run["output"], "model_final.pth"), weights_only=True)
    assert checkpoint["backbone"]["builder"] == "build_tiny_conv_net"
    assert checkpoint["backbone"]["module"] == __name__
    assert checkpoint["epoch"] == 2 and checkpoint["ctc"]["stage"] == 2
    assert any(key.startswith("bank.body.1.") for key in checkpoint["ctc"]["terms"]["irs"])  # a bank of this net
    with open(os.path.join(run["output"], "metrics.json")) as f:
        losses = {key for line in f for key in json.loads(line)}
    assert {"loss_ias", "loss_irs", "test/top1", "temporal_transfer/top1"} <= losses  # the hook ran live
    network, epoch = load_backbone(os.path.join(run["output"], "model_epoch_0001.pth"))
    assert isinstance(network, TinyConvNet) and epoch == 1 and network.fc.out_features == 2


def test_temporal_transfer_and_mine_rebuild_it_through_the_registry(run):
    out = run["folder"] / "analyses"
    status = temporal_transfer.main(
        ["--run", run["output"], "--dataset", "cifar100", "--classes", "2,3", "--steps", "5", "--batch-size", "8",
         "--milestones", "3", "--num-workers", "0", "--output-dir", str(out / "transfer"), "--format", "json"]
    )  # fmt: skip
    assert status == 0
    rows = json.loads((out / "transfer" / "temporal_transfer.json").read_text())
    assert [row["epoch"] for row in rows] == [1, 2] and rows[0]["image_size"] == 32
    status = estimate_mi.main(
        ["--run", run["output"], "--xt-steps", "3", "--ty-steps", "3", "--batch-size", "8", "--hidden", "16",
         "--num-workers", "0", "--output-dir", str(out / "mi"), "--format", "json"]
    )  # fmt: skip
    assert status == 0
    rows = json.loads((out / "mi" / "mutual_information.json").read_text())
    assert [row["epoch"] for row in rows] == [1, 2] and rows[0]["samples"] == 16  # classes 0 and 1 of the test split


@pytest.mark.parametrize("target, suffix", [("detectron2", ".pkl"), ("timm", ".pth")])
def test_converters_refuse_it_in_one_line(run, capsys, target, suffix):
    source = os.path.join(run["output"], "model_final.pth")
    output = run["folder"] / f"converted{suffix}"
    assert convert_weights.main([source, str(output), "--to", target]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        f"convert_weights: error: checkpoint {source} holds a network of build_tiny_conv_net, and no converter of "
        f"build_tiny_conv_net to {target} is registered"
    )
    assert line.endswith(f"register_converter('build_tiny_conv_net', '{target}')")
    assert not output.exists()


def test_a_missing_builder_names_the_module_to_import(run):
    checkpoint = torch.load(os.path.join(run["output"], "model_final.pth"), weights_only=True)
    checkpoint["backbone"] = dict(checkpoint["backbone"], builder="build_unregistered_net", module="my_lab.nets")
    path = run["folder"] / "moved.pth"
    torch.save(checkpoint, path)
    with pytest.raises(
        UserError, match=r"built by build_unregistered_net, which is not registered .*: import my_lab\.nets first"
    ):
        load_backbone(str(path))


def test_a_builder_that_breaks_the_contract_is_refused_when_built():
    @BACKBONE_REGISTRY.register()
    def build_headless_net(cfg) -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    cfg = get_cfg()
    cfg.MODEL.BACKBONE = "build_headless_net"
    with pytest.raises(
        UserError, match="build_headless_net built a Sequential without forward_pre_logits, fc, num_features"
    ):
        build_backbone(cfg)
    cfg.MODEL.BACKBONE = "build_resnet_typo"
    with pytest.raises(UserError, match="MODEL.BACKBONE 'build_resnet_typo' is not registered"):
        build_backbone(cfg)
