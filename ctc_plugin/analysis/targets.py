"""Which target dataset a temporal-transfer probe reads, and at which image size.

A target is named by the base of its registered splits: ``stl10`` reads ``stl10_train``
and ``stl10_test`` (``_val`` when there is no ``_test``). With no name, the target is the
classes of the pretraining dataset that the run held out (``DATASETS.CLASSES`` kept the
others): the offline default, e.g. Fashion-MNIST pretrained on 5 classes and probed on
the other 5.
"""

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, Sequence, Tuple

from torch.utils.data import Dataset

from ..data import ClassificationDataset, build_dataset, build_transform
from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .release_probe import RELEASE_IMAGE_SIZE, RELEASE_TARGETS, release_normalization
from .runs import run_normalization

__all__ = [
    "PROTOCOLS",
    "Target",
    "build_target_splits",
    "native_image_size",
    "probe_transform",
    "protocol_target",
    "resolve_target",
    "split_names",
]

# How a temporal-transfer probe runs: the appendix's schedule on eval-mode features (our
# default), or the authors' transfer.py (release_probe.py).
PROTOCOLS = ("appendix", "release")

# Image side that the "mnist" style produces before any resize (28 padded to 32).
_STYLE_NATIVE_SIZE = {"mnist": 32}


@dataclass(frozen=True)
class Target:
    """A target dataset: registered split names, root, classes kept (empty: all)."""

    train: str
    test: str
    root: str
    classes: Tuple[int, ...] = ()

    @property
    def base(self) -> str:
        return self.train[: -len("_train")] if self.train.endswith("_train") else self.train

    @property
    def description(self) -> str:
        return f"{self.base} classes {list(self.classes)}" if self.classes else self.base


def split_names(base: str) -> Tuple[str, str]:
    """``stl10`` -> (``stl10_train``, ``stl10_test``); a base with only ``_val`` uses it."""
    train = f"{base}_train"
    test = (
        f"{base}_test" if f"{base}_test" in DATASET_REGISTRY or f"{base}_val" not in DATASET_REGISTRY else f"{base}_val"
    )
    for name in (train, test):
        if name not in DATASET_REGISTRY:
            known = sorted({n.rsplit("_", 1)[0] for n, _ in DATASET_REGISTRY})
            raise UserError(f"no registered dataset {name}; target datasets: {', '.join(known)}")
    return train, test


def _base_name(split: str) -> str:
    for suffix in ("_train", "_test", "_val"):
        if split.endswith(suffix):
            return split[: -len(suffix)]
    return split


def resolve_target(dataset: str, root: str, classes: Sequence[int], run_config=None) -> Target:
    """The target of a probe from its settings, or the run's held-out classes by default.

    Args:
        dataset: base name of the target (``stl10``, ``cinic10``, ``fashion_mnist``), or
            "" for the classes the pretraining run held out.
        root: folder of the target; "" takes the run's ``DATASETS.ROOT``.
        classes: target classes to keep (empty: all); ignored for the held-out default.
        run_config: the pretraining run's config, needed for the defaults.
    """
    run_root = run_config.DATASETS.ROOT if run_config is not None else ""
    if dataset:
        train, test = split_names(dataset)
        return Target(train, test, root or run_root, tuple(int(c) for c in classes))
    if run_config is None:
        raise UserError("no target dataset given and no pretraining config to take the held-out classes from")
    source = run_config.DATASETS.TRAIN
    kept = [int(c) for c in run_config.DATASETS.CLASSES]
    if not kept:
        raise UserError(
            f"the run was pretrained on all classes of {source}, so it holds none out: "
            "name a target dataset (e.g. stl10 or cinic10) and its root"
        )
    train, test = split_names(_base_name(source))
    num_classes = build_dataset(train, root or run_root).num_classes
    held_out = tuple(c for c in range(num_classes) if c not in set(kept))
    if not held_out:
        raise UserError(f"the run kept every class of {source}; name a target dataset")
    return Target(train, test, root or run_root, held_out)


def build_target_splits(target: Target) -> Tuple[ClassificationDataset, ClassificationDataset]:
    """The target's whole (train, test) splits, restricted to its classes (the probe draws its samples: ``probe``)."""
    train = build_dataset(target.train, target.root, target.classes, what="the target classes")
    test = build_dataset(target.test, target.root, target.classes, what="the target classes")
    return train, test


def native_image_size(dataset: Dataset, default: int) -> int:
    """The side at which a dataset's images are probed when no size is given.

    The authors' release resized every target image to 32x32; we keep the target's own
    resolution (STL-10: 96, CINIC-10: 32, Fashion-MNIST: 32 after the style's padding).
    Images of the "imagenet" style vary in size and are cropped to ``default``
    (the pretraining run's ``INPUT.SIZE``).
    """
    style = getattr(dataset, "style", "imagenet")
    if style in _STYLE_NATIVE_SIZE:
        return _STYLE_NATIVE_SIZE[style]
    if style == "imagenet":
        return default
    image, _ = dataset[0]
    return min(image.size)


def protocol_target(target: Target, protocol: str) -> Target:
    """The target as ``protocol`` reads it: the release tests CINIC-10 on its valid split."""
    if protocol == "release" and target.base in RELEASE_TARGETS:
        return replace(target, test=RELEASE_TARGETS[target.base]["test"])
    return target


def probe_transform(
    target: Target, train_set: ClassificationDataset, protocol: str, run_config, image_size: int = 0
) -> Tuple[Callable, int]:
    """(transform, image side) of the target's images for a network pretrained with ``run_config``.

    "appendix": the target's own size (``native_image_size``) and the normalisation the network
    was trained with. "release": 32 x 32 and the statistics transfer.py uses for the target
    (``RELEASE_TARGETS``; the run's own for other targets). ``image_size`` overrides the side.

    Raises:
        UserError: "release" on STL-10 (CIFAR-100's statistics) for a run not trained on CIFAR-style images.
    """
    if protocol == "release":
        size = image_size or RELEASE_IMAGE_SIZE
        trained = partial(run_normalization, run_config)
        normalization = release_normalization(target.base, trained) or trained()
    else:
        size = image_size or native_image_size(train_set, run_config.INPUT.SIZE)
        normalization = run_normalization(run_config)
    return build_transform(train_set.style, False, size, normalization=normalization), size
