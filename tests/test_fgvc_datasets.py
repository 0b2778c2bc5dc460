"""The three fine-grained readers on tiny copies of the official layouts (written here)."""

import json
import os
from typing import Dict, List, Tuple

import numpy as np
import pytest
from PIL import Image

from ctc_plugin.data import build_dataset
from ctc_plugin.data.aircraft import FGVCAircraft
from ctc_plugin.data.cub import CUB200
from ctc_plugin.data.inat import INaturalist2018
from ctc_plugin.utils.errors import UserError

# (train images, test images) per class in every tiny layout.
PER_CLASS = (3, 2)
NUM_CLASSES = 3


def _write_image(path: str, seed: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG")


def _samples() -> List[Tuple[int, bool]]:
    """(class, is_train) of every image, classes interleaved as in real index files."""
    rows = []
    for i in range(max(PER_CLASS)):
        for label in range(NUM_CLASSES):
            if i < PER_CLASS[0]:
                rows.append((label, True))
            if i < PER_CLASS[1]:
                rows.append((label, False))
    return rows


def write_cub(root: str) -> str:
    """ROOT/CUB_200_2011/ with images.txt, image_class_labels.txt, train_test_split.txt, classes.txt."""
    folder = os.path.join(root, "CUB_200_2011")
    names = [f"{c + 1:03d}.Bird_{c}" for c in range(NUM_CLASSES)]
    lines: Dict[str, List[str]] = {"images.txt": [], "image_class_labels.txt": [], "train_test_split.txt": []}
    for image_id, (label, is_train) in enumerate(_samples(), start=1):
        relative = f"{names[label]}/Bird_{image_id:04d}.jpg"
        _write_image(os.path.join(folder, "images", relative), image_id)
        lines["images.txt"].append(f"{image_id} {relative}")
        lines["image_class_labels.txt"].append(f"{image_id} {label + 1}")
        lines["train_test_split.txt"].append(f"{image_id} {int(is_train)}")
    lines["classes.txt"] = [f"{c + 1} {name}" for c, name in enumerate(names)]
    for name, content in lines.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write("\n".join(content) + "\n")
    return root


def write_aircraft(root: str) -> str:
    """ROOT/fgvc-aircraft-2013b/data/ with variants.txt and images_variant_{trainval,test}.txt."""
    data = os.path.join(root, "fgvc-aircraft-2013b", "data")
    variants = ["707-320", "A300B4", "Cessna 172"]  # names with spaces exist in the real list
    split_lines: Dict[str, List[str]] = {"trainval": [], "test": []}
    for number, (label, is_train) in enumerate(_samples()):
        image_id = f"{1000000 + number:07d}"
        _write_image(os.path.join(data, "images", f"{image_id}.jpg"), number)
        split_lines["trainval" if is_train else "test"].append(f"{image_id} {variants[label]}")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "variants.txt"), "w") as f:
        f.write("\n".join(variants) + "\n")
    for split, content in split_lines.items():
        with open(os.path.join(data, f"images_variant_{split}.txt"), "w") as f:
            f.write("\n".join(content) + "\n")
    return root


def write_inat(root: str) -> str:
    """ROOT with train2018.json, val2018.json and the train_val2018/ images they name."""
    categories = [{"id": c, "name": f"Species {c}", "supercategory": "Plantae"} for c in range(NUM_CLASSES)]
    index = {split: {"images": [], "annotations": [], "categories": categories} for split in ("train", "val")}
    for image_id, (label, is_train) in enumerate(_samples(), start=1):
        file_name = f"train_val2018/Plantae/{label}/{image_id:08x}.jpg"
        _write_image(os.path.join(root, file_name), image_id)
        split = index["train" if is_train else "val"]
        split["images"].append({"id": image_id, "file_name": file_name, "width": 24, "height": 20})
        split["annotations"].append({"id": image_id, "image_id": image_id, "category_id": label})
    for split, content in index.items():
        with open(os.path.join(root, f"{split}2018.json"), "w") as f:
            json.dump(content, f)
    return root


LAYOUTS = {"cub200": write_cub, "aircraft": write_aircraft, "inat2018": write_inat}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_reads_official_split(tmp_path, name):
    root = LAYOUTS[name](str(tmp_path))
    train, test = build_dataset(f"{name}_train", root), build_dataset(f"{name}_test", root)
    assert (len(train), len(test)) == (PER_CLASS[0] * NUM_CLASSES, PER_CLASS[1] * NUM_CLASSES)
    assert train.num_classes == test.num_classes == NUM_CLASSES
    assert sorted(set(train.targets)) == list(range(NUM_CLASSES))
    assert [train.targets.count(c) for c in range(NUM_CLASSES)] == [PER_CLASS[0]] * NUM_CLASSES
    image, label = test[0]
    assert image.mode == "RGB" and image.size == (24, 20) and 0 <= label < NUM_CLASSES


def test_aircraft_matches_torchvision(tmp_path):
    from torchvision.datasets import FGVCAircraft as TorchvisionAircraft

    root = write_aircraft(str(tmp_path))
    for split, official in (("train", "trainval"), ("test", "test")):
        ours = FGVCAircraft(root, split)
        theirs = TorchvisionAircraft(root, split=official, annotation_level="variant", download=False)
        assert ours.classes == theirs.classes
        assert ours.targets == theirs._labels
        assert ours.image_paths == theirs._image_files


def test_cub_labels_follow_class_ids(tmp_path):
    root = write_cub(str(tmp_path))
    dataset = CUB200(root, "train")
    assert dataset.classes == [f"{c + 1:03d}.Bird_{c}" for c in range(NUM_CLASSES)]
    for path, label in zip(dataset.image_paths, dataset.targets):
        assert os.path.basename(os.path.dirname(path)) == dataset.classes[label]


MISSING = [
    ("cub200", "CUB_200_2011/images.txt"),
    ("cub200", "CUB_200_2011/image_class_labels.txt"),
    ("cub200", "CUB_200_2011/train_test_split.txt"),
    ("cub200", "CUB_200_2011/classes.txt"),
    ("aircraft", "fgvc-aircraft-2013b/data/variants.txt"),
    ("aircraft", "fgvc-aircraft-2013b/data/images_variant_test.txt"),
    ("inat2018", "val2018.json"),
    ("inat2018", "train2018.json"),
]


@pytest.mark.parametrize("name, relative", MISSING)
def test_missing_index_file_is_named(tmp_path, name, relative):
    root = LAYOUTS[name](str(tmp_path))
    os.remove(os.path.join(root, relative))
    filename = os.path.basename(relative)
    split = "test" if "test" in filename or "val" in filename else "train"
    with pytest.raises(UserError, match=filename):
        build_dataset(f"{name}_{split}", root)


def test_wrong_root_and_name(tmp_path):
    with pytest.raises(UserError, match="CUB_200_2011"):
        CUB200(str(tmp_path), "train")
    with pytest.raises(UserError, match="unknown dataset 'cub_train'"):
        build_dataset("cub_train", str(tmp_path))


def test_inat_labels_are_sorted_category_ids(tmp_path):
    root = write_inat(str(tmp_path))
    dataset = INaturalist2018(root, "test")
    assert dataset.classes == [f"Species {c}" for c in range(NUM_CLASSES)]
    assert all(f"/{label}/" in path for path, label in zip(dataset.image_paths, dataset.targets))
