"""A backbone family the package knows nothing about reaches timm and Detectron2, verified, from this file alone.

``build_stage_net`` is not built on timm: torchvision's ResNet-18 computation under names of its own
(``stem``, ``stages``, ``head``). Everything it needs is registered here, and nothing inside
``ctc_plugin/`` names it:

- its builder (``BACKBONE_REGISTRY``): pretraining and the analyses;
- timm: a converter to timm's ``resnet18`` (its names mapped back) with the package's timm verifier;
- Detectron2: its bottom-up (a Detectron2 ``Backbone`` over the same modules), a converter and a
  verifier of its own, and a Detectron2 backbone builder that reads the record of ``MODEL.WEIGHTS``.
"""

import os
import pickle
import re

import pytest
import timm
import torch
import torch.nn.functional as F  # noqa: N812  (torch convention)
import torchvision
from detectron2.config import get_cfg as get_detectron2_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY as DETECTRON2_BACKBONES
from detectron2.modeling import Backbone as Detectron2Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from fixtures.datasets import write_tiny_coco
from fixtures.detection import TINY as TINY_DETECTION
from torch import nn

from ctc_plugin import BACKBONE_REGISTRY
from ctc_plugin.backbones import backbone_record, build_backbone, initialise_from
from ctc_plugin.checkpoint import load_file
from ctc_plugin.cli import convert_weights, train_net
from ctc_plugin.config import get_cfg
from ctc_plugin.convert import (
    Detectron2Weights,
    SourceWeights,
    TimmWeights,
    check_differences,
    register_converter,
    relative_difference,
    verify_timm_weights,
)
from ctc_plugin.convert.timm import fit_timm
from ctc_plugin.detection import CTCDetectionCheckpointer, add_ctc_config, weights_record
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILY = "build_stage_net"
LEVELS = {"res2": (64, 4), "res3": (128, 8), "res4": (256, 16), "res5": (512, 32)}  # channels, stride
PREFIX = "backbone.bottom_up."


# ---- the family: a network of its own ---------------------------------------------------------------
class StageNet(nn.Module):
    """ResNet-18's computation under this family's names: ``stem``, ``stages.0-3``, ``head``."""

    classifier_name = "head"

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        resnet = torchvision.models.resnet18(num_classes=num_classes)
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.stages = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)
        self.head = resnet.fc
        self.num_features = resnet.fc.in_features

    @property
    def fc(self) -> nn.Module:
        return self.head

    def levels(self, images: torch.Tensor) -> dict:
        """The output of every stage, named as Detectron2 names a ResNet's."""
        x, outputs = self.stem(images), {}
        for level, stage in zip(LEVELS, self.stages):
            x = outputs[level] = stage(x)
        return outputs

    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(images)), 1), 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_pre_logits(images))


if FAMILY not in BACKBONE_REGISTRY:  # registered once per process

    @BACKBONE_REGISTRY.register()
    def build_stage_net(cfg) -> nn.Module:
        return StageNet(cfg.MODEL.NUM_CLASSES)


# ---- to timm: its names mapped to timm's resnet18, verified by the package's timm verifier ---------------
TIMM_NAMES = [(r"^stem\.0\.", "conv1."), (r"^stem\.1\.", "bn1."), (r"^head\.", "fc.")]


def timm_name(key: str) -> str:
    for pattern, name in TIMM_NAMES:
        key = re.sub(pattern, name, key)
    return re.sub(r"^stages\.(\d)\.", lambda m: f"layer{int(m.group(1)) + 1}.", key)


@register_converter(FAMILY, "timm", verify=verify_timm_weights)
def stage_net_to_timm(source: SourceWeights) -> TimmWeights:
    weights = {timm_name(key): value for key, value in source.state_dict.items()}
    return TimmWeights("resnet18", fit_timm("resnet18", weights, source.name), source=source.name)


# ---- to Detectron2: its bottom-up, converter, verifier and backbone builder --------------------------
class StageBottomUp(Detectron2Backbone):
    """The family's stages as a Detectron2 bottom-up: ``res2`` .. ``res5`` at strides 4 .. 32."""

    def __init__(self) -> None:
        super().__init__()
        network = StageNet(num_classes=1)
        self.stem, self.stages = network.stem, network.stages
        self._out_features = list(LEVELS)
        self._out_feature_channels = {level: channels for level, (channels, _) in LEVELS.items()}
        self._out_feature_strides = {level: stride for level, (_, stride) in LEVELS.items()}

    def forward(self, images: torch.Tensor) -> dict:
        x, outputs = self.stem(images), {}
        for level, stage in zip(LEVELS, self.stages):
            x = outputs[level] = stage(x)
        return outputs


@torch.no_grad()
def verify_stage_bottom_up(source: SourceWeights, converted: Detectron2Weights, path: str) -> dict:
    """The written pickle's bottom-up against the source network's stages (the one verifier signature)."""
    written = load_file(path, "converted weights")
    bottom_up = StageBottomUp()
    body = {key[len(PREFIX) :]: torch.as_tensor(value) for key, value in written["model"].items()}
    initialise_from(bottom_up, body, "converted weights")
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    reference, outputs = source.network().levels(images), bottom_up.eval()(images)
    differences = {level: relative_difference(reference[level], outputs[level]) for level in LEVELS}
    check_differences(differences, "detectron2")
    return differences


@register_converter(FAMILY, "detectron2", verify=verify_stage_bottom_up)
def stage_net_to_detectron2(source: SourceWeights) -> Detectron2Weights:
    kept = {key: value for key, value in source.state_dict.items() if not key.startswith("head.")}
    checkpoint = {
        "model": {PREFIX + key: value.numpy() for key, value in kept.items()},
        "__author__": f"build_stage_net (converted from {source.name})",
        "matching_heuristics": False,
        "backbone": source.record,
    }
    return Detectron2Weights(checkpoint, sorted(set(source.state_dict) - set(kept)))


if "build_stage_net_fpn_backbone" not in DETECTRON2_BACKBONES:

    @DETECTRON2_BACKBONES.register()
    def build_stage_net_fpn_backbone(cfg, input_shape: ShapeSpec):
        record = weights_record(cfg)  # MODEL.WEIGHTS' record, read once per process
        if record is None or record["builder"] != FAMILY:
            raise UserError(f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} holds no network of {FAMILY}")
        backbone = FPN(
            bottom_up=StageBottomUp(),
            in_features=cfg.MODEL.FPN.IN_FEATURES,
            out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
            top_block=LastLevelMaxPool(),
        )
        backbone.network_record = record  # its checkpoints carry it
        return backbone


# ---- the tests ----------------------------------------------------------------------------------------
def verified(printed: str) -> int:
    return sum(line.startswith("verify ") and "max relative difference" in line for line in printed.splitlines())


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A checkpoint of the family as ctc-pretrain writes it, every BatchNorm statistic random."""
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.BACKBONE", FAMILY, "MODEL.NUM_CLASSES", "3"])
    torch.manual_seed(0)
    network = build_backbone(cfg)  # the backbone contract, checked
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5), module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.5, 0.5), module.running_var.uniform_(0.5, 2.0)
    path = str(tmp_path_factory.mktemp("family") / "model_final.pth")
    torch.save({"model": network.state_dict(), "backbone": backbone_record(cfg), "epoch": 1}, path)
    return {"path": path, "network": network.eval()}


def test_it_reaches_timm_verified_and_timm_and_the_fine_tune_read_the_file(pretrained, tmp_path, capsys):
    from ctc_plugin.fgvc.model import read_fgvc_weights

    output = str(tmp_path / "stage_net_timm.safetensors")
    assert convert_weights.main([pretrained["path"], output, "--to", "timm"]) == 0
    printed = capsys.readouterr().out
    assert "read a network of build_stage_net from" in printed and verified(printed) == 3
    assert load_file(output)["backbone"]["model"]["TIMM"]["NAME"] == "resnet18"  # the file holds timm's network
    overlay = dict(file=output, num_classes=3)  # keep the file's 3-class head
    model = timm.create_model("resnet18", pretrained=True, num_classes=3, pretrained_cfg_overlay=overlay)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(images), pretrained["network"](images))
    assert read_fgvc_weights("resnet18", output).name == "resnet18"  # ctc-finetune-fgvc takes it


def test_it_reaches_detectron2_verified_and_mask_rcnn_trains_on_it(pretrained, tmp_path, capsys, monkeypatch):
    weights = str(tmp_path / "stage_net.pkl")
    assert convert_weights.main([pretrained["path"], weights, "--to", "detectron2"]) == 0
    printed = capsys.readouterr().out
    assert verified(printed) == 4 and "dropped 2: head.bias, head.weight" in printed
    with open(weights, "rb") as f:
        written = pickle.load(f)
    assert written["backbone"]["builder"] == FAMILY and not {"ctc_arch", "timm_name", "network"} & set(written)

    write_tiny_coco(tmp_path / "datasets")
    output = str(tmp_path / "output")
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(tmp_path)  # Detectron2's builtin COCO paths are relative ("datasets/coco/...")
    status = train_net.main(  # ctc-train-net in this process, where the family is registered
        ["--config-file", os.path.join(REPO, "configs/coco_maskrcnn_ctc.yaml"), *TINY_DETECTION,
         "MODEL.BACKBONE.NAME", "build_stage_net_fpn_backbone", "MODEL.WEIGHTS", weights,
         "SOLVER.MAX_ITER", "2", "OUTPUT_DIR", output]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err[-3000:]
    final = torch.load(os.path.join(output, "model_final.pth"), weights_only=True)
    assert final["backbone"] == written["backbone"]  # Detectron2's checkpoints carry the record too


def test_mask_rcnn_takes_its_raw_checkpoint_converted_on_the_fly(pretrained):
    from detectron2.modeling import build_model

    cfg = add_ctc_config(get_detectron2_cfg())
    cfg.merge_from_file(os.path.join(REPO, "configs/coco_maskrcnn_ctc.yaml"))
    opts = ["MODEL.BACKBONE.NAME", "build_stage_net_fpn_backbone", "MODEL.WEIGHTS", pretrained["path"]]
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", *opts])
    model = build_model(cfg).eval()
    CTCDetectionCheckpointer(model).load(pretrained["path"])  # converted by the family's converter
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference, outputs = pretrained["network"].levels(images), model.backbone.bottom_up(images)
    for level in LEVELS:
        torch.testing.assert_close(outputs[level], reference[level])
