"""Fidelity to the paper and to the authors' release: three fixed bugs, the release's network, recipes
and protocols. Each row of docs/fidelity.md names the test here (or elsewhere) that covers it."""

import json
import os

import numpy as np
import pytest
import torch
from fixtures.datasets import write_stl10, write_tiny_cifar100
from fixtures.networks import random_resnet, save_pretrain_checkpoint
from torch import nn
from torchvision import transforms as T

from ctc_plugin.analysis.linear_probe import ProbeSchedule
from ctc_plugin.analysis.mine import MINE_PROTOCOLS, MineNetwork, _initialise, estimate_mutual_information
from ctc_plugin.analysis.release_probe import ReleaseProbe, release_probe_accuracy
from ctc_plugin.backbones import RESNEXT_VARIANTS, CifarResNeXt, build_backbone
from ctc_plugin.cli import pretrain, temporal_transfer
from ctc_plugin.config import get_cfg, merge_config
from ctc_plugin.data import NORMALIZATION, Cutout, build_dataset, build_transform
from ctc_plugin.data.release_autoaugment import ReleaseCIFAR10Policy
from ctc_plugin.data.samples import IndexedSamples
from ctc_plugin.engine.stages import build_lr_multiplier

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(REPO, "configs", "pretrain", "release")
IMAGENET_MEAN, IMAGENET_STD = NORMALIZATION["imagenet"]


# ---- bug 1: the learning rate switches at exactly the first stage-2 iteration -------------------
@pytest.mark.parametrize("images_per_epoch", [1_281_167, 2_562_334, 50_000])
def test_stage_two_starts_at_exactly_its_first_iteration_at_any_length(images_per_epoch):
    cfg = merge_config(get_cfg(), os.path.join(REPO, "configs/pretrain/imagenet_r50_ctc.yaml"), [])
    per_epoch = images_per_epoch // cfg.SOLVER.IMS_PER_BATCH  # ImageNet: 5004, 1,000,800 iterations in all
    max_iter = (cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS) * per_epoch
    first = cfg.SOLVER.IAS_EPOCHS * per_epoch
    multiplier = build_lr_multiplier(cfg, per_epoch)
    at = lambda iteration: multiplier(iteration / max_iter)  # what Detectron2's LRMultiplier asks  # noqa: E731
    assert at(0) == 1.0
    assert 0 < at(first - 1) < 1e-6  # the last stage-1 iteration: the end of the first cosine
    assert at(first) == pytest.approx(cfg.SOLVER.IRS_LR_FACTOR, rel=1e-12)  # the restart, not a step early
    assert at(max_iter - 1) < 1e-6 * cfg.SOLVER.IRS_LR_FACTOR


def test_warm_up_and_floor_are_the_release_baseline_s():
    cfg = merge_config(get_cfg(), os.path.join(RELEASE, "cifar100_resnext32_16x4d_vanilla.yaml"), [])
    per_epoch = 781
    multiplier = build_lr_multiplier(cfg, per_epoch)
    max_iter = cfg.SOLVER.IAS_EPOCHS * per_epoch
    warm = 5 * per_epoch
    # The release's steps: epoch e (from 0) of the warm-up runs at (e + 1) / 5 throughout.
    for epoch in range(5):
        for iteration in (epoch * per_epoch, (epoch + 1) * per_epoch - 1):
            assert multiplier(iteration / max_iter) == pytest.approx((epoch + 1) / 5), iteration
    assert multiplier(warm / max_iter) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * warm / max_iter)))
    assert multiplier((max_iter - 1) / max_iter) == pytest.approx(0.1, abs=1e-5)  # the cosine's floor
    cfg.defrost()
    cfg.SOLVER.WARMUP_SHAPE = "linear_iter"  # the per-iteration ramp
    multiplier = build_lr_multiplier(cfg, per_epoch)
    assert multiplier(0) == pytest.approx(1 / warm)  # linear from 1/warm-up ...
    assert multiplier((warm // 2) / max_iter) == pytest.approx(0.5, abs=2e-3)  # ... through a half ...
    assert multiplier(warm / max_iter) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * warm / max_iter)))


# ---- bug 2: a probe feeds the network the normalisation it was trained with --------------------
def test_temporal_transfer_normalises_the_target_as_the_network_was_trained(tmp_path, capsys):
    run = tmp_path / "imagenet_run"
    run.mkdir()
    cfg = get_cfg()  # pretrained on ImageNet-style images, probed on STL-10 (whose style is CIFAR's)
    cfg.DATASETS.TRAIN, cfg.INPUT.SIZE = "imagenet_train", 64
    cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD = list(IMAGENET_MEAN), list(IMAGENET_STD)
    (run / "config.yaml").write_text(cfg.dump())
    network = random_resnet(18, stem="imagenet", num_classes=10)
    save_pretrain_checkpoint(network, run / "model_final.pth")
    images = write_stl10(tmp_path / "data", n_train=4, n_test=2)
    argv = ["--run", str(run), "--dataset", "stl10", "--root", str(tmp_path / "data"), "--steps", "2"]
    argv += ["--batch-size", "2", "--num-workers", "0", "--cache-dir", str(tmp_path / "cache")]
    assert temporal_transfer.main(argv + ["--output-dir", str(tmp_path / "out")]) == 0
    (cached,) = [name for name in os.listdir(tmp_path / "cache") if name.endswith("train.pt")]
    features = torch.load(tmp_path / "cache" / cached, weights_only=True)["features"]
    expected_view = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])  # 96 px, the run's statistics
    with torch.no_grad():
        batch = torch.stack([expected_view(image) for image in images["train"]])
        assert torch.allclose(features, network.forward_pre_logits(batch), atol=1e-5)
    # The release protocol feeds STL-10 with CIFAR-100's statistics: wrong for this run, refused.
    release = (
        argv[:6] + argv[8:] + ["--protocol", "release", "--probe-epochs", "1", "--output-dir", str(tmp_path / "rel")]
    )
    assert temporal_transfer.main(release) == 2
    assert "normalises stl10 with CIFAR-100's statistics" in capsys.readouterr().err
    assert not (tmp_path / "rel" / "temporal_transfer.csv").exists()


def test_training_records_the_normalisation_it_used(tmp_path):
    from ctc_plugin.engine import CTCTrainer

    root = write_tiny_cifar100(str(tmp_path), num_train=16, num_test=8)
    cfg = get_cfg()
    cfg.DATASETS.ROOT = root
    completed = CTCTrainer.complete_config(cfg, build_dataset("cifar100_train", root))
    assert (completed.INPUT.PIXEL_MEAN, completed.INPUT.PIXEL_STD) == tuple(list(v) for v in NORMALIZATION["cifar"])


# ---- bug 3: MINE's default reports no information where there is none --------------------------
MINE_SETTINGS = dict(steps=600, batch_size=500, lr=1e-3, hidden=128, layers=3, device="cpu")


def test_mine_default_reports_no_information_in_independent_data():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(2000, 5, generator=g), torch.randn(2000, 5, generator=g)  # I(X;Y) = 0
    default = estimate_mutual_information(x, y, seed=0, **MINE_SETTINGS)
    on_training_rows = estimate_mutual_information(x, y, seed=0, protocol=MINE_PROTOCOLS["appendix"], **MINE_SETTINGS)
    assert default < 0.02 < on_training_rows  # the paper's practice scores the pairs it memorised


def test_mine_release_protocol_is_the_release_estimator():
    torch.set_num_threads(1)
    net = MineNetwork(6, 4, hidden=64, layers=4)
    _initialise(net, 0.02)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert all(abs(m.weight.std().item() - 0.02) < 0.004 and not m.bias.any() for m in linears[:3])
    assert linears[3].weight.std().item() > 0.05  # the last layer keeps PyTorch's initialisation
    release = MINE_PROTOCOLS["release"]
    assert (release.holdout, release.estimate, release.window, release.marginal) == (
        0,
        "moving_average",
        500,
        "independent",
    )
    assert release.without_replacement and not release.standardize and release.ema_start == 1.0
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, 2, generator=g)
    y = 0.8 * x + 0.6 * torch.randn(20000, 2, generator=g)  # I = -log(1 - 0.64) = 1.02 nats
    settings = dict(MINE_SETTINGS, steps=1500, layers=4)
    estimate = estimate_mutual_information(x, y, seed=0, protocol=MINE_PROTOCOLS["release"], **settings)
    assert abs(estimate - 1.0217) < 0.2


# ---- the release's network ------------------------------------------------------------------------
def resnext_parameters(cardinality: int, depth: int, base_width: int, widen_factor: int, classes: int) -> int:
    """Parameters of models/resnext.py's CifarResNeXt, counted from its definition."""
    widths = [32, 32 * widen_factor, 64 * widen_factor, 128 * widen_factor]
    total = 3 * 32 * 9 + 2 * 32  # 3x3 stem conv, BN
    for stage in range(3):
        for block in range((depth - 2) // 6):
            c_in, c_out = widths[stage] if block == 0 else widths[stage + 1], widths[stage + 1]
            d = cardinality * int(base_width * c_out / (widen_factor * 64))
            total += c_in * d + 2 * d + (d // cardinality) * d * 9 + 2 * d + d * c_out + 2 * c_out
            total += (c_in * c_out + 2 * c_out) if c_in != c_out else 0  # the 1x1 projection shortcut
    return total + widths[3] * classes + classes


@pytest.mark.parametrize("name", sorted(RESNEXT_VARIANTS))
def test_resnext_is_the_release_s(name):
    cardinality, depth, base_width, widen = RESNEXT_VARIANTS[name]
    network = CifarResNeXt(cardinality, depth, base_width, widen, num_classes=100)
    expected = resnext_parameters(cardinality, depth, base_width, widen, 100)
    assert sum(p.numel() for p in network.parameters()) == expected
    published = {"resnext32_4x16d": 1_293_444, "resnext32_8x8d": 1_172_484, "resnext32_16x4d": 1_112_004}
    assert expected == published.get(name, 1_081_764)
    assert network.num_features == 512 and network.forward_pre_logits(torch.randn(2, 3, 32, 32)).shape == (2, 512)
    groups = {m.groups for m in network.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)}
    assert groups == {1, cardinality}  # the stem, and every bottleneck's grouped conv


def test_resnext_is_built_through_the_registry():
    cfg = merge_config(get_cfg(), os.path.join(RELEASE, "cifar100_resnext32_16x4d_ctc_transfer.yaml"), [])
    cfg.MODEL.NUM_CLASSES = 100
    network = build_backbone(cfg)
    assert isinstance(network, CifarResNeXt) and sum(p.numel() for p in network.parameters()) == 1_112_004


# ---- the release's recipes ----------------------------------------------------------------------
# The three command lines of the release's README, flag by flag, and the keys they set.
COMMON = {
    "--model resnext32_16x4d": {"MODEL.BACKBONE": "build_cifar_resnext", "MODEL.DEPTH": 32,
                                "MODEL.RESNEXT.CARDINALITY": 16, "MODEL.RESNEXT.BASE_WIDTH": 4,
                                "MODEL.RESNEXT.WIDEN_FACTOR": 4},
    "--dataset cifar100": {"DATASETS.TRAIN": "cifar100_train"},
    "--momentum 0.9": {"SOLVER.MOMENTUM": 0.9},
    "--learning_rate 0.05": {"SOLVER.BASE_LR": 0.05},
    "--batch_size 64": {"SOLVER.IMS_PER_BATCH": 64},
    "--weight_decay 0.0005": {"SOLVER.WEIGHT_DECAY": 0.0005},
    "--save_freq 2": {"SOLVER.CHECKPOINT_PERIOD_EPOCHS": 2},
    "(augmentation not passed)": {"INPUT.AUTO_AUGMENT": False, "INPUT.CUTOUT": 0},
}  # fmt: skip
CTC_COMMON = {
    "--epochs 300 --stage_two_epoch 200": {"SOLVER.IAS_EPOCHS": 200, "SOLVER.IRS_EPOCHS": 100},
    "--weight_decay_coef 2.0": {"SOLVER.IAS_WEIGHT_DECAY_COEF": 2.0},
    "-b 1.0": {"CTC.BETA": 1.0},
    "--instance_m 0.9": {"CTC.IAS.MOMENTUM": 0.9},
    "--nce_m 0.9": {"CTC.IRS.MOMENTUM": 0.9},
    "--update_memory_bank": {"CTC.IRS.REFILL_MEMORY": True, "CTC.IRS.REFILL_AUGMENT": True},
    "(defaults) --nce_k 16384 --mode exact --stage_two_decay_rate 0.1": {
        "CTC.IRS.NUM_NEGATIVES": 16384, "CTC.IRS.NEGATIVES": "other_classes", "SOLVER.IRS_LR_FACTOR": 0.1},
    "(the IAS projector is not in the optimiser)": {"CTC.IAS.TRAIN_HEAD": False, "CTC.IAS.NUM_NEGATIVES": 0},
    "(no warm-up, no floor)": {"SOLVER.WARMUP_EPOCHS": 0, "SOLVER.COSINE_FLOOR": 0.0},
}  # fmt: skip
RECIPES = {
    "cifar100_resnext32_16x4d_vanilla.yaml": {
        **COMMON,
        "--epochs 200": {"SOLVER.IAS_EPOCHS": 200, "SOLVER.IRS_EPOCHS": 0, "CTC.ALPHA": 0.0, "CTC.BETA": 0.0},
        "(defaults) --min_lr_scale 0.1, warm_up_epochs=5": {"SOLVER.COSINE_FLOOR": 0.1, "SOLVER.WARMUP_EPOCHS": 5,
                                                              "SOLVER.WARMUP_SHAPE": "release_epoch"},
    },
    "cifar100_resnext32_16x4d_ctc_transfer.yaml": {
        **COMMON, **CTC_COMMON,
        "-a 0.5": {"CTC.ALPHA": 0.5},
        "--instance_t 0.10": {"CTC.IAS.TEMPERATURE": 0.1},
        "--nce_t 0.10": {"CTC.IRS.TEMPERATURE": 0.1},
    },
    "cifar100_resnext32_16x4d_ctc_discrim.yaml": {
        **COMMON, **CTC_COMMON,
        "-a 0.1": {"CTC.ALPHA": 0.1},
        "--instance_t 0.50": {"CTC.IAS.TEMPERATURE": 0.5},
        "--nce_t 0.40": {"CTC.IRS.TEMPERATURE": 0.4},
    },
}  # fmt: skip


def value(cfg, key: str):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_release_recipes_resolve_to_the_readme_s_flags(recipe):
    cfg = merge_config(get_cfg(), os.path.join(RELEASE, recipe), [])
    for flag, keys in RECIPES[recipe].items():
        for key, expected in keys.items():
            assert value(cfg, key) == expected, (flag, key)
    text = open(os.path.join(RELEASE, recipe)).read()
    keys = [line for line in text.splitlines() if ": " in line and not line.startswith(("#", "_BASE_"))]
    assert keys and all("#" in line for line in keys)  # every key says the flag it comes from


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_release_recipes_pretrain_one_plus_one_epochs(tmp_path, recipe):
    root = write_tiny_cifar100(str(tmp_path / "data"), num_train=32, num_test=8)
    epochs = ["SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "0" if "vanilla" in recipe else "1"]
    argv = ["--config-file", os.path.join(RELEASE, recipe), "MODEL.DEVICE", "cpu", "DATASETS.ROOT", root]
    argv += ["INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "8", "CTC.IRS.NUM_NEGATIVES", "16", *epochs]
    argv += ["SOLVER.CHECKPOINT_PERIOD_EPOCHS", "1", "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", str(tmp_path / "run")]
    assert pretrain.main(argv) == 0
    checkpoint = torch.load(tmp_path / "run" / "model_final.pth", weights_only=True)
    assert checkpoint["backbone"]["builder"] == "build_cifar_resnext"
    with open(tmp_path / "run" / "metrics.json") as f:
        logged = {key for line in f for key in json.loads(line)}
    assert ("loss_irs" in logged) == ("vanilla" not in recipe)


def test_release_refill_embeds_with_the_training_augmentation(tmp_path):
    from ctc_plugin.engine import CTCTrainer

    root = write_tiny_cifar100(str(tmp_path / "data"), num_train=32, num_test=8)
    for augment in (True, False):
        cfg = merge_config(get_cfg(), os.path.join(RELEASE, "cifar100_resnext32_16x4d_ctc_transfer.yaml"), [])
        cfg.merge_from_list(["MODEL.DEVICE", "cpu", "DATASETS.ROOT", root, "SOLVER.IMS_PER_BATCH", "8"])
        cfg.merge_from_list(["DATALOADER.NUM_WORKERS", "0"])
        cfg.merge_from_list(["CTC.IRS.REFILL_AUGMENT", str(augment), "OUTPUT_DIR", str(tmp_path / "run")])
        cfg.merge_from_list(["INPUT.AUTO_AUGMENT", str(augment), "INPUT.AUTO_AUGMENT_POLICY", "release"])
        trainer = CTCTrainer(cfg)
        policies = [step for step in trainer.train_transform.transforms if isinstance(step, ReleaseCIFAR10Policy)]
        assert len(policies) == int(augment)  # INPUT.AUTO_AUGMENT_POLICY reaches the training transform
        expected = trainer.train_transform if augment else trainer.test_transform
        refill = trainer.build_refill_loader().dataset
        assert refill.transform is expected
        if augment:  # the refill's crop and flip come from a stream of their own, not epoch 0's
            training = IndexedSamples(trainer.train_set, trainer.train_transform, seed=cfg.SEED)
            same = [torch.equal(refill[i][0], training[(i, 0, 0)][0]) for i in range(16)]
            assert sum(same) <= 2, same


def test_cutout_zeroes_one_square_after_autoaugment():
    view = build_transform("cifar", True, 32, auto_augment=True, cutout=16)
    names = [type(step).__name__ for step in view.transforms]
    assert names == ["Resize", "RandomCrop", "RandomHorizontalFlip", "AutoAugment", "ToTensor", "Cutout", "Normalize"]
    torch.manual_seed(0)
    image = Cutout(16)(torch.ones(3, 32, 32))
    holes = (image == 0).all(0)
    rows, cols = holes.any(1).nonzero(), holes.any(0).nonzero()
    assert 0 < holes.sum() <= 256 and holes.sum() == (rows.numel() * cols.numel())  # one axis-aligned square


# ---- the release's temporal-transfer protocol -------------------------------------------------------
def test_release_probe_trains_a_copy_in_train_mode_and_reports_the_best_epoch(tmp_path):
    write_stl10(tmp_path, n_train=8, n_test=4)
    train, test = build_dataset("stl10_train", str(tmp_path)), build_dataset("stl10_test", str(tmp_path))
    network = random_resnet(18, stem="cifar", num_classes=10)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    view = build_transform("cifar", False, 32)
    settings = ReleaseProbe(epochs=3, batch_size=4)
    top1 = release_probe_accuracy(network, train, test, view, 10, settings, device="cpu")
    assert 0.0 <= top1 <= 1.0
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())  # a copy was probed


CINIC_MEAN, CINIC_STD = (0.47889522, 0.47227842, 0.43047404), (0.24205776, 0.23828046, 0.25874835)


def write_cinic(folder) -> None:
    """Two classes of plain-coloured 32 px images: 2 per class in train and test, 3 in valid."""
    from PIL import Image

    for split in ("train", "valid", "test"):
        for name in ("airplane", "truck"):
            (folder / split / name).mkdir(parents=True)
            for i in range(3 if split == "valid" else 2):
                colour = (200, 10, 10) if name == "airplane" else (10, 10, 200)
                Image.new("RGB", (32, 32), colour).save(folder / split / name / f"{i}.png")


def test_temporal_transfer_release_protocol_reads_cinic_valid_at_32_pixels(tmp_path):
    write_cinic(tmp_path / "cinic")
    run = tmp_path / "run"
    run.mkdir()
    cfg = get_cfg()
    (run / "config.yaml").write_text(cfg.dump())
    save_pretrain_checkpoint(random_resnet(18, stem="cifar", num_classes=100), run / "model_final.pth")
    argv = ["--run", str(run), "--dataset", "cinic10", "--root", str(tmp_path / "cinic"), "--protocol", "release"]
    argv += ["--probe-epochs", "2", "--batch-size", "4", "--num-workers", "0", "--format", "json"]
    assert temporal_transfer.main(argv + ["--output-dir", str(tmp_path / "out")]) == 0
    (row,) = json.loads((tmp_path / "out" / "temporal_transfer.json").read_text())
    assert (row["protocol"], row["image_size"], row["test_images"], row["steps"]) == ("release", 32, 6, 2)
    assert temporal_transfer.main(argv + ["--steps", "5", "--output-dir", str(tmp_path / "x")]) == 2  # not its flag


def test_estimate_mi_release_protocol_is_the_release_s_on_cinic(tmp_path, monkeypatch):
    from ctc_plugin.cli import estimate_mi

    write_cinic(tmp_path / "cinic")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(get_cfg().dump())  # a CIFAR-100 run
    save_pretrain_checkpoint(random_resnet(18, stem="cifar", num_classes=100), run / "model_final.pth")
    calls, views = [], []

    def estimate(x, y, **settings):  # what mine.py would be given
        calls.append((x, settings))
        return 0.0

    def extract(network, dataset, transform, **kwargs):
        views.append(next(step for step in transform.transforms if isinstance(step, T.Normalize)))
        return extract_features(network, dataset, transform, **kwargs)

    extract_features = estimate_mi.extract_features
    monkeypatch.setattr(estimate_mi, "estimate_mutual_information", estimate)
    monkeypatch.setattr(estimate_mi, "extract_features", extract)
    argv = ["--run", str(run), "--dataset", "cinic10_test", "--root", str(tmp_path / "cinic"), "--protocol", "release"]
    argv += ["--num-workers", "0", "--format", "json", "--output-dir", str(tmp_path / "out")]
    assert estimate_mi.main(argv) == 0
    (row,) = json.loads((tmp_path / "out" / "mutual_information.json").read_text())
    assert (row["dataset"], row["samples"]) == ("cinic10_valid", 6)  # the release's test loader reads valid/
    assert all(list(view.mean) == list(CINIC_MEAN) and list(view.std) == list(CINIC_STD) for view in views)
    (x, xt), (_, ty) = calls
    red = (200 / 255 - CINIC_MEAN[0]) / CINIC_STD[0]  # X normalised with CINIC's statistics too
    assert torch.allclose(x[:3, 0], torch.full((3,), red), atol=1e-5) or torch.allclose(x[3:, 0], torch.full((3,), red))
    assert (xt["lr"], ty["lr"]) == (8e-5, 1e-5)  # the README's I(X;T) learning rate
    assert estimate_mi.parse_args(["--run", str(run)]).xt_lr == 1e-4  # the appendix's by default


def test_appendix_probe_defaults_are_the_appendix_s():
    assert ProbeSchedule() == ProbeSchedule(15000, 512, 0.4, (5000, 10000), 0.1, 0.9, 0.0, 0)


@pytest.mark.parametrize(
    "config, iterations, steps",
    [("coco_maskrcnn_ctc.yaml", 180000, (120000, 160000)), ("coco_maskrcnn_ctc_1x.yaml", 90000, (60000, 80000))],
)
def test_coco_schedules_are_the_paper_s_and_detectron2_s_1x(config, iterations, steps):
    from detectron2.config import get_cfg as detectron2_cfg

    from ctc_plugin.detection import add_ctc_config

    cfg = merge_config(add_ctc_config(detectron2_cfg()), os.path.join(REPO, "configs", config), [])
    assert (cfg.SOLVER.MAX_ITER, tuple(cfg.SOLVER.STEPS), cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR) == (
        iterations,
        steps,
        16,
        0.02,
    )
    header = open(os.path.join(REPO, "configs", config)).read().splitlines()[0]
    assert ("Detectron2's 2x" in header) == (iterations == 180000) and ("1x" in header) == (iterations == 90000)
