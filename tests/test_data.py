"""Datasets in their official layouts, deterministic augmentation and resumable sharded batches."""

import gzip
import os

import numpy as np
import pytest
import torch
from fixtures.datasets import write_fashion_mnist, write_tiny_cifar100
from PIL import Image

from ctc_plugin.data import EpochBatchSampler, IndexedSamples, build_dataset, build_train_loader, build_transform
from ctc_plugin.utils.errors import UserError


def test_cifar100_official_layout(tmp_path):
    root = write_tiny_cifar100(str(tmp_path), num_train=40, num_test=8)
    train = build_dataset("cifar100_train", root)
    image, label = train[5]
    assert len(train) == 40 and train.num_classes == 100 and label == 1
    assert image.size == (32, 32) and image.mode == "RGB"
    assert len(build_dataset("cifar100_test", root)) == 8


@pytest.mark.parametrize("layout", ["debian", "torchvision"])
def test_fashion_mnist_idx_layouts(tmp_path, layout):
    folder = tmp_path if layout == "debian" else tmp_path / "FashionMNIST" / "raw"
    write_fashion_mnist(str(folder))
    train = build_dataset("fashion_mnist_train", str(tmp_path))
    assert len(train) == 20 and train.classes[9] == "Ankle boot"
    assert train[3][0].size == (28, 28) and train[3][1] == 3
    assert build_transform(train.style, True, 32)(train[0][0]).shape == (3, 32, 32)


def test_fashion_mnist_truncated_file_is_named(tmp_path):
    write_fashion_mnist(str(tmp_path))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz is truncated"):
        build_dataset("fashion_mnist_train", str(tmp_path))


def test_imagenet_folder_layout(tmp_path):
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            os.makedirs(tmp_path / split / wnid)
            for i in range(3):
                Image.new("RGB", (40, 30), (i * 40, 10, 10)).save(tmp_path / split / wnid / f"{i}.JPEG")
    train = build_dataset("imagenet_train", str(tmp_path))
    assert len(train) == 6 and train.classes == ["n01440764", "n01443537"] and train.targets[4] == 1
    assert build_transform("imagenet", False, 24)(train[0][0]).shape == (3, 24, 24)


def test_class_subset_relabels_and_limits(tmp_path):
    root = write_tiny_cifar100(str(tmp_path), num_train=40, num_classes=4)
    subset = build_dataset("cifar100_train", root, classes=[3, 1], images_per_class=2)
    assert subset.targets == [1, 0, 1, 0] and subset.classes == ["class_3", "class_1"]


def test_missing_root_and_unknown_name_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="dataset root not found"):
        build_dataset("cifar100_train", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="cifar-100-python/train"):
        build_dataset("cifar100_train", str(tmp_path))
    with pytest.raises(UserError, match="unknown dataset 'cifar10_train'"):
        build_dataset("cifar10_train", str(tmp_path))


def test_augmentation_depends_only_on_seed_epoch_and_index(tmp_path):
    root = write_tiny_cifar100(str(tmp_path), num_train=16)
    dataset = build_dataset("cifar100_train", root)
    samples = IndexedSamples(dataset, build_transform("cifar", True, 32, auto_augment=True), seed=3)
    torch.manual_seed(0)
    first = samples[(5, 2, 40)][0]
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(first, samples[(5, 2, 41)][0])  # nor the iteration the batch is
    assert not torch.equal(first, samples[(5, 3, 40)][0])


def test_sampler_resumes_mid_run_and_shards_the_global_batch():
    full = list(EpochBatchSampler(50, 8, seed=1, max_iter=15))
    assert len(full) == 15 and full[6][0][1:] == (1, 6)  # 6 iterations per epoch, epoch 1 starts at 6
    assert list(EpochBatchSampler(50, 8, seed=1, start_iter=9, max_iter=15)) == full[9:]
    ranks = [list(EpochBatchSampler(50, 4, world_size=2, rank=r, seed=1, max_iter=15)) for r in (0, 1)]
    assert [a + b for a, b in zip(*ranks)] == full
    for epoch in range(2):
        seen = [i for batch in full[epoch * 6 : epoch * 6 + 6] for i, _, _ in batch]
        assert len(set(seen)) == 48  # no image twice in an epoch


def test_loader_yields_images_labels_indices_iterations_identically_with_workers(tmp_path):
    root = write_tiny_cifar100(str(tmp_path), num_train=32)
    dataset = build_dataset("cifar100_train", root)
    transform = build_transform(dataset.style, True, 32)
    batches = []
    for workers in (0, 2):
        sampler = EpochBatchSampler(32, 8, seed=0, start_iter=2, max_iter=7)
        batches.append(list(build_train_loader(dataset, transform, sampler, seed=0, num_workers=workers)))
    for iteration, ((x0, y0, i0, n0), (x2, y2, i2, n2)) in enumerate(zip(*batches), start=2):
        assert x0.shape == (8, 3, 32, 32) and torch.equal(x0, x2) and torch.equal(y0, y2) and torch.equal(i0, i2)
        assert torch.equal(y0, torch.tensor([dataset.targets[i] for i in i0]))
        assert n0.tolist() == n2.tolist() == [iteration] * 8  # the batch says which iteration it is


@pytest.mark.parametrize("style", ["mnist", "cifar", "imagenet"])
def test_crop_and_flip_off_trains_on_the_test_view(style):
    image = Image.fromarray(np.random.RandomState(0).randint(0, 255, (40, 36), dtype=np.uint8)).convert("RGB")
    test = build_transform(style, False, 32)(image)
    plain = build_transform(style, True, 32, crop_and_flip=False)
    augmented = build_transform(style, True, 32)
    torch.manual_seed(0)
    assert all(torch.equal(plain(image), test) for _ in range(3))
    assert not all(torch.equal(augmented(image), test) for _ in range(3))


# ---- the release's AutoAugment (its dataset/autoaugment.py, CIFAR10Policy) -------------------------
# Its table as the release writes it in CIFAR10Policy.__init__ (DTennant/dt-tradeoff @ a36516b,
# dataset/autoaugment.py:73-101): SubPolicy(p1, op1, bin1, p2, op2, bin2), in order.
RELEASE_SUBPOLICIES = [
    (0.1, "invert", 7, 0.2, "contrast", 6), (0.7, "rotate", 2, 0.3, "translateX", 9),
    (0.8, "sharpness", 1, 0.9, "sharpness", 3), (0.5, "shearY", 8, 0.7, "translateY", 9),
    (0.5, "autocontrast", 8, 0.9, "equalize", 2), (0.2, "shearY", 7, 0.3, "posterize", 7),
    (0.4, "color", 3, 0.6, "brightness", 7), (0.3, "sharpness", 9, 0.7, "brightness", 9),
    (0.6, "equalize", 5, 0.5, "equalize", 1), (0.6, "contrast", 7, 0.6, "sharpness", 5),
    (0.7, "color", 7, 0.5, "translateX", 8), (0.3, "equalize", 7, 0.4, "autocontrast", 8),
    (0.4, "translateY", 3, 0.2, "sharpness", 6), (0.9, "brightness", 6, 0.2, "color", 8),
    (0.5, "solarize", 2, 0.0, "invert", 3), (0.2, "equalize", 0, 0.6, "autocontrast", 0),
    (0.2, "equalize", 8, 0.6, "equalize", 4), (0.9, "color", 9, 0.6, "equalize", 6),
    (0.8, "autocontrast", 4, 0.2, "solarize", 8), (0.1, "brightness", 3, 0.7, "color", 0),
    (0.4, "solarize", 5, 0.9, "autocontrast", 3), (0.9, "translateY", 9, 0.7, "translateY", 9),
    (0.9, "autocontrast", 2, 0.8, "solarize", 3), (0.8, "equalize", 8, 0.1, "invert", 3),
    (0.7, "translateY", 9, 0.9, "autocontrast", 1),
]  # fmt: skip
# Its magnitude of bin i (of 10) per operation: linspace(start, stop, 10), posterize rounded.
RELEASE_RANGES = {
    "shearX": (0, 0.3), "shearY": (0, 0.3), "translateX": (0, 150 / 331), "translateY": (0, 150 / 331),
    "rotate": (0, 30), "color": (0.0, 0.9), "posterize": (8, 4), "solarize": (256, 0), "contrast": (0.0, 0.9),
    "sharpness": (0.0, 0.9), "brightness": (0.0, 0.9), "autocontrast": (0, 0), "equalize": (0, 0), "invert": (0, 0),
}  # fmt: skip
TORCHVISION_NAMES = {"AutoContrast": "autocontrast", "Equalize": "equalize", "Invert": "invert", "Color": "color"}


def release_magnitude(operation: str, magnitude_bin: int) -> float:
    value = np.linspace(*RELEASE_RANGES[operation], 10)[magnitude_bin]
    return float(np.round(value)) if operation == "posterize" else float(value)


def test_release_autoaugment_is_the_release_s_table():
    from ctc_plugin.data.release_autoaugment import RELEASE_CIFAR10_POLICY, RELEASE_MAGNITUDES

    assert len(RELEASE_CIFAR10_POLICY) == len(RELEASE_SUBPOLICIES) == 25
    for ours, (p1, op1, bin1, p2, op2, bin2) in zip(RELEASE_CIFAR10_POLICY, RELEASE_SUBPOLICIES):
        assert ours == ((op1, p1, bin1), (op2, p2, bin2))
        for operation, magnitude_bin in ((op1, bin1), (op2, bin2)):
            assert RELEASE_MAGNITUDES[operation][magnitude_bin] == pytest.approx(
                release_magnitude(operation, magnitude_bin)
            )


def test_release_autoaugment_has_torchvision_s_sub_policies_and_differs_where_fidelity_md_says():
    from torchvision import transforms as T
    from torchvision.transforms import functional as F

    from ctc_plugin.data.release_autoaugment import RELEASE_MAGNITUDES, _affine

    torchvision = T.AutoAugment(T.AutoAugmentPolicy.CIFAR10)
    assert len(torchvision.policies) == len(RELEASE_SUBPOLICIES)
    for release, theirs in zip(RELEASE_SUBPOLICIES, torchvision.policies):
        for (p, operation, magnitude_bin), (name, q, their_bin) in zip((release[:3], release[3:]), theirs):
            assert TORCHVISION_NAMES.get(name, name[0].lower() + name[1:]) == operation
            assert their_bin is None or their_bin == magnitude_bin  # None: an operation without magnitude
            assert p == q  # no probability differs
    space = torchvision._augmentation_space(10, (32, 32))
    for name, (magnitudes, _) in space.items():
        operation = TORCHVISION_NAMES.get(name, name[0].lower() + name[1:])
        if operation not in RELEASE_RANGES:
            continue
        release = [
            release_magnitude(operation, i) * (32 if operation.startswith("translate") else 1) for i in range(10)
        ]
        same = np.allclose(magnitudes.numpy(), release, atol=1e-5)
        assert same == (operation != "solarize"), operation  # solarize: 256 ... 0 against 255 ... 0
    # Translations: the release moves by the offset rounded to a pixel, torchvision by it truncated.
    image = Image.fromarray(np.random.RandomState(0).randint(0, 255, (32, 32, 3), dtype=np.uint8))
    further = []
    for i, magnitude in enumerate(RELEASE_MAGNITUDES["translateX"]):
        ours = np.asarray(_affine(image, (1, 0, magnitude * 32, 0, 1, 0), Image.NEAREST))
        for pixels in (round(magnitude * 32), int(magnitude * 32)):
            theirs = F.affine(image, angle=0.0, translate=[-pixels, 0], scale=1.0, shear=[0.0, 0.0], fill=[128] * 3)
            if np.array_equal(ours, np.asarray(theirs)):
                break
        else:
            raise AssertionError(f"translateX bin {i} is neither rounded nor truncated")
        if pixels != int(magnitude * 32):
            further.append(i)
    assert further == [1, 3, 6, 8, 9]  # one pixel further than torchvision's


def test_release_autoaugment_fills_grey_and_follows_the_sample_seed(tmp_path):
    from ctc_plugin.data.release_autoaugment import _OPERATIONS, ReleaseCIFAR10Policy

    black = Image.new("RGB", (32, 32))
    for operation, magnitude in (("rotate", 30.0), ("translateX", 0.45), ("shearY", 0.3)):
        assert (128, 128, 128) in set(_OPERATIONS[operation](black, magnitude).getdata()), operation
    view = build_transform("cifar", True, 32, auto_augment=True, cutout=16, auto_augment_policy="release")
    names = [type(step).__name__ for step in view.transforms]
    assert names == [
        "Resize", "RandomCrop", "RandomHorizontalFlip", "ReleaseCIFAR10Policy", "ToTensor", "Cutout", "Normalize"
    ]  # fmt: skip
    root = write_tiny_cifar100(str(tmp_path), num_train=16)
    samples = IndexedSamples(build_dataset("cifar100_train", root), view, seed=3)
    assert torch.equal(samples[(5, 2, 40)][0], samples[(5, 2, 41)][0])
    assert not torch.equal(samples[(5, 2, 40)][0], samples[(5, 3, 40)][0])
    images = [ReleaseCIFAR10Policy()(Image.new("RGB", (32, 32), (90, 60, 30))) for _ in range(50)]
    assert len({image.tobytes() for image in images}) > 1  # it changes images
    with pytest.raises(ValueError, match="unknown AutoAugment policy"):
        build_transform("cifar", True, 32, auto_augment=True, auto_augment_policy="releases")
