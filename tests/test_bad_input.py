"""The last bad-input classes: index files that do not parse, and user errors raised inside a training step.

Each is one line naming the file and what is wrong, exit 2, and no traceback anywhere: not on
stderr, not on stdout, not in OUTPUT_DIR/log.txt.
"""

import json
import os
import pickle
import subprocess
import sys

import pytest
from fixtures.datasets import write_aircraft, write_cub, write_inat, write_tiny_coco
from fixtures.log_streams import rebind_closed_log_streams
from fixtures.networks import random_resnet

from ctc_plugin.cli import finetune_fgvc, train_net
from ctc_plugin.convert import detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle
from ctc_plugin.data import build_dataset
from ctc_plugin.utils.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["HF_HUB_OFFLINE"] = "1"
FGVC_TINY = ["MODEL.NAME", "resnet18", "MODEL.DEVICE", "cpu", "INPUT.SIZE", "32", "SOLVER.IMS_PER_BATCH", "4"]
TRAIN_NET_TINY = [
    "MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TRAIN", "(96,)", "INPUT.MAX_SIZE_TRAIN", "128", "INPUT.MIN_SIZE_TEST", "96",
    "INPUT.MAX_SIZE_TEST", "128", "SOLVER.IMS_PER_BATCH", "2", "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32", "DATALOADER.NUM_WORKERS", "0",
]  # fmt: skip


@pytest.fixture(autouse=True)
def log_streams_of_this_test():
    rebind_closed_log_streams()


def assert_one_line(status, out, err, tool, *fragments, output_dir=None):
    """Exit 2, the tool's one line holding ``fragments``, and no traceback anywhere."""
    assert status == 2, err[-3000:]
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]  # before it, at most a library's warning (torch: "No CUDA runtime")
    assert line.startswith(f"{tool}: error: "), line
    assert sum(other.startswith(f"{tool}:") for other in err.splitlines()) == 1
    for fragment in fragments:
        assert fragment in line, line
    assert "Traceback" not in out
    log = os.path.join(str(output_dir), "log.txt") if output_dir else None
    if log and os.path.isfile(log):
        with open(log) as f:
            text = f.read()
        assert "Traceback" not in text and "Exception during training" not in text


def _write(path, content: bytes) -> str:
    with open(path, "wb") as f:
        f.write(content)
    return path


def _truncate(path) -> str:
    with open(path, "rb") as f:
        content = f.read()
    return _write(path, content[: len(content) // 2])


# layout writer, config, damage(root) -> (damaged file, what the line says)
FGVC_CASES = {
    "iNat JSON truncated": (
        write_inat, "inat2018_r50.yaml",
        lambda root: (_truncate(os.path.join(root, "train2018.json")), "is not valid JSON: "),
    ),
    "iNat image entry without file_name": (
        write_inat, "inat2018_r50.yaml",
        lambda root: (_write(os.path.join(root, "train2018.json"), json.dumps(
            {"images": [{"id": 1}], "annotations": [{"image_id": 1, "category_id": 0}], "categories": [{"id": 0}]}
        ).encode()), "has an entry without 'file_name'"),
    ),
    "iNat JSON a list": (
        write_inat, "inat2018_r50.yaml",
        lambda root: (_write(os.path.join(root, "train2018.json"), b"[1, 2]"), "is not a JSON object"),
    ),
    "CUB id not an integer": (
        write_cub, "cub200_r50.yaml",
        lambda root: (_write(os.path.join(root, "CUB_200_2011", "images.txt"), b"1 a/b.jpg\nseven a/c.jpg\n"),
                      "line 2 of "),
    ),
    "CUB index not text": (
        write_cub, "cub200_r50.yaml",
        lambda root: (_write(os.path.join(root, "CUB_200_2011", "image_class_labels.txt"), b"1 \xff\xfe\x00\n"),
                      "is not UTF-8 text"),
    ),
    "Aircraft line without a variant": (
        write_aircraft, "aircraft_r50.yaml",
        lambda root: (_write(os.path.join(root, "fgvc-aircraft-2013b", "data", "images_variant_trainval.txt"),
                             b"1000000\n"), "line 1 of "),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FGVC_CASES))
def test_a_fine_grained_index_that_does_not_parse_is_one_line_naming_it(tmp_path, capsys, case):
    write, config, damage = FGVC_CASES[case]
    root = write(str(tmp_path / "data"))
    path, what = damage(root)
    argv = ["--config-file", os.path.join(REPO, "configs", "fgvc", config), *FGVC_TINY]
    status = finetune_fgvc.main([*argv, "DATASETS.ROOT", root, "OUTPUT_DIR", str(tmp_path / "out")])
    assert_one_line(status, *capsys.readouterr(), "finetune_fgvc", path, what)


def test_cifar_and_stl10_index_files_that_do_not_parse_name_the_file(tmp_path):
    cifar = tmp_path / "cifar" / "cifar-100-python"
    cifar.mkdir(parents=True)
    with open(cifar / "meta", "wb") as f:
        pickle.dump({"fine_label_names": ["a", "b"]}, f)
    with open(cifar / "train", "wb") as f:
        pickle.dump({"data": []}, f)  # no labels
    with pytest.raises(UserError, match=f"CIFAR-100: {cifar / 'train'} has an entry without 'fine_labels'"):
        build_dataset("cifar100_train", str(tmp_path / "cifar"))
    stl = tmp_path / "stl" / "stl10_binary"
    stl.mkdir(parents=True)
    for name in ("train_X.bin", "train_y.bin"):
        _write(stl / name, b"\x01")
    _write(stl / "class_names.txt", b"\xff\xfe airplane\n")
    with pytest.raises(UserError, match="STL-10: .*class_names.txt is not UTF-8 text"):
        build_dataset("stl10_train", str(tmp_path / "stl"))


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    """A tiny COCO under ``root/coco`` and converted ResNet-18 weights."""
    folder = tmp_path_factory.mktemp("coco")
    root = write_tiny_coco(str(folder / "datasets"))
    state_dict, arch = load_resnet_state_dict(random_resnet(18, seed=3).state_dict())
    weights = str(folder / "r18.pkl")
    save_detectron2_pickle(detectron2_checkpoint(state_dict, arch, "test")[0], weights)
    return {"root": root, "weights": weights}


def _coco_copy(coco, tmp_path) -> str:
    import shutil

    root = str(tmp_path / "datasets")
    shutil.copytree(coco["root"], root)
    return root


def test_a_coco_training_index_that_does_not_parse_is_one_line(tmp_path, coco, capsys, monkeypatch):
    root = _coco_copy(coco, tmp_path)
    _truncate(os.path.join(root, "coco", "annotations", "instances_train2017.json"))
    # Detectron2's builtin paths were fixed at import: "datasets/coco/...", relative to the working folder.
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    monkeypatch.chdir(tmp_path)
    bad = os.path.join("datasets", "coco", "annotations", "instances_train2017.json")
    output = tmp_path / "out"
    argv = ["--config-file", os.path.join(REPO, "configs", "coco_maskrcnn_ctc.yaml"), *TRAIN_NET_TINY]
    status = train_net.main(
        [*argv, "SOLVER.MAX_ITER", "1", "MODEL.WEIGHTS", coco["weights"], "OUTPUT_DIR", str(output)]
    )
    assert_one_line(
        status,
        *capsys.readouterr(),
        "train_net",
        f"dataset coco_2017_train: {bad} is not valid JSON",
        output_dir=output,
    )


@pytest.mark.slow
def test_a_user_error_inside_detectron2_s_training_loop_is_one_line_alone(tmp_path, coco):
    """The test index breaks during the run (an evaluation after the first step, inside Detectron2's
    loop): the tool's line, and neither Detectron2's "Exception during training" nor a traceback."""
    root = _coco_copy(coco, tmp_path)
    bad = _write(os.path.join(root, "coco", "annotations", "instances_val2017.json"), b"<html>Not Found</html>")
    output = tmp_path / "out"
    command = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file",
               os.path.join(REPO, "configs", "coco_maskrcnn_ctc.yaml"), *TRAIN_NET_TINY, "SOLVER.MAX_ITER", "2",
               "TEST.EVAL_PERIOD", "1", "MODEL.WEIGHTS", coco["weights"], "OUTPUT_DIR", str(output)]  # fmt: skip
    env = dict(os.environ, DETECTRON2_DATASETS=root)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert_one_line(result.returncode, result.stdout, result.stderr, "train_net",
                    f"dataset coco_2017_val: {bad} is not valid JSON", output_dir=output)  # fmt: skip
    assert "Starting training from iteration 0" in result.stdout  # it broke inside the loop
