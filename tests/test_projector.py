"""The expendable-projector arm (t-ReX* / SL-MLP): the head, its training alone and beside CTC's
terms, exact resume, and conversion, which never sees the projector or its classifier."""

import gzip
import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from detectron2.engine import launch
from detectron2.utils import comm
from fixtures.datasets import write_tiny_cifar100
from rank_dump import rank_state
from torch import nn

from ctc_plugin.backbones import ResNet, build_backbone
from ctc_plugin.checkpoint.files import LAST_CHECKPOINT
from ctc_plugin.cli import convert_weights, pretrain
from ctc_plugin.config import get_cfg
from ctc_plugin.config.checks import check_pretrain_values
from ctc_plugin.engine import CTCTrainer
from ctc_plugin.modeling import ProjectorClassifier, build_ctc
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "pretrain", "fashion_mnist_r18_projector.yaml")
# The head's state: one hidden block (Linear, BatchNorm1d), the Linear to 256, the class prototypes.
HEAD_KEYS = {
    "projector.0.weight", "projector.0.bias", "projector.1.weight", "projector.1.bias", "projector.1.running_mean",
    "projector.1.running_var", "projector.1.num_batches_tracked", "projector.3.weight", "classifier.weight",
}  # fmt: skip


# ---- the head ------------------------------------------------------------------------------------
def test_the_head_is_t_rex_stars_projector_and_cosine_classifier():
    torch.manual_seed(0)
    head = ProjectorClassifier(512, 10)
    layers = list(head.projector)
    assert [type(m) for m in layers] == [nn.Linear, nn.BatchNorm1d, nn.GELU, nn.Linear]
    assert (layers[0].in_features, layers[0].out_features, layers[1].num_features) == (512, 2048, 2048)
    assert (layers[3].in_features, layers[3].out_features, layers[3].bias) == (2048, 256, None)
    assert dict(head.classifier.named_parameters()).keys() == {"weight"}  # no bias
    assert head.classifier.weight.shape == (10, 256) and head.classifier.temperature == 0.1
    assert set(head.state_dict()) == HEAD_KEYS
    for weight in (layers[0].weight, layers[3].weight, head.classifier.weight):
        assert weight.std().item() == pytest.approx(0.02, abs=1e-3) and abs(weight.mean().item()) < 1e-3
        assert weight.abs().max() <= 2.0  # truncated at +-2
    assert torch.count_nonzero(layers[0].bias) == 0


@pytest.mark.parametrize("hidden_layers, linears", [(0, [(64, 16)]), (3, [(64, 32), (32, 32), (32, 32), (32, 16)])])
def test_the_number_of_hidden_blocks_is_a_setting(hidden_layers, linears):
    head = ProjectorClassifier(64, 5, hidden_dim=32, out_dim=16, hidden_layers=hidden_layers)
    found = [(m.in_features, m.out_features) for m in head.projector if isinstance(m, nn.Linear)]
    assert found == linears and sum(isinstance(m, nn.BatchNorm1d) for m in head.projector) == hidden_layers
    assert head.projector[-1].bias is None


def test_logits_are_cosines_over_the_temperature():
    torch.manual_seed(0)
    head = ProjectorClassifier(64, 5, hidden_dim=32, out_dim=16).eval()
    features = 50 * torch.randn(8, 64)
    logits = head(features)
    projected = head.projector(F.normalize(features, dim=1))
    cosines = F.normalize(projected, dim=1) @ F.normalize(head.classifier.weight, dim=1).t()
    assert logits.shape == (8, 5) and torch.allclose(logits, cosines / 0.1, atol=1e-5)
    assert logits.abs().max() <= 1 / 0.1 + 1e-4
    assert torch.allclose(head(3 * features), logits, atol=1e-5)  # the input is L2-normalised first


# ---- the head inside CTC ---------------------------------------------------------------------------
def _cfg(*opts):
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.NUM_CLASSES", 3, "CTC.IRS.NUM_NEGATIVES", 4, *opts])
    return cfg


def _batch(targets):
    return (torch.randn(6, 3, 32, 32), targets[:6], torch.arange(6), torch.zeros(6, dtype=torch.long))


def test_the_default_head_is_the_backbones_own_fc_as_before():
    torch.manual_seed(0)
    targets = torch.arange(12) % 3
    cfg = _cfg()
    ctc = build_ctc(cfg, build_backbone(cfg), targets, torch.device("cpu"))
    assert ctc.classifier_head is None and ctc.classifying_network() is ctc.backbone
    terms = [p for term in ctc.terms.values() for p in term.head_parameters()]
    assert [id(p) for p in ctc.trainable_parameters()] == [id(p) for p in [*ctc.backbone.parameters(), *terms]]
    assert "classifier_head" not in ctc.method_state_dict()
    batch = _batch(targets)
    loss = ctc(batch)["loss_cls"]
    assert torch.equal(loss, F.cross_entropy(ctc.backbone(batch[0]), batch[1]))  # bitwise today's loss


def test_the_projector_trains_beside_ctcs_terms_and_stays_out_of_the_backbone():
    torch.manual_seed(0)
    targets = torch.arange(12) % 3
    cfg = _cfg("CTC.CLASSIFIER_HEAD", "build_projector_head", "CTC.ALPHA", 0.5)
    backbone = build_backbone(cfg)
    ctc = build_ctc(cfg, backbone, targets, torch.device("cpu"))
    head = ctc.classifier_head
    assert isinstance(head, ProjectorClassifier) and head.classifier.weight.shape == (3, 256)
    trainable = {id(p) for p in ctc.trainable_parameters()}
    assert all(id(p) in trainable for p in head.parameters())
    assert not any(id(p) in trainable or p.requires_grad for p in backbone.fc.parameters())  # unused, frozen

    losses = ctc(_batch(targets))
    assert set(losses) == {"loss_cls", "loss_ias"} and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in head.parameters()) and backbone.fc.weight.grad is None
    assert backbone.layer4[0].conv1.weight.grad is not None
    ctc.enter_stage(2)
    assert set(ctc(_batch(targets))) == {"loss_cls", "loss_irs"}

    assert not any(key.startswith(("projector", "classifier")) for key in backbone.state_dict())
    assert set(ctc.method_state_dict()["classifier_head"]) == HEAD_KEYS
    images = torch.randn(2, 3, 32, 32)
    ctc.eval()
    assert torch.equal(ctc.classifying_network()(images), head(backbone.forward_pre_logits(images)))


def test_an_unknown_head_is_named_before_training():
    cfg = _cfg("CTC.CLASSIFIER_HEAD", "build_mlp_head")
    with pytest.raises(UserError, match="CTC.CLASSIFIER_HEAD 'build_mlp_head' must name a head in CLASSIFIER_HEAD"):
        check_pretrain_values(cfg, num_train_images=12)
    with pytest.raises(UserError, match="registered: build_linear_head, build_projector_head"):
        build_ctc(cfg, build_backbone(cfg), torch.arange(12) % 3, torch.device("cpu"))
    with pytest.raises(UserError, match="CTC.PROJECTOR.TEMPERATURE 0.0 must be positive"):
        check_pretrain_values(_cfg("CTC.PROJECTOR.TEMPERATURE", 0.0), num_train_images=12)


# ---- end to end on a tiny Fashion-MNIST ------------------------------------------------------------
def _write_idx(path: str, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory):
    """Debian's layout; each class has its own brightness, so a few steps learn something."""
    root = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 160), ("t10k", 40)):  # 16 and 4 images of each of the 10 classes
        labels = np.arange(count) % 10
        images = np.clip(labels[:, None, None] * 40 + rng.integers(0, 40, (count, 28, 28)), 0, 255)
        _write_idx(str(root / f"{prefix}-images-idx3-ubyte.gz"), images)
        _write_idx(str(root / f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return str(root)


def _pretrain(root, output, *opts, flags=()) -> int:
    # The config keeps classes 0-4: 80 training images, 5 iterations of 16 per epoch.
    argv = [*flags, "--config-file", CONFIG, "DATASETS.ROOT", root, "OUTPUT_DIR", str(output)]
    return pretrain.main(
        argv + ["SOLVER.IMS_PER_BATCH", "16", "TEST.IMS_PER_BATCH", "20", "TRAINER.LOG_PERIOD", "1", *opts]
    )


def _load(path):
    return torch.load(path, weights_only=True)


def test_the_arm_trains_and_converts_without_its_head(tmp_path, fashion_root, capsys):
    assert _pretrain(fashion_root, tmp_path, "SOLVER.IAS_EPOCHS", "3") == 0
    with open(tmp_path / "metrics.json") as f:
        metrics = [json.loads(line) for line in f]
    losses = [m["total_loss"] for m in metrics if "total_loss" in m]  # loss_cls alone: the baseline arm
    assert len(losses) == 15 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    assert sum("test/top1" in m for m in metrics) == 3  # the projector's classifier is evaluated

    checkpoint = _load(tmp_path / "model_final.pth")
    ResNet(18, stem="imagenet", num_classes=5).load_state_dict(checkpoint["model"])  # the backbone alone, strict
    assert not any(key.startswith(("projector", "classifier")) for key in checkpoint["model"])
    assert set(checkpoint["ctc"]["classifier_head"]) == HEAD_KEYS
    assert checkpoint["resume_settings"] == {"CTC.CLASSIFIER_HEAD": "build_projector_head"}  # besides the record
    assert "network" not in checkpoint  # the record is the only description of the network
    first = _load(tmp_path / "model_epoch_0001.pth")["model"]
    assert torch.equal(first["fc.weight"], checkpoint["model"]["fc.weight"])  # the unused fc is frozen
    assert not torch.equal(first["layer4.1.conv2.weight"], checkpoint["model"]["layer4.1.conv2.weight"])

    head_shapes = {tuple(v.shape) for k, v in checkpoint["ctc"]["classifier_head"].items() if v.dim() == 2}
    timm_file, detectron2_file = str(tmp_path / "r18_timm.pth"), str(tmp_path / "r18.pkl")
    for output, target in ((timm_file, "timm"), (detectron2_file, "detectron2")):
        assert convert_weights.main([str(tmp_path / "model_final.pth"), output, "--to", target]) == 0
        printed = capsys.readouterr().out  # checked by computation, as any conversion
        assert "max relative difference" in printed and f"wrote {output}" in printed
    timm_weights = _load(timm_file)["state_dict"]  # beside "meta": where the weights came from
    assert "layer4.1.conv2.weight" in timm_weights and set(timm_weights) <= set(checkpoint["model"])
    assert not head_shapes & {tuple(v.shape) for v in timm_weights.values()}
    with open(detectron2_file, "rb") as f:
        detectron2_weights = pickle.load(f)["model"]
    assert all(key.startswith(("stem.", "res")) for key in detectron2_weights)
    assert not head_shapes & {tuple(v.shape) for v in detectron2_weights.values()}


def _assert_equal(expected, actual, where="") -> None:
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), where
        for key in expected:
            _assert_equal(expected[key], actual[key], f"{where}.{key}")
    elif torch.is_tensor(expected):
        assert torch.equal(expected, actual), where
    else:
        assert expected == actual, where


def test_resume_beside_ctcs_terms_is_bitwise_the_uninterrupted_run(tmp_path, fashion_root):
    schedule = ("SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1", "CTC.ALPHA", "0.5", "CTC.BETA", "1.0",
                "CTC.IRS.NUM_NEGATIVES", "16")  # fmt: skip
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert _pretrain(fashion_root, reference, *schedule) == 0
    resumed.mkdir()  # as if stopped after epoch 1: its checkpoint alone
    shutil.copy(reference / "model_epoch_0001.pth", resumed / "model_epoch_0001.pth")
    (resumed / LAST_CHECKPOINT).write_text("model_epoch_0001.pth")
    assert _pretrain(fashion_root, resumed, *schedule, flags=("--resume",)) == 0

    expected, actual = _load(reference / "model_final.pth"), _load(resumed / "model_final.pth")
    assert expected["ctc"]["stage"] == 2 and set(expected["ctc"]["terms"]) == {"ias", "irs"}
    _assert_equal(expected["model"], actual["model"], "model")
    _assert_equal(expected["ctc"], actual["ctc"], "ctc")  # the projector, its classifier, heads, memories, bank


def _train_and_dump(cfg, folder: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(cfg.SEED + comm.get_rank())  # different initial weights: DDP must broadcast
    trainer = CTCTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    torch.save(rank_state(trainer.ctc), os.path.join(folder, f"rank{comm.get_rank()}.pth"))


@pytest.mark.slow
def test_two_processes_train_the_projector_without_waiting_for_the_unused_fc(tmp_path):
    root = write_tiny_cifar100(str(tmp_path / "data"), num_train=64, num_test=8)
    cfg = get_cfg()
    cfg.merge_from_list(
        ["MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "DATASETS.ROOT", root, "SOLVER.IMS_PER_BATCH", "16",
         "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1", "CTC.IRS.NUM_NEGATIVES", "32", "CTC.ALPHA", "0.5",
         "DATALOADER.NUM_WORKERS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0", "OUTPUT_DIR", str(tmp_path / "run"),
         "CTC.CLASSIFIER_HEAD", "build_projector_head", "CTC.PROJECTOR.HIDDEN_DIM", "64"]
    )  # fmt: skip
    cfg.freeze()
    launch(_train_and_dump, 2, dist_url="auto", args=(cfg, str(tmp_path)))
    rank0 = _load(tmp_path / "rank0.pth")
    rank1 = _load(tmp_path / "rank1.pth")
    assert any(key.startswith("classifier_head.projector.") for key in rank0)
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[key], rank1[key]) for key in rank0)
