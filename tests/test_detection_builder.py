"""The registered CTC ResNet-FPN builder, with the real Detectron2 on the CPU."""

import logging

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import BACKBONE_REGISTRY, build_model
from fixtures.networks import random_resnet, save_pretrain_checkpoint

import ctc_plugin.detection  # noqa: F401  (registers the builder)
from ctc_plugin.convert import (
    detectron2_checkpoint,
    detectron2_name,
    load_resnet_state_dict,
    save_detectron2_pickle,
)
from ctc_plugin.detection import CTCDetectionCheckpointer, add_ctc_config
from ctc_plugin.utils.errors import UserError

CONFIG = "configs/coco_maskrcnn_ctc.yaml"


def tiny_cfg(weights: str, *opts: str):
    """The COCO CTC config on the CPU, with tiny proposal counts."""
    cfg = add_ctc_config(get_cfg())
    cfg.merge_from_file(CONFIG)
    cfg.merge_from_list(
        [
            "MODEL.DEVICE",
            "cpu",
            "MODEL.WEIGHTS",
            weights,
            "MODEL.RPN.POST_NMS_TOPK_TEST",
            "50",
            "MODEL.RPN.PRE_NMS_TOPK_TEST",
            "100",
            *opts,
        ]
    )
    return cfg


def bottom_up_state(model) -> dict:
    prefix = "backbone.bottom_up."
    return {key[len(prefix) :]: value.clone() for key, value in model.state_dict().items() if key.startswith(prefix)}


def assert_loaded_from(model, network, before: dict) -> None:
    """Every ResNet tensor of ``model`` equals the source's and none kept its initial value."""
    source = {detectron2_name(key): value for key, value in network.state_dict().items() if detectron2_name(key)}
    after = bottom_up_state(model)
    compared = [key for key in after if not key.endswith("num_batches_tracked")]
    assert sorted(compared) == sorted(source)
    for key in compared:
        assert torch.equal(after[key], source[key]), key
        assert not torch.equal(after[key], before[key]), f"{key} kept its initialisation"


def test_importing_registers_the_builder():
    assert BACKBONE_REGISTRY.get("build_ctc_resnet_fpn_backbone") is ctc_plugin.detection.build_ctc_resnet_fpn_backbone


def test_converted_pkl_loads_every_backbone_tensor(tmp_path, caplog):
    network = random_resnet(18, seed=11)
    state_dict, arch = load_resnet_state_dict(network.state_dict())
    pkl = str(tmp_path / "r18.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], pkl)
    cfg = tiny_cfg(pkl)  # the config says R-50 with SyncBN; the weights say R-18
    with caplog.at_level(logging.WARNING, logger="ctc_plugin"):
        model = build_model(cfg)
    assert "MODEL.RESNETS.NORM is SyncBN but this is a single process: using BN instead" in caplog.text
    assert len(model.backbone.bottom_up.res4) == 2  # ResNet-18
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    before = bottom_up_state(model)
    checkpointer = DetectionCheckpointer(model)  # Detectron2's own, untouched
    incompatible = checkpointer._load_model(checkpointer._load_file(pkl))
    assert [key for key in incompatible.missing_keys if key.startswith("backbone.bottom_up")] == []
    assert any(key.startswith("backbone.fpn") for key in incompatible.missing_keys)
    assert_loaded_from(model, network, before)


def test_raw_cifar_checkpoint_builds_its_network_and_the_checkpointer_loads_it(tmp_path):
    network = random_resnet(18, stem="cifar", seed=12)
    raw = save_pretrain_checkpoint(network, tmp_path / "model_final.pth")
    torch.manual_seed(0)
    initial = build_model(tiny_cfg("", "MODEL.RESNETS.DEPTH", "18", "MODEL.CTC.STEM", "cifar"))
    model = build_model(tiny_cfg(raw))
    assert tuple(model.backbone.bottom_up.stem.conv1.weight.shape) == (64, 3, 3, 3)
    assert not torch.equal(model.backbone.bottom_up.stem.conv1.weight, network.conv1.weight)  # built, not loaded
    # The checkpointer converts the raw file and loads it, once, so Detectron2's report is true.
    checkpointer = CTCDetectionCheckpointer(model)
    incompatible = checkpointer._load_model(checkpointer._load_file(raw))
    assert [key for key in incompatible.missing_keys if key.startswith("backbone.bottom_up")] == []
    assert_loaded_from(model, network, bottom_up_state(initial))
    # Standard FPN levels at the standard strides, from a 64-px image.
    model.eval()
    with torch.no_grad():
        features = model.backbone(torch.zeros(1, 3, 64, 64))
    assert {name: f.shape[-1] for name, f in features.items()} == {
        "p2": 16,
        "p3": 8,
        "p4": 4,
        "p5": 2,
        "p6": 1,
    }


def test_cifar_stem_at_stride_one_is_the_pretraining_network(tmp_path):
    network = random_resnet(18, stem="cifar", seed=13)
    raw = save_pretrain_checkpoint(network, tmp_path / "model_final.pth")
    cfg = tiny_cfg(raw, "MODEL.CTC.CIFAR_STEM_STRIDE", "1")
    backbone = BACKBONE_REGISTRY.get("build_ctc_resnet_fpn_backbone")(
        cfg, ctc_plugin.detection.backbone.ShapeSpec(channels=3)
    )
    CTCDetectionCheckpointer(backbone).load(raw)  # the builder builds; the checkpointer loads
    backbone.eval()
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        bottom_up = backbone.bottom_up(images)
        assert torch.allclose(
            bottom_up["res5"],
            network.layer4(
                network.layer3(network.layer2(network.layer1(network.relu(network.bn1(network.conv1(images))))))
            ),
            rtol=1e-4,
            atol=1e-5,
        )
        assert sorted(backbone(images)) == ["p0", "p1", "p2", "p3", "p4"]


@pytest.mark.parametrize(
    "key, value, needed",
    [
        ("INPUT.FORMAT", "BGR", "RGB"),
        ("MODEL.RESNETS.STRIDE_IN_1X1", "True", "False"),
        ("MODEL.PIXEL_STD", "[1.0, 1.0, 1.0]", "58.395"),
    ],
)
def test_settings_that_silently_cost_ap_are_refused(key, value, needed):
    with pytest.raises(UserError, match=f"{key} is .* need .*{needed}"):
        build_model(tiny_cfg("", key, value))


@pytest.mark.parametrize("kind", ["raw checkpoint", "converted pkl"])
def test_model_weights_is_read_once_by_the_pre_flight_the_builder_and_the_checkpointer(tmp_path, monkeypatch, kind):
    import pickle

    from ctc_plugin.detection.checks import check_detection_inputs

    network = random_resnet(18, stem="cifar", seed=14)
    weights = save_pretrain_checkpoint(network, tmp_path / "model_final.pth")
    if kind == "converted pkl":
        state_dict, arch = load_resnet_state_dict(network.state_dict())
        weights = str(tmp_path / "r18.pkl")
        save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    reads = []
    for module, name in ((torch, "load"), (pickle, "load")):  # every reader of files: ours, Detectron2's, fvcore's
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, real=real, **k: reads.append(a[0]) or real(*a, **k))
    torch.manual_seed(0)
    initial = build_model(tiny_cfg("", "MODEL.RESNETS.DEPTH", "18", "MODEL.CTC.STEM", "cifar"))
    cfg = tiny_cfg(weights, "DATASETS.TRAIN", "()", "DATASETS.TEST", "()", "OUTPUT_DIR", str(tmp_path / "out"))
    check_detection_inputs(cfg)  # the pre-flight
    torch.manual_seed(0)
    model = build_model(cfg)  # the builder reads the record: depth and stem
    CTCDetectionCheckpointer(model).resume_or_load(cfg.MODEL.WEIGHTS, resume=False)  # the checkpointer the tensors
    assert len(reads) == 1, reads
    assert model.backbone.network_record["model"]["DEPTH"] == 18 and model.backbone.network_record["model"]["STEM"] == (
        "cifar"
    )
    assert_loaded_from(model, network, bottom_up_state(initial))
