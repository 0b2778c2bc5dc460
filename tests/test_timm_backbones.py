"""Any timm CNN, end to end: a BatchNorm one (MobileNetV3, with a pre-logits conv head) and a
LayerNorm one (ConvNeXt) are pretrained with CTC, resumed, analysed, converted to timm and to
Detectron2 (each verified by computation), fine-tuned on a fine-grained layout and trained in
Mask R-CNN; ``FREEZE_AT`` and frozen BatchNorm mean what they mean for Detectron2's ResNets."""

import os
import pickle
import shutil
import subprocess
import sys

import pytest
import timm
import torch
from fixtures.datasets import LAYOUTS, NUM_CLASSES, write_tiny_cifar100, write_tiny_coco
from fixtures.detection import TINY as TINY_DETECTION
from fixtures.detection import missing_from_checkpoint

from ctc_plugin.analysis.runs import load_backbone
from ctc_plugin.backbones import TimmBackbone
from ctc_plugin.cli import convert_weights, estimate_mi, pretrain, temporal_transfer
from ctc_plugin.config import merge_config
from ctc_plugin.fgvc import get_fgvc_cfg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH_NORM_NET, LAYER_NORM_NET = "mobilenetv3_small_050", "convnext_atto"
NETWORKS = [BATCH_NORM_NET, LAYER_NORM_NET]


def pretrain_args(root: str, name: str, output: str):
    return [
        "--config-file", os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml"),
        "MODEL.BACKBONE", "build_timm_backbone", "MODEL.TIMM.NAME", name, "MODEL.DEVICE", "cpu",
        "DATASETS.ROOT", root, "DATASETS.CLASSES", "[0, 1]", "SOLVER.IMS_PER_BATCH", "8",
        "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1", "CTC.ALPHA", "0.5", "CTC.IRS.NUM_NEGATIVES", "8",
        "CTC.IRS.REFILL_MEMORY", "True", "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", output,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A CTC run (1 + 1 epochs) of each network on classes 0 and 1 of a tiny CIFAR-100 (2 and 3 held out)."""
    folder = tmp_path_factory.mktemp("timm_runs")
    root = write_tiny_cifar100(str(folder / "data"), num_train=64, num_test=32, num_classes=4)
    outputs = {}
    for name in NETWORKS:
        outputs[name] = str(folder / name)
        assert pretrain.main(pretrain_args(root, name, outputs[name])) == 0
    return {"root": root, "folder": folder, **outputs}


def verified(printed: str) -> int:
    """How many outputs the tool said it verified (its own lines, not log lines that reach the console)."""
    return sum(line.startswith("verify ") and "max relative difference" in line for line in printed.splitlines())


def random_images(n: int = 2, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", NETWORKS)
def test_the_checkpoint_is_the_timm_networks_own(runs, name):
    checkpoint = torch.load(os.path.join(runs[name], "model_final.pth"), weights_only=True)
    assert checkpoint["backbone"]["builder"] == "build_timm_backbone" and checkpoint["ctc"]["stage"] == 2
    model = timm.create_model(name, num_classes=2)
    model.load_state_dict(checkpoint["model"])  # strict: exactly timm's keys and shapes
    network, epoch = load_backbone(os.path.join(runs[name], "model_final.pth"))  # what the analyses rebuild
    assert isinstance(network, TimmBackbone) and epoch == 2
    with torch.no_grad():
        images = random_images()
        features = model.forward_head(model.eval().forward_features(images), pre_logits=True)
        assert torch.equal(network.eval().forward_pre_logits(images), features)
        assert torch.equal(network.fc(features), model(images))


def test_resume_from_an_epoch_checkpoint_ends_where_the_whole_run_did(runs, tmp_path):
    whole = runs[LAYER_NORM_NET]
    resumed = str(tmp_path / "resumed")
    os.makedirs(resumed)
    shutil.copy(os.path.join(whole, "model_epoch_0001.pth"), resumed)
    assert pretrain.main(["--resume", *pretrain_args(runs["root"], LAYER_NORM_NET, resumed)]) == 0
    final, reference = (torch.load(os.path.join(f, "model_final.pth"), weights_only=True) for f in (resumed, whole))
    for key, value in reference["model"].items():
        assert torch.equal(final["model"][key], value), key


def test_temporal_transfer_and_mine_read_the_runs(runs):
    output = runs["folder"] / "transfer"
    status = temporal_transfer.main(
        ["--run", runs[BATCH_NORM_NET], "--dataset", "cifar100", "--classes", "2,3", "--steps", "5",
         "--batch-size", "8", "--milestones", "3", "--num-workers", "0", "--output-dir", str(output),
         "--format", "json"]
    )  # fmt: skip
    assert status == 0 and (output / "temporal_transfer.json").is_file()
    status = estimate_mi.main(
        ["--run", runs[LAYER_NORM_NET], "--xt-steps", "3", "--ty-steps", "3", "--batch-size", "8", "--hidden", "16",
         "--num-workers", "0", "--output-dir", str(runs["folder"] / "mi"), "--format", "json"]
    )  # fmt: skip
    assert status == 0 and (runs["folder"] / "mi" / "mutual_information.json").is_file()


@pytest.mark.parametrize("name", NETWORKS)
def test_to_timm_is_verified_and_timms_loader_reads_it(runs, name, tmp_path, capsys):
    output = str(tmp_path / f"{name}_timm.safetensors")
    assert convert_weights.main([os.path.join(runs[name], "model_final.pth"), output, "--to", "timm"]) == 0
    printed = capsys.readouterr().out
    assert f"read a timm {name} from" in printed and verified(printed) == 3
    overlay = dict(file=output, num_classes=2)
    model = timm.create_model(name, pretrained=True, num_classes=2, pretrained_cfg_overlay=overlay).eval()
    network, _ = load_backbone(os.path.join(runs[name], "model_final.pth"))
    with torch.no_grad():
        assert torch.equal(model(random_images()), network.eval()(random_images()))


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORKS)
def test_to_detectron2_is_verified_and_mask_rcnn_trains_on_it(runs, name, tmp_path, capsys):
    weights = str(tmp_path / f"{name}.pkl")
    assert convert_weights.main([os.path.join(runs[name], "model_final.pth"), weights, "--to", "detectron2"]) == 0
    printed = capsys.readouterr().out
    assert verified(printed) == 4  # res2 .. res5
    with open(weights, "rb") as f:
        written = pickle.load(f)
    assert written["backbone"]["model"]["TIMM"]["NAME"] == name  # the record, and nothing else describing the network
    assert not {"timm_name", "ctc_arch", "network"} & set(written)
    datasets = write_tiny_coco(tmp_path / "datasets")
    output = str(tmp_path / "output")
    command = [
        sys.executable, "tools/train_net.py", "--config-file", "configs/coco_maskrcnn_ctc_timm.yaml",
        *TINY_DETECTION, "MODEL.WEIGHTS", weights, "SOLVER.MAX_ITER", "2", "OUTPUT_DIR", output,
    ]  # fmt: skip
    env = dict(os.environ, DETECTRON2_DATASETS=datasets)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(output, "log.txt")) as f:
        log = f.read()
    assert f"MODEL.WEIGHTS holds timm {name}: building that" in log  # the config names convnext_tiny
    missing = missing_from_checkpoint(log)
    assert "backbone.fpn" in missing and "backbone.bottom_up" not in missing
    assert "copypaste: Task: segm" in log


@pytest.mark.parametrize("given", ["the raw checkpoint", "its --to timm file"])
def test_mask_rcnn_takes_a_raw_file_converted_on_the_fly(runs, tmp_path, given):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from ctc_plugin.detection import CTCDetectionCheckpointer, add_ctc_config

    raw = os.path.join(runs[LAYER_NORM_NET], "model_final.pth")
    weights = raw
    if given == "its --to timm file":
        weights = str(tmp_path / "convnext_timm.safetensors")
        assert convert_weights.main([raw, weights, "--to", "timm", "--no-verify"]) == 0
    cfg = add_ctc_config(get_cfg())
    cfg.merge_from_file(os.path.join(REPO, "configs/coco_maskrcnn_ctc_timm.yaml"))
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", weights])
    model = build_model(cfg).eval()
    CTCDetectionCheckpointer(model).load(weights)
    network, _ = load_backbone(raw)
    levels = {info["module"]: None for info in network.model.feature_info}
    hooks = [
        network.model.get_submodule(m).register_forward_hook(lambda _m, _i, o, m=m: levels.__setitem__(m, o))
        for m in levels
    ]
    images = random_images(size=64)
    with torch.no_grad():
        network.eval()(images)
        outputs = model.backbone.bottom_up(images)
    for hook in hooks:
        hook.remove()
    for level, module in zip(["res2", "res3", "res4", "res5"], levels):
        torch.testing.assert_close(outputs[level], levels[module])


@pytest.mark.parametrize("name", NETWORKS)
def test_fgvc_fine_tunes_from_the_raw_checkpoint(runs, name, tmp_path):
    from ctc_plugin.fgvc.trainer import FGVCTrainer

    raw = os.path.join(runs[name], "model_final.pth")
    opts = [
        "MODEL.NAME", name, "MODEL.WEIGHTS", raw, "MODEL.DEVICE", "cpu", "INPUT.SIZE", "64", "SOLVER.EPOCHS", "1",
        "SOLVER.IMS_PER_BATCH", "4", "TEST.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0",
        "DATASETS.ROOT", LAYOUTS["cub200"](str(tmp_path / "data")), "OUTPUT_DIR", str(tmp_path / "out"),
    ]  # fmt: skip
    cfg = merge_config(get_fgvc_cfg(), os.path.join(REPO, "configs", "fgvc", "cub200_r50.yaml"), opts)
    cfg.freeze()
    trainer = FGVCTrainer(cfg)
    source = torch.load(raw, weights_only=True)["model"]
    own = trainer.model.backbone.state_dict()
    head = trainer.model.backbone.pretrained_cfg["classifier"]
    assert all(torch.equal(own[k], v) for k, v in source.items() if not k.startswith(head))  # arrived
    assert own[f"{head}.weight"].shape[0] == NUM_CLASSES  # a new head
    trainer.resume_or_load(resume=False)
    assert 0 <= trainer.train()["top1"] <= 100


@pytest.mark.parametrize("name", NETWORKS)
def test_finetune_fgvc_fine_tunes_from_the_to_timm_file(runs, name, tmp_path, capsys):
    """The converted file carries its network's record, so ctc-finetune-fgvc takes it as it takes the raw checkpoint."""
    from ctc_plugin.cli import finetune_fgvc
    from ctc_plugin.fgvc.model import read_fgvc_weights

    raw = os.path.join(runs[name], "model_final.pth")
    converted = str(tmp_path / f"{name}_timm.pth")
    assert convert_weights.main([raw, converted, "--to", "timm"]) == 0
    from_raw, from_converted = read_fgvc_weights(name, raw), read_fgvc_weights(name, converted)
    assert from_converted.name == name and from_converted.state_dict.keys() == from_raw.state_dict.keys()
    assert all(torch.equal(from_converted.state_dict[k], v) for k, v in from_raw.state_dict.items())
    output = tmp_path / "out"
    status = finetune_fgvc.main(
        ["--config-file", os.path.join(REPO, "configs", "fgvc", "cub200_r50.yaml"), "MODEL.NAME", name,
         "MODEL.WEIGHTS", converted, "MODEL.DEVICE", "cpu", "INPUT.SIZE", "64", "SOLVER.EPOCHS", "1",
         "SOLVER.IMS_PER_BATCH", "4", "TEST.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0",
         "DATASETS.ROOT", LAYOUTS["cub200"](str(tmp_path / "data")), "OUTPUT_DIR", str(output)]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert status == 0, printed.err[-2000:]
    assert "cub200_test: top-1" in printed.out
    final = torch.load(output / "model_final.pth", weights_only=True)
    assert (
        final["backbone"]["model"]["TIMM"]["NAME"] == name and final["backbone"]["model"]["NUM_CLASSES"] == NUM_CLASSES
    )


@pytest.mark.parametrize("name", NETWORKS)
def test_freeze_at_and_frozen_batch_norm_mean_what_they_mean_for_resnets(name):
    from timm.layers.norm_act import FrozenBatchNormAct2d
    from torchvision.ops.misc import FrozenBatchNorm2d

    from ctc_plugin.detection import TimmBottomUp

    levels = ["res2", "res3", "res4", "res5"]
    trained = TimmBottomUp(name, levels, freeze_at=0, norm="BN")
    frozen = TimmBottomUp(name, levels, freeze_at=2, norm="BN")
    frozen.body.load_state_dict(trained.body.state_dict())
    res2 = frozen.level_modules()[frozen._levels["res2"]]
    res3 = frozen.level_modules()[frozen._levels["res3"]]
    names = [key for key, _ in frozen.body.named_parameters()]
    first_trained = next(i for i, key in enumerate(names) if key.startswith(res3 + "."))
    for i, (key, parameter) in enumerate(frozen.body.named_parameters()):
        assert parameter.requires_grad == (i >= first_trained), key  # the stem and res2 frozen, the rest trains
    assert any(k.startswith(res2 + ".") for k, p in frozen.body.named_parameters() if not p.requires_grad)
    kinds = (FrozenBatchNorm2d, FrozenBatchNormAct2d)
    frozen_bn = [m for m in frozen.body.get_submodule(res2).modules() if isinstance(m, kinds)]
    live_bn = [m for m in frozen.body.get_submodule(res3).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if name == BATCH_NORM_NET:
        assert frozen_bn and live_bn  # frozen up to res2, BatchNorm still trains from res3 on
    everything = TimmBottomUp(name, levels, norm="FrozenBN")
    everything.body.load_state_dict(trained.body.state_dict())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in everything.modules())
    images = random_images(size=64)
    with torch.no_grad():
        reference = trained.eval()(images)
        # Frozen statistics whatever the mode: res2 of the frozen network, every level of the all-FrozenBN one.
        torch.testing.assert_close(frozen.train()(images)["res2"], reference["res2"])
        outputs = everything.train()(images)
        for level in levels:
            torch.testing.assert_close(outputs[level], reference[level])


def test_a_new_family_of_timm_networks_reaches_both_hosts_by_its_builder_alone(tmp_path, capsys):
    """The cost of a new backbone family built on timm: one builder, nothing else (no converter)."""
    from ctc_plugin import BACKBONE_REGISTRY
    from ctc_plugin.backbones import backbone_record, build_backbone
    from ctc_plugin.config import get_cfg

    if "build_small_mobile_net" not in BACKBONE_REGISTRY:

        @BACKBONE_REGISTRY.register()
        def build_small_mobile_net(cfg):  # a family of one's own: a width multiplier read from MODEL.DEPTH
            return TimmBackbone(f"mobilenetv3_small_{cfg.MODEL.DEPTH:03d}", cfg.MODEL.NUM_CLASSES)

    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.BACKBONE", "build_small_mobile_net", "MODEL.DEPTH", "50", "MODEL.NUM_CLASSES", "3"])
    network = build_backbone(cfg)
    checkpoint = str(tmp_path / "model_final.pth")
    torch.save({"model": network.state_dict(), "backbone": backbone_record(cfg)}, checkpoint)
    assert convert_weights.main([checkpoint, str(tmp_path / "timm.pth"), "--to", "timm"]) == 0
    assert convert_weights.main([checkpoint, str(tmp_path / "d2.pkl"), "--to", "detectron2"]) == 0
    assert verified(capsys.readouterr().out) == 3 + 4


def test_a_network_that_cannot_take_the_input_size_is_refused_before_anything_is_written(runs, tmp_path, capsys):
    """A ViT's patch grid is fixed at 224 px: one line naming the backbone and INPUT.SIZE, before training."""
    output = tmp_path / "vit"
    args = pretrain_args(runs["root"], "vit_tiny_patch16_224", str(output))
    assert pretrain.main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "pretrain: error: backbone build_timm_backbone cannot take 32x32 images (INPUT.SIZE): "
        "Input height (32) doesn't match model (224)."
    )
    assert not output.exists() or not any(output.iterdir())
