"""Reliability: bad input refused up front in all four training and conversion tools, NaN losses, faults, rank death.

Bad input runs the tools' own entry points, ``ctc_plugin.cli.<tool>.main(argv)``, in this process,
so each case costs milliseconds, not a Python start-up; the faults run the real tool in a
subprocess. docs/reliability.md tabulates every case with its message.
"""

import hashlib
import importlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from fixtures.datasets import NUM_CLASSES, write_cub, write_tiny_cifar100, write_tiny_coco
from fixtures.networks import random_resnet, save_pretrain_checkpoint
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ctc_plugin.checkpoint import find_resume_checkpoint, load_file
from ctc_plugin.convert import detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle
from ctc_plugin.convert.detectron2 import convert_to_detectron2
from ctc_plugin.utils.errors import UserError
from ctc_plugin.utils.io import atomic_torch_save

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(REPO, "tools")
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def tools():
    names = ("pretrain", "train_net", "finetune_fgvc", "convert_weights")
    return {name: importlib.import_module(f"ctc_plugin.cli.{name}") for name in names}


def run_tool(tools, name, argv, monkeypatch, capsys):
    """(exit status, stderr) of ``ctc_plugin.cli.<name>.main(argv)``, run in this process."""
    capsys.readouterr()
    status = tools[name].main([str(a) for a in argv])
    return status, capsys.readouterr().err


def assert_refused(status, stderr, tool, *fragments):
    assert status == 2, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"{tool}: error: "), stderr
    for fragment in fragments:
        assert str(fragment) in last, last
    return last


def digest(folder) -> dict:
    """Name -> sha256 of every file under ``folder``: proves nothing was written."""
    result = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                result[os.path.relpath(os.path.join(dirpath, name), folder)] = hashlib.sha256(f.read()).hexdigest()
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every kind of bad (and good) input file the cases need."""
    folder = tmp_path_factory.mktemp("inputs")
    f = {}
    f["cifar"] = write_tiny_cifar100(str(folder / "cifar"), num_train=32, num_test=8)
    f["cifar_no_test"] = write_tiny_cifar100(str(folder / "cifar_no_test"), num_train=8, num_test=8)
    os.remove(os.path.join(f["cifar_no_test"], "cifar-100-python", "test"))
    f["empty"] = str(folder / "empty")
    os.makedirs(f["empty"])
    f["r18_cifar"] = save_pretrain_checkpoint(
        random_resnet(18, stem="cifar", num_classes=100), folder / "r18_cifar.pth"
    )
    f["r18"] = save_pretrain_checkpoint(random_resnet(18), folder / "r18.pth")
    state_dict, arch = load_resnet_state_dict(f["r18"])
    f["r18_pkl"] = str(folder / "r18.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], f["r18_pkl"])
    f["not_resnet"] = str(folder / "not_resnet.pth")
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3), "head.bias": torch.zeros(3)}}, f["not_resnet"])
    with open(f["r18"], "rb") as source:
        content = source.read()
    for name, data in (("truncated.pth", content[: len(content) // 2]), ("corrupt.pth", os.urandom(4096))):
        with open(folder / name, "wb") as out:
            out.write(data)
        f[name.split(".")[0]] = str(folder / name)
    with open(f["r18_pkl"], "rb") as source:
        pickled = source.read()
    f["truncated_pkl"] = str(folder / "truncated.pkl")
    with open(f["truncated_pkl"], "wb") as out:
        out.write(pickled[: len(pickled) // 3])
    f["a_file"] = str(folder / "a_file")
    with open(f["a_file"], "w") as out:
        out.write("not a folder\n")
    f["typo_yaml"] = str(folder / "typo.yaml")
    with open(f["typo_yaml"], "w") as out:
        out.write(
            "_BASE_: " + os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml") + "\nSOLVER:\n  IAS_EPOCH: 3\n"
        )
    f["type_yaml"] = str(folder / "type.yaml")
    with open(f["type_yaml"], "w") as out:
        out.write("SOLVER:\n  BASE_LR: fast\n")
    f["cub"] = write_cub(str(folder / "cub"))
    f["coco"] = write_tiny_coco(str(folder / "coco_root" / "datasets"))
    return f


# ---- ctc-pretrain ----------------------------------------------------------------------
PRETRAIN_TINY = ["MODEL.DEVICE", "cpu", "INPUT.SIZE", "16", "SOLVER.IMS_PER_BATCH", "8", "DATALOADER.NUM_WORKERS", "0"]
PRETRAIN_CONFIG = os.path.join(REPO, "configs/pretrain/cifar100_r18_ctc.yaml")

PRETRAIN_CASES = {
    "empty dataset root": (lambda f: ["DATASETS.ROOT", f["empty"]], ["CIFAR-100 file missing", "cifar-100-python"]),
    "dataset folder missing an index file": (
        lambda f: ["DATASETS.ROOT", f["cifar_no_test"]],
        ["CIFAR-100 file missing", os.path.join("cifar-100-python", "test")],
    ),
    "unknown key in the config file": (
        lambda f: ["--config-file!", f["typo_yaml"]],
        ["unknown config key SOLVER.IAS_EPOCH in", "did you mean SOLVER.IAS_EPOCHS?"],
    ),
    "wrong type in the config file": (lambda f: ["--config-file!", f["type_yaml"]], ["bad value in", "type.yaml"]),
    "missing config file": (lambda f: ["--config-file!", "/nonexistent/ctc.yaml"], ["config file not found"]),
    "MODEL.WEIGHTS not the network's": (
        lambda f: ["MODEL.WEIGHTS", f["not_resnet"]],
        ["does not fit the network: it lacks conv1.weight, bn1.weight", "the network has no encoder.weight, head.bias"],
    ),
    "MODEL.WEIGHTS truncated": (lambda f: ["MODEL.WEIGHTS", f["truncated"]], ["cannot read", "as a torch checkpoint"]),
    "MODEL.WEIGHTS corrupt": (lambda f: ["MODEL.WEIGHTS", f["corrupt"]], ["cannot read", "as a torch checkpoint"]),
    "MODEL.WEIGHTS missing": (lambda f: ["MODEL.WEIGHTS", "/nonexistent/w.pth"], ["MODEL.WEIGHTS", "does not exist"]),
    "MODEL.WEIGHTS of another architecture": (
        lambda f: ["MODEL.WEIGHTS", f["r18"]],
        ["does not fit the network: conv1.weight is (64, 3, 7, 7) in the file and (64, 3, 3, 3) in the network"],
    ),
    "OUTPUT_DIR cannot be written": (
        lambda f: ["OUTPUT_DIR!", os.path.join(f["a_file"], "run")],
        ["OUTPUT_DIR", "cannot be written", "is a file, not a folder"],
    ),
    # Values that cannot work: one line before any process starts.
    "batch larger than the data": (
        lambda f: ["SOLVER.IMS_PER_BATCH", "64"],
        ["32 training images cannot fill one batch of SOLVER.IMS_PER_BATCH 64"],
    ),
    "negative learning rate": (lambda f: ["SOLVER.BASE_LR", "-0.1"], ["SOLVER.BASE_LR -0.1 must be positive"]),
    "no epochs": (
        lambda f: ["SOLVER.IAS_EPOCHS", "0", "SOLVER.IRS_EPOCHS", "0"],
        ["SOLVER.IAS_EPOCHS + SOLVER.IRS_EPOCHS is 0: there must be at least one epoch"],
    ),
    "negative epochs": (lambda f: ["SOLVER.IRS_EPOCHS", "-1"], ["SOLVER.IRS_EPOCHS -1 must be 0 or more"]),
    "temperature zero": (lambda f: ["CTC.IRS.TEMPERATURE", "0.0"], ["CTC.IRS.TEMPERATURE 0.0 must be positive"]),
    "memory momentum one": (lambda f: ["CTC.IAS.MOMENTUM", "1.0"], ["CTC.IAS.MOMENTUM 1.0 must be in [0, 1)"]),
    "negative K": (lambda f: ["CTC.IRS.NUM_NEGATIVES", "-5"], ["CTC.IRS.NUM_NEGATIVES -5 must be positive"]),
    "K as large as the data": (
        lambda f: ["CTC.IAS.NUM_NEGATIVES", "32"],
        ["CTC.IAS.NUM_NEGATIVES 32 must be below the 32 training images"],
    ),
    "batch not divisible by the processes": (
        lambda f: ["--num-gpus", "3"],
        ["SOLVER.IMS_PER_BATCH 8 is not divisible by 3 processes"],
    ),
    "unknown preemption signal": (
        lambda f: ["--preemption-signals", "SIGTERM,SIGWHATEVER"],
        ["unknown signal 'SIGWHATEVER'"],
    ),
}


def _pretrain_argv(files, output, extra):
    """The tiny run's command line; "--config-file!" and "OUTPUT_DIR!" replace the defaults."""
    config, opts, flags = PRETRAIN_CONFIG, ["DATASETS.ROOT", files["cifar"], "OUTPUT_DIR", output], []
    for key, value in zip(extra[0::2], extra[1::2]):
        if key == "--config-file!":
            config = value
        elif key == "OUTPUT_DIR!":
            opts[3] = value
        elif key.startswith("--"):
            flags += [key, value]
        else:
            opts += [key, value]
    return [*flags, "--config-file", config, *PRETRAIN_TINY, *opts]


@pytest.mark.parametrize("case", list(PRETRAIN_CASES))
def test_pretrain_refuses_bad_input(tools, files, tmp_path, monkeypatch, capsys, case):
    extra, fragments = PRETRAIN_CASES[case]
    output = tmp_path / "run"
    output.mkdir()
    (output / "config.yaml").write_text("an earlier run's config\n")
    before = digest(output)
    status, stderr = run_tool(tools, "pretrain", _pretrain_argv(files, str(output), extra(files)), monkeypatch, capsys)
    assert_refused(status, stderr, "pretrain", *fragments)
    assert digest(output) == before  # nothing written, nothing overwritten


@pytest.mark.parametrize("damage", ["other architecture", "every checkpoint unreadable"])
def test_pretrain_refuses_a_bad_resume(tools, files, tmp_path, monkeypatch, capsys, damage):
    output = tmp_path / "run"
    output.mkdir()
    if damage == "other architecture":
        from ctc_plugin.config import get_cfg
        from ctc_plugin.engine import CTCTrainer

        cfg = get_cfg()
        cfg.MODEL.DEPTH, cfg.MODEL.STEM, cfg.MODEL.NUM_CLASSES = 50, "imagenet", 100
        torch.save({"model": {}, **CTCTrainer.checkpoint_metadata(cfg)}, output / "model_final.pth")
        fragments = [
            "cannot resume from",
            "model_final.pth: it holds a network with MODEL.DEPTH=50, MODEL.STEM='imagenet' but the config builds "
            "MODEL.DEPTH=18, MODEL.STEM='cifar'",
        ]
    else:
        shutil.copy(files["truncated"], output / "model_epoch_0001.pth")
        shutil.copy(files["corrupt"], output / "model_final.pth")
        fragments = ["cannot resume: no checkpoint in", "model_final.pth:", "model_epoch_0001.pth:"]
    (output / "last_checkpoint").write_text("model_final.pth")
    before = digest(output)
    argv = _pretrain_argv(files, str(output), [])
    argv.insert(2, "--resume")
    status, stderr = run_tool(tools, "pretrain", argv, monkeypatch, capsys)
    assert_refused(status, stderr, "pretrain", *fragments)
    assert digest(output) == before


def test_resume_compares_the_record_and_the_resume_settings_not_a_flat_copy_of_the_network():
    from ctc_plugin.config import get_cfg
    from ctc_plugin.engine import CTCTrainer
    from ctc_plugin.engine.checkpointer import check_same_run

    cfg = get_cfg()
    cfg.MODEL.DEPTH, cfg.MODEL.NUM_CLASSES, cfg.MODEL.WEIGHTS = 18, 100, "initial.pth"
    saved = CTCTrainer.checkpoint_metadata(cfg)
    assert set(saved) == {"backbone", "resume_settings"} and saved["resume_settings"] == {}
    cfg.MODEL.WEIGHTS, cfg.MODEL.DEVICE = "", "cpu"  # how the network is used, not which network it is
    check_same_run("ckpt.pth", saved, CTCTrainer.checkpoint_metadata(cfg))
    cfg.CTC.CLASSIFIER_HEAD = "build_projector_head"  # its state would resume into a linear head
    with pytest.raises(UserError, match="it was trained with CTC.CLASSIFIER_HEAD=None but the config sets CTC.CLASS"):
        check_same_run("ckpt.pth", saved, CTCTrainer.checkpoint_metadata(cfg))
    # A checkpoint written before records replaced the flat "network": compared by what it holds.
    old = {"backbone": saved["backbone"], "network": {"MODEL.DEPTH": 18, "CTC.CLASSIFIER_HEAD": "build_projector_head"}}
    check_same_run("old.pth", old, CTCTrainer.checkpoint_metadata(cfg))
    cfg.MODEL.DEPTH = 50
    with pytest.raises(UserError, match="it holds a network with MODEL.DEPTH=18 but the config builds MODEL.DEPTH=50"):
        check_same_run("old.pth", {"network": old["network"]}, CTCTrainer.checkpoint_metadata(cfg))


# ---- ctc-train-net ---------------------------------------------------------------------
def _train_net_argv(output, *opts, config="configs/coco_maskrcnn_ctc.yaml"):
    return [
        "--config-file",
        os.path.join(REPO, config) if config else config,
        "MODEL.DEVICE",
        "cpu",
        *opts,
        "OUTPUT_DIR",
        output,
    ]


@pytest.fixture
def in_coco_root(files, monkeypatch):
    """Detectron2's builtin COCO paths are relative ("datasets/coco/..."): run where they resolve."""
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(os.path.dirname(files["coco"]))


TRAIN_NET_CASES = {
    "unknown config key": (
        lambda f: ["SOLVER.MAX_ITERS", "3"],
        ["unknown config key SOLVER.MAX_ITERS in the command line; did you mean SOLVER.MAX_ITER?"],
    ),
    "wrong type": (lambda f: ["SOLVER.MAX_ITER", "many"], ["bad value 'many' for SOLVER.MAX_ITER"]),
    "MODEL.WEIGHTS not a ResNet": (
        lambda f: ["MODEL.WEIGHTS", f["not_resnet"]],
        ["is not a torchvision-style ResNet: missing keys conv1.weight"],
    ),
    "MODEL.WEIGHTS truncated .pth": (lambda f: ["MODEL.WEIGHTS", f["truncated"]], ["cannot read MODEL.WEIGHTS"]),
    "MODEL.WEIGHTS truncated .pkl": (
        lambda f: ["MODEL.WEIGHTS", f["truncated_pkl"]],
        ["cannot read", "truncated.pkl as a Detectron2 pickle"],
    ),
    "negative learning rate": (lambda f: ["SOLVER.BASE_LR", "-0.02"], ["SOLVER.BASE_LR -0.02 must be positive"]),
    "no iterations": (lambda f: ["SOLVER.MAX_ITER", "0"], ["SOLVER.MAX_ITER 0 must be positive"]),
    "steps out of order": (lambda f: ["SOLVER.STEPS", "(30,20)"], ["SOLVER.STEPS (30, 20) must increase"]),
    "positive fraction above one": (
        lambda f: ["MODEL.ROI_HEADS.POSITIVE_FRACTION", "1.5"],
        ["MODEL.ROI_HEADS.POSITIVE_FRACTION 1.5 must be in (0, 1]"],
    ),
}


@pytest.mark.parametrize("case", list(TRAIN_NET_CASES))
def test_train_net_refuses_bad_input(tools, files, tmp_path, monkeypatch, capsys, in_coco_root, case):
    extra, fragments = TRAIN_NET_CASES[case]
    argv = _train_net_argv(str(tmp_path / "out"), "MODEL.WEIGHTS", files["r18_pkl"], *extra(files))
    status, stderr = run_tool(tools, "train_net", argv, monkeypatch, capsys)
    assert_refused(status, stderr, "train_net", *fragments)
    assert not (tmp_path / "out").exists()


def test_train_net_refuses_missing_config_and_unwritable_output(
    tools, files, tmp_path, monkeypatch, capsys, in_coco_root
):
    argv = ["--config-file", "/nonexistent/mask.yaml", "MODEL.WEIGHTS", files["r18_pkl"]]
    assert_refused(*run_tool(tools, "train_net", argv, monkeypatch, capsys), "train_net", "config file not found")
    argv = _train_net_argv(os.path.join(files["a_file"], "out"), "MODEL.WEIGHTS", files["r18_pkl"])
    last = assert_refused(*run_tool(tools, "train_net", argv, monkeypatch, capsys), "train_net", "cannot be written")
    assert "is a file, not a folder" in last


def test_train_net_refuses_missing_coco(tools, files, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(tmp_path)  # no datasets/ here
    argv = _train_net_argv(str(tmp_path / "out"), "MODEL.WEIGHTS", files["r18_pkl"])
    assert_refused(
        *run_tool(tools, "train_net", argv, monkeypatch, capsys), "train_net", "dataset root not found: datasets"
    )
    (tmp_path / "datasets" / "coco").mkdir(parents=True)  # an empty root
    status, stderr = run_tool(tools, "train_net", argv, monkeypatch, capsys)
    assert_refused(status, stderr, "train_net", "missing index file", "instances_")


def test_train_net_refuses_resuming_another_resnet(tools, files, tmp_path, monkeypatch, capsys, in_coco_root):
    output = tmp_path / "out"
    output.mkdir()
    model, _, _ = convert_to_detectron2(random_resnet(34).state_dict())
    torch.save(
        {"model": {f"backbone.bottom_up.{k}": torch.as_tensor(v) for k, v in model.items()}}, output / "model_final.pth"
    )
    (output / "last_checkpoint").write_text("model_final.pth")
    before = digest(output)
    argv = ["--resume", *_train_net_argv(str(output), "MODEL.WEIGHTS", files["r18_pkl"])]
    status, stderr = run_tool(tools, "train_net", argv, monkeypatch, capsys)
    assert_refused(status, stderr, "train_net", "cannot resume from", "is a ResNet-34", "builds a ResNet-18")
    assert digest(output) == before


@pytest.mark.parametrize("tool", ["train_net", "pretrain"])
def test_configs_are_parsed_never_evaluated(tools, files, tmp_path, monkeypatch, capsys, in_coco_root, tool):
    marker = tmp_path / "evaluated"
    config = tmp_path / "unsafe.yaml"
    config.write_text(f'OUTPUT_DIR: !!python/object/apply:os.system ["touch {marker}"]\n')
    status, stderr = run_tool(tools, tool, ["--config-file", config, "MODEL.DEVICE", "cpu"], monkeypatch, capsys)
    assert_refused(status, stderr, tool, f"cannot read config file {config}", "constructor")
    assert not marker.exists()


# ---- ctc-finetune-fgvc -----------------------------------------------------------------
FGVC_TINY = ["MODEL.NAME", "resnet18", "MODEL.DEVICE", "cpu", "INPUT.SIZE", "32", "SOLVER.EPOCHS", "1"]
FGVC_TINY += ["SOLVER.IMS_PER_BATCH", "4"]

FGVC_CASES = {
    "missing dataset root": (
        lambda f: ["DATASETS.ROOT", "/nonexistent/fgvc"],
        ["dataset root not found: /nonexistent/fgvc"],
    ),
    "empty dataset root": (
        lambda f: ["DATASETS.ROOT", f["empty"]],
        ["CUB-200-2011: folder not found", "CUB_200_2011"],
    ),
    "unknown config key": (
        lambda f: ["SOLVER.EPOCH", "2"],
        ["unknown config key SOLVER.EPOCH", "did you mean SOLVER.EPOCHS?"],
    ),
    "wrong type": (lambda f: ["SOLVER.EPOCHS", "ten"], ["bad value 'ten' for SOLVER.EPOCHS"]),
    "MODEL.WEIGHTS missing": (
        lambda f: ["MODEL.WEIGHTS", "/nonexistent/w.pth"],
        ["MODEL.WEIGHTS /nonexistent/w.pth does not exist"],
    ),
    "MODEL.WEIGHTS not MODEL.NAME's": (  # a foreign file is checked strictly against timm.create_model(MODEL.NAME)
        lambda f: ["MODEL.WEIGHTS", f["not_resnet"]],
        ["not_resnet.pth as timm resnet18 does not fit the network: it lacks conv1.weight", "has no encoder.weight"],
    ),
    "MODEL.WEIGHTS truncated": (lambda f: ["MODEL.WEIGHTS", f["truncated"]], ["cannot read", "as a torch checkpoint"]),
    "MODEL.WEIGHTS of another depth": (
        lambda f: ["MODEL.NAME", "resnet50", "MODEL.WEIGHTS", f["r18"]],
        ["set MODEL.NAME resnet18, not resnet50"],
    ),
    "OUTPUT_DIR cannot be written": (
        lambda f: ["OUTPUT_DIR", os.path.join(f["a_file"], "out")],
        ["cannot be written", "is a file, not a folder"],
    ),
    "no epochs": (lambda f: ["SOLVER.EPOCHS", "0"], ["SOLVER.EPOCHS 0 must be positive"]),
    "negative learning rate": (lambda f: ["SOLVER.BASE_LR", "-1e-3"], ["SOLVER.BASE_LR -0.001 must be positive"]),
    "batch larger than the data": (
        lambda f: ["SOLVER.IMS_PER_BATCH", "512"],
        ["training images cannot fill one batch of SOLVER.IMS_PER_BATCH 512"],
    ),
    "optimizer timm does not know": (
        lambda f: ["SOLVER.OPTIMIZER", "sgdd"],
        ["SOLVER.OPTIMIZER 'sgdd': timm refuses it"],
    ),
    "scheduler timm does not know": (
        lambda f: ["SOLVER.SCHEDULER", "cosinus"],
        ["SOLVER.SCHEDULER 'cosinus': timm refuses it"],
    ),
    "crop scale reversed": (
        lambda f: ["INPUT.SCALE", "(1.0,0.08)"],
        ["INPUT.SCALE (1.0, 0.08) must be (smallest, largest) area fraction"],
    ),
}


@pytest.mark.parametrize("case", list(FGVC_CASES))
def test_finetune_fgvc_refuses_bad_input(tools, files, tmp_path, monkeypatch, capsys, case):
    extra, fragments = FGVC_CASES[case]
    argv = ["--config-file", os.path.join(REPO, "configs/fgvc/cub200_r50.yaml"), *FGVC_TINY]
    argv += ["DATASETS.ROOT", files["cub"], "OUTPUT_DIR", str(tmp_path / "out"), *extra(files)]
    status, stderr = run_tool(tools, "finetune_fgvc", argv, monkeypatch, capsys)
    assert_refused(status, stderr, "finetune_fgvc", *fragments)
    assert not (tmp_path / "out").exists()


def test_finetune_fgvc_refuses_missing_config_and_resuming_another_model(tools, files, tmp_path, monkeypatch, capsys):
    argv = ["--config-file", "/nonexistent/cub.yaml"]
    assert_refused(
        *run_tool(tools, "finetune_fgvc", argv, monkeypatch, capsys), "finetune_fgvc", "config file not found"
    )
    output = tmp_path / "out"
    output.mkdir()
    from ctc_plugin.fgvc import get_fgvc_cfg
    from ctc_plugin.fgvc.trainer import FGVCTrainer

    cfg = get_fgvc_cfg()
    cfg.MODEL.NAME, cfg.MODEL.NUM_CLASSES = "resnet50", NUM_CLASSES
    metadata = FGVCTrainer.checkpoint_metadata(cfg)  # the record of timm resnet50, the training set
    torch.save({"model": {}, **metadata, "epoch": 1, "iteration": 1}, output / "model_epoch_0001.pth")
    before = digest(output)
    argv = ["--resume", "--config-file", os.path.join(REPO, "configs/fgvc/cub200_r50.yaml"), *FGVC_TINY]
    argv += ["DATASETS.ROOT", files["cub"], "OUTPUT_DIR", str(output)]
    status, stderr = run_tool(tools, "finetune_fgvc", argv, monkeypatch, capsys)
    message = "model_epoch_0001.pth: it holds a network with MODEL.TIMM.NAME='resnet50' but the config builds"
    assert_refused(status, stderr, "finetune_fgvc", message, "MODEL.TIMM.NAME='resnet18'")
    assert digest(output) == before


# ---- ctc-convert ---------------------------------------------------------------
CONVERT_CASES = {
    "not a ResNet": (lambda f: [f["not_resnet"]], ["missing keys conv1.weight, bn1.weight"]),
    "truncated checkpoint": (lambda f: [f["truncated"]], ["cannot read", "as a torch checkpoint"]),
    "corrupt checkpoint": (lambda f: [f["corrupt"]], ["cannot read", "as a torch checkpoint"]),
    "missing checkpoint": (
        lambda f: ["/nonexistent/model_final.pth"],
        ["checkpoint /nonexistent/model_final.pth does not exist"],
    ),
    "unknown --to target": (lambda f: [f["r18"], "--to", "onnx"], ["argument --to: invalid choice: 'onnx'"]),
    "output folder cannot be written": (
        lambda f: [f["r18"], "--out!", os.path.join(f["a_file"], "sub", "out.pkl")],
        ["cannot be written", "is a file, not a folder"],
    ),
}


@pytest.mark.parametrize("case", list(CONVERT_CASES))
def test_convert_weights_refuses_bad_input(tools, files, tmp_path, monkeypatch, capsys, case):
    extra, fragments = CONVERT_CASES[case]
    args = extra(files)
    output = str(tmp_path / "out.pkl")
    with open(output, "wb") as f:
        f.write(b"an earlier conversion")
    if "--out!" in args:
        output = args[args.index("--out!") + 1]
        args = args[: args.index("--out!")]
    to = [] if "--to" in args else ["--to", "detectron2"]
    status, stderr = run_tool(tools, "convert_weights", [args[0], output, *to, *args[1:]], monkeypatch, capsys)
    assert_refused(status, stderr, "convert_weights", *fragments)
    with open(tmp_path / "out.pkl", "rb") as f:
        assert f.read() == b"an earlier conversion"  # not overwritten


# ---- NaN loss -------------------------------------------------------------------------------
def test_nan_loss_stops_naming_iteration_and_terms_keeping_the_last_good_checkpoint(files, tmp_path):
    from detectron2.engine import HookBase

    from ctc_plugin.config import get_cfg
    from ctc_plugin.engine import CTCTrainer

    cfg = get_cfg()
    cfg.merge_from_list(
        [*PRETRAIN_TINY, "DATASETS.ROOT", files["cifar"], "SOLVER.IAS_EPOCHS", "2", "SOLVER.IRS_EPOCHS", "0",
         "TEST.EVAL_PERIOD_EPOCHS", "0", "OUTPUT_DIR", str(tmp_path)]
    )  # fmt: skip
    cfg.freeze()
    trainer = CTCTrainer(cfg)  # 32 images, batch 8: 4 iterations an epoch

    class PoisonAt(HookBase):
        def before_step(self):
            if self.trainer.iter == 5:
                with torch.no_grad():
                    self.trainer.model.backbone.fc.bias.fill_(float("nan"))

    trainer.register_hooks([PoisonAt()])
    trainer.resume_or_load(resume=False)
    with pytest.raises(UserError) as raised:
        trainer.train()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("loss is not finite at iteration 5: loss_cls=nan, loss_ias=")
    assert f"The last good checkpoint is {tmp_path / 'model_epoch_0001.pth'}" in message
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".pth")) == ["model_epoch_0001.pth"]
    kept = load_file(str(tmp_path / "model_epoch_0001.pth"))
    assert all(torch.isfinite(v.float()).all() for v in kept["model"].values())


def test_every_non_finite_term_is_named_with_the_iteration_of_its_batch():
    from ctc_plugin.engine.trainer import FiniteLosses, NonFiniteLossError

    class TwoTerms(torch.nn.Module):
        def forward(self, batch):
            images = batch[0]
            return {"loss_cls": images.mean(), "loss_irs": images.sum() / 0.0}

    batch = (torch.ones(2, 3), torch.zeros(2), torch.arange(2), torch.tensor([7, 7]))
    with pytest.raises(NonFiniteLossError, match=r"^loss is not finite at iteration 7: loss_cls=1, loss_irs=inf$"):
        FiniteLosses(TwoTerms())(batch)


# ---- faults ---------------------------------------------------------------------------------
KILLED_WRITER = """
import os, signal, sys, torch
from ctc_plugin.utils.io import atomic_write
def write(f):
    f.write(b"PK" + os.urandom(1 << 16))  # the new checkpoint, half-written ...
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # ... when the job is killed
atomic_write(sys.argv[1], write)
"""


@pytest.mark.slow
def test_kill_during_checkpoint_write_leaves_the_previous_one_loadable(tmp_path):
    path = tmp_path / "model_epoch_0001.pth"
    atomic_torch_save({"model": {"w": torch.arange(4.0)}, "iteration": 3}, str(path))
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=REPO, timeout=120)
    assert result.returncode == -signal.SIGKILL
    assert torch.equal(load_file(str(path))["model"]["w"], torch.arange(4.0))  # the previous one, whole
    leftovers = [name for name in os.listdir(tmp_path) if name != path.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model_epoch_0001.pth.")  # the torn temporary
    assert find_resume_checkpoint(str(tmp_path)) == str(path)  # never a candidate


@pytest.mark.slow
def test_resume_skips_a_stale_tag_and_a_damaged_newest_checkpoint(files, tmp_path):
    """last_checkpoint names a file that is gone, the newest file is damaged: resume takes the
    newest readable one and the run still ends bitwise where the uninterrupted one did."""
    run = tmp_path / "run"
    command = [sys.executable, os.path.join(TOOLS, "pretrain.py"), "--config-file", PRETRAIN_CONFIG]
    command += [*PRETRAIN_TINY, "DATASETS.ROOT", files["cifar"], "OUTPUT_DIR", str(run)]
    command += ["SOLVER.IAS_EPOCHS", "2", "SOLVER.IRS_EPOCHS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0", "CTC.ALPHA", "0.5"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    expected = load_file(str(run / "model_final.pth"))
    os.remove(run / "model_final.pth")  # last_checkpoint still names it
    with open(run / "model_epoch_0002.pth", "r+b") as f:
        f.truncate(1000)
    (run / ".model_epoch_0003.pth.x1y2.tmp").write_bytes(b"torn")
    resumed = subprocess.run(command[:4] + ["--resume"] + command[4:], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Skipped unreadable checkpoints (model_final.pth: missing; model_epoch_0002.pth:" in resumed.stdout
    assert "at iteration 4" in resumed.stdout
    actual = load_file(str(run / "model_final.pth"))
    for key, value in expected["model"].items():
        assert torch.equal(value, actual["model"][key]), key
    memories = [c["ctc"]["terms"]["ias"]["_extra_state"]["memory"] for c in (expected, actual)]
    assert torch.equal(*memories)


def _spawned_children(pid):
    """Process ids of ``torch.multiprocessing``'s spawned children of ``pid`` (from /proc), in rank order."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            children.append(int(entry))
    return sorted(children)


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_job_with_one_line(files, tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        os.path.join(TOOLS, "pretrain.py"),
        "--num-gpus",
        "2",
        "--dist-url",
        "auto",
        "--dist-timeout",
        "1",
    ]
    command += ["--config-file", PRETRAIN_CONFIG, *PRETRAIN_TINY, "DATASETS.ROOT", files["cifar"]]
    command += ["OUTPUT_DIR", str(run), "SOLVER.IAS_EPOCHS", "100", "TEST.EVAL_PERIOD_EPOCHS", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (run / "model_epoch_0001.pth").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    children = _spawned_children(process.pid)
    assert process.poll() is None and len(children) == 2
    os.kill(children[1], signal.SIGKILL)  # rank 1 dies (out of memory, a lost node)
    killed = time.time()
    _, stderr = process.communicate(timeout=120)
    assert time.time() - killed < 60  # the other rank is stopped, not left waiting in a collective
    assert process.returncode == 1
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("pretrain: error: process "), stderr[-2000:]
    assert "the other processes were stopped" in last
    assert load_file(str(run / "model_epoch_0001.pth"))["epoch"] == 1  # what was written stays whole


# ---- faults a long run meets -----------------------------------------------------------------
def _file_size_limit(limit: int):
    """``preexec_fn``: the child may write no file larger than ``limit`` bytes (EFBIG beyond)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow
def test_a_checkpoint_that_cannot_be_written_stops_with_one_line_and_the_previous_one_loads(files, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, os.path.join(TOOLS, "pretrain.py"), "--config-file", PRETRAIN_CONFIG]
    command += [*PRETRAIN_TINY, "DATASETS.ROOT", files["cifar"], "OUTPUT_DIR", str(run)]
    command += ["SOLVER.IRS_EPOCHS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0"]
    first = subprocess.run(command + ["SOLVER.IAS_EPOCHS", "1"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    previous = run / "model_final.pth"
    kept = digest(run)["model_final.pth"]

    resume = command[:4] + ["--resume"] + command[4:] + ["SOLVER.IAS_EPOCHS", "2"]
    limit = _file_size_limit(os.path.getsize(previous) // 2)  # a disk that fills up mid-write
    failed = subprocess.run(resume, capture_output=True, text=True, timeout=600, preexec_fn=limit)
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines() == [
        f"pretrain: error: cannot write checkpoint {run / 'model_epoch_0002.pth'}: File too large; "
        f"the newest complete checkpoint, {previous}, is intact"
    ]
    assert digest(run)["model_final.pth"] == kept and load_file(str(previous))["epoch"] == 1
    assert not [name for name in os.listdir(run) if name.endswith(".tmp")]  # nothing half-written stays

    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=600)  # the disk has room again
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {previous} at iteration 4" in resumed.stdout
    assert load_file(str(run / "model_final.pth"))["epoch"] == 2


def _damage(path, how: str) -> None:
    with open(path, "rb") as f:
        content = f.read()
    with open(path, "wb") as f:
        f.write(content[: len(content) // 2] if how == "truncated" else b"<html>an error page, not a JPEG</html>")


def write_image_folder(root, classes=2, per_class=8):
    """ROOT/train/<wnid>/*.JPEG, torchvision's ImageFolder layout of ImageNet."""
    for c in range(classes):
        folder = root / "train" / f"n0000000{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.random.default_rng(c * 100 + i).integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"n0000000{c}_{i}.JPEG", format="JPEG")
    return root


def run_tool_process(name, argv):
    """(exit status, stderr) of ``tools/<name>.py argv`` in its own process, as a user runs it."""
    command = [sys.executable, os.path.join(TOOLS, f"{name}.py"), *map(str, argv)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stderr


def assert_no_traceback_logged(output_dir):
    """A user error inside a training step: Detectron2's loop logged no traceback above the line."""
    with open(output_dir / "log.txt") as f:
        log = f.read()
    assert "Starting training from iteration 0" in log
    assert "Traceback" not in log and "Exception during training" not in log


@pytest.mark.slow
@pytest.mark.parametrize("workers, how", [(0, "not an image"), (2, "truncated")])
def test_an_undecodable_cub_image_is_one_line_naming_file_and_dataset(tmp_path, workers, how):
    root = write_cub(str(tmp_path / "cub"))
    bad = os.path.join(root, "CUB_200_2011", "images", "002.Bird_1", "Bird_0003.jpg")  # a training image
    _damage(bad, how)
    argv = ["--config-file", os.path.join(REPO, "configs/fgvc/cub200_r50.yaml"), *FGVC_TINY]
    argv += ["SOLVER.IMS_PER_BATCH", "3", "DATALOADER.NUM_WORKERS", str(workers), "TEST.EVAL_PERIOD_EPOCHS", "0"]
    argv += ["DATASETS.ROOT", root, "OUTPUT_DIR", str(tmp_path / "out")]
    status, stderr = run_tool_process("finetune_fgvc", argv)
    assert_refused(status, stderr, "finetune_fgvc", f"cannot read {bad} of dataset cub200_train: ")
    assert not (tmp_path / "out" / "model_final.pth").exists()
    assert_no_traceback_logged(tmp_path / "out")


@pytest.mark.slow
@pytest.mark.parametrize("workers, how", [(0, "truncated"), (2, "not an image")])
def test_an_undecodable_imagenet_image_is_one_line_naming_file_and_dataset(tmp_path, workers, how):
    root = write_image_folder(tmp_path / "imagenet")
    bad = root / "train" / "n00000001" / "n00000001_3.JPEG"
    _damage(bad, how)
    argv = ["--config-file", PRETRAIN_CONFIG, *PRETRAIN_TINY, "DATALOADER.NUM_WORKERS", str(workers)]
    argv += ["DATASETS.TRAIN", "imagenet_train", "DATASETS.TEST", "", "DATASETS.ROOT", str(root)]
    argv += ["SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "0", "OUTPUT_DIR", str(tmp_path / "out")]
    status, stderr = run_tool_process("pretrain", argv)
    assert_refused(status, stderr, "pretrain", f"cannot read {bad} of dataset imagenet_train: ")
    assert_no_traceback_logged(tmp_path / "out")


def _forked_children(pid):
    """Process ids of the children of ``pid`` that run its own command line (its loader workers)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        own = f.read()
    children = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and command == own:
            children.append(int(entry))
    return children


@pytest.mark.slow
def test_a_killed_loader_worker_ends_the_run_with_one_line_and_resume_continues(files, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, os.path.join(TOOLS, "pretrain.py"), "--config-file", PRETRAIN_CONFIG]
    command += [*PRETRAIN_TINY, "DATASETS.ROOT", files["cifar"], "OUTPUT_DIR", str(run), "DATALOADER.NUM_WORKERS", "2"]
    command += ["SOLVER.IAS_EPOCHS", "4", "SOLVER.IRS_EPOCHS", "0", "TEST.EVAL_PERIOD_EPOCHS", "0"]
    command += ["SOLVER.CHECKPOINT_PERIOD_ITERS", "2", "TRAINER.LOG_PERIOD", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "iter: 5 " in line:
            workers = _forked_children(process.pid)
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)  # the out-of-memory killer takes a worker
            break
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain: error: a data loader worker died at iteration "), stderr
    assert (
        f"DataLoader worker (pid {workers[0]}) is killed by signal: Killed" in lines[0]
        or f"DataLoader worker (pid(s) {workers[0]}) exited unexpectedly" in lines[0]
        or "Error while fetching a batch: " in lines[0]  # killed while it handed a batch's shared memory over
    )  # torch says one or the other, depending on where it notices
    last_good = re.search(r"The last good checkpoint is (\S+) \(--resume continues from it\)", lines[0]).group(1)
    assert load_file(last_good)["iteration"] >= 3

    resumed = subprocess.run(command[:4] + ["--resume"] + command[4:], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming from {last_good}" in resumed.stdout
    assert load_file(str(run / "model_final.pth"))["epoch"] == 4


def _batches(dataset):
    return list(DataLoader(dataset, batch_size=2, num_workers=0))


class BrokenConnection(Dataset):
    """Fails as a batch handed over by a worker that was killed meanwhile fails in the training process."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        raise ConnectionResetError(104, "Connection reset by peer")


def test_a_broken_connection_is_a_loader_failure_only_when_the_loader_raised_it():
    from ctc_plugin.data.worker_failure import is_loader_failure

    with pytest.raises(ConnectionResetError) as fetched:
        _batches(BrokenConnection())
    assert is_loader_failure(fetched.value)
    with pytest.raises(ConnectionResetError) as elsewhere:
        raise ConnectionResetError(104, "Connection reset by peer")  # a rendezvous, a file system: not the loader
    assert not is_loader_failure(elsewhere.value)
    assert is_loader_failure(RuntimeError("DataLoader worker (pid 7) is killed by signal: Killed. "))
    assert not is_loader_failure(RuntimeError("CUDA out of memory"))
