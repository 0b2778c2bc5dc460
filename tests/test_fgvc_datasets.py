"""The three fine-grained readers on tiny copies of the official layouts (written here)."""

import os

import pytest
from fixtures.datasets import LAYOUTS, NUM_CLASSES, PER_CLASS, write_aircraft, write_cub, write_inat

from ctc_plugin.data import build_dataset
from ctc_plugin.data.aircraft import FGVCAircraft
from ctc_plugin.data.cub import CUB200
from ctc_plugin.data.inat import INaturalist2018
from ctc_plugin.utils.errors import UserError


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
