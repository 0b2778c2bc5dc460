"""The Detectron2 converter: names, the pickle, verification by computation, the CLI."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures.networks import random_resnet, save_pretrain_checkpoint
from torch import nn

from ctc_plugin.convert import TOLERANCES, detectron2_checkpoint, detectron2_name, load_resnet_state_dict
from ctc_plugin.convert.detectron2 import torchvision_name
from ctc_plugin.detection.verify import verify_detectron2
from ctc_plugin.utils.errors import UserError

TOLERANCE = TOLERANCES["detectron2"]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "convert_weights.py"), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_names_follow_design():
    expected = {
        "conv1.weight": "stem.conv1.weight",
        "bn1.running_var": "stem.conv1.norm.running_var",
        "layer1.0.conv3.weight": "res2.0.conv3.weight",
        "layer2.1.bn2.bias": "res3.1.conv2.norm.bias",
        "layer4.0.downsample.0.weight": "res5.0.shortcut.weight",
        "layer4.0.downsample.1.running_mean": "res5.0.shortcut.norm.running_mean",
        "fc.weight": None,
        "layer1.0.bn1.num_batches_tracked": None,
    }
    for source, target in expected.items():
        assert detectron2_name(source) == target
        if target is not None:
            assert torchvision_name(target) == source


@pytest.mark.parametrize("depth", [18, 50])
def test_converted_backbone_computes_the_source_features(depth):
    network = random_resnet(depth, seed=depth)
    state_dict, arch = load_resnet_state_dict({"model": network.state_dict(), "arch": network.arch})
    checkpoint, dropped = detectron2_checkpoint(state_dict, arch, source="test")
    assert {"fc.weight", "fc.bias"} <= set(dropped)
    assert all(isinstance(value, np.ndarray) for value in checkpoint["model"].values())
    differences = verify_detectron2(state_dict, arch, checkpoint["model"], image_size=64)
    print(f"ResNet-{depth} max relative differences: {differences}")
    assert set(differences) == {"res2", "res3", "res4", "res5"}
    assert max(differences.values()) <= TOLERANCE


def test_cifar_stem_verifies_exactly():
    network = random_resnet(18, stem="cifar", seed=3)
    state_dict, arch = load_resnet_state_dict(network.state_dict())
    assert arch == {"depth": 18, "stem": "cifar", "num_classes": 10}
    checkpoint, _ = detectron2_checkpoint(state_dict, arch, source="test")
    assert max(verify_detectron2(state_dict, arch, checkpoint["model"], image_size=32).values()) <= TOLERANCE


def test_verification_catches_a_wrong_conversion():
    network = random_resnet(18, seed=1)
    state_dict, arch = load_resnet_state_dict(network.state_dict())
    checkpoint, _ = detectron2_checkpoint(state_dict, arch, source="test")
    model = checkpoint["model"]
    # What a converter that mixes up two BN layers would write.
    model["res3.0.conv1.norm.running_var"], model["res3.0.conv2.norm.running_var"] = (
        model["res3.0.conv2.norm.running_var"],
        model["res3.0.conv1.norm.running_var"],
    )
    with pytest.raises(UserError, match=r"conversion check failed: detectron2's res[345] differs from the source by"):
        verify_detectron2(state_dict, arch, model)


def test_wrappers_ddp_and_prefix_give_the_same_weights():
    network = random_resnet(18, seed=2)
    plain = network.state_dict()
    ddp = {"state_dict": {f"module.{key}": value for key, value in plain.items()}}
    moco = {
        "arch": "resnet18",  # MoCo stores a string here
        "state_dict": {
            **{f"module.encoder_q.{key}": value for key, value in plain.items()},
            **{f"module.encoder_k.{key}": torch.zeros_like(value) for key, value in plain.items()},
            "module.queue": torch.zeros(128, 16),
        },
    }
    for source, prefix in (
        (plain, ""),
        (ddp, ""),
        (moco, "module.encoder_q."),
        (moco, "encoder_q"),
    ):
        state_dict, arch = load_resnet_state_dict(source, prefix=prefix)
        assert arch["depth"] == 18
        assert state_dict.keys() == plain.keys()
        assert all(torch.equal(state_dict[key], plain[key]) for key in plain)


def test_refusals_name_the_problem():
    with pytest.raises(UserError, match=r"missing keys conv1\.weight.*layer4\.0\.conv1\.weight"):
        load_resnet_state_dict(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)).state_dict())
    moco = {f"encoder_q.{key}": value for key, value in random_resnet(18).state_dict().items()}
    with pytest.raises(UserError, match=r"the network sits under 'encoder_q\.'"):
        load_resnet_state_dict(moco)
    with pytest.raises(UserError, match=r"no key .* starts with prefix 'encoder_k\.'"):
        load_resnet_state_dict(moco, prefix="encoder_k.")
    network = random_resnet(18)
    record = {"builder": "build_resnet", "model": {"DEPTH": 50, "STEM": "imagenet"}}
    with pytest.raises(UserError, match=r"its record says MODEL.DEPTH 50 but the weights are 18"):
        load_resnet_state_dict({"model": network.state_dict(), "backbone": record})


@pytest.mark.slow
def test_cli_converts_resnet50_and_detectron2_reads_it(tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    network = random_resnet(50, seed=5)
    source = save_pretrain_checkpoint(network, tmp_path / "model_final.pth")
    output = tmp_path / "r50.pkl"
    result = run_tool(source, str(output), "--to", "detectron2")
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    assert "ResNet-50 (ImageNet stem)" in result.stdout
    assert "dropped 55: fc.weight, fc.bias, 53 x *.num_batches_tracked" in result.stdout
    assert result.stdout.count("max relative difference") == 4
    with open(output, "rb") as f:
        payload = pickle.load(f)
    assert payload["__author__"].startswith("ctc_plugin") and payload["matching_heuristics"] is True
    model = payload["backbone"]["model"]  # the checkpoint's own record, and nothing else describing the network
    assert payload["backbone"]["builder"] == "build_resnet" and (model["DEPTH"], model["NUM_CLASSES"]) == (50, 10)
    assert not {"ctc_arch", "timm_name", "network"} & set(payload)
    assert len(payload["model"]) == 265 and not any("fc." in key or "num_batches" in key for key in payload["model"])
    # Detectron2 takes it for its own format, not Caffe2 blobs.
    read = DetectionCheckpointer(nn.Module())._load_file(str(output))
    assert read["__author__"] == payload["__author__"]


@pytest.mark.slow
def test_cli_refuses_a_non_resnet_in_one_line(tmp_path):
    source = tmp_path / "not_resnet.pth"
    torch.save({"model": nn.Linear(4, 2).state_dict()}, source)
    output = tmp_path / "out.pkl"
    result = run_tool(str(source), str(output), "--to", "detectron2")
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"convert_weights: error: checkpoint {source} is not a torchvision-style ResNet: missing keys "
        "conv1.weight, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, "
        "layer1.0.conv1.weight, layer2.0.conv1.weight, layer3.0.conv1.weight, "
        "layer4.0.conv1.weight, layer2.0.downsample.0.weight"
    ]
    assert not output.exists()
