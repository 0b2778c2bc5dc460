"""The temporal-transfer probe of one network under a protocol, with its feature cache.

Both ``ctc-temporal-transfer`` and the temporal-transfer hook measure through ``TransferProbe``.
Appendix protocol: the features of the target's train and test images are extracted once per
network (optionally cached on disk, keyed by the checkpoint file) and a linear classifier trains
on them. Release protocol: the authors' transfer.py on a copy of the network.
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import nn

from ..data import ClassificationDataset
from .linear_probe import ProbeSchedule, cached_features, extract_features, probe_accuracy
from .release_probe import ReleaseProbe, release_probe_accuracy
from .targets import Target, build_target_splits

__all__ = ["TransferProbe", "build_transfer_probe"]

SPLITS = ("train", "test")
Settings = Union[ProbeSchedule, ReleaseProbe]
Features = Tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class TransferProbe:
    """A protocol's probe of one network on a target's images.

    Attributes:
        train: the target's training images.
        test: the target's test images.
        settings: ``ProbeSchedule`` (appendix protocol) or ``ReleaseProbe`` (the authors' transfer.py).
        feature_batch_size: images per batch of the feature extraction.
        num_workers: loader processes.
        cache_dir: appendix protocol: keep the extracted features there, keyed by the checkpoint file ("": off).
        cache_id: names the target's images in the cache key (its splits, root, classes and seed).
    """

    train: ClassificationDataset
    test: ClassificationDataset
    settings: Settings
    feature_batch_size: int = 256
    num_workers: int = 0
    cache_dir: str = ""
    cache_id: str = ""

    @property
    def protocol(self) -> str:
        return "release" if isinstance(self.settings, ReleaseProbe) else "appendix"

    @property
    def length(self) -> int:
        """Appendix: the probe's SGD steps; release: its epochs."""
        return self.settings.epochs if isinstance(self.settings, ReleaseProbe) else self.settings.steps

    def measure(
        self,
        network: nn.Module,
        transform,
        *,
        device: Optional[str] = None,
        checkpoint: str = "",
        name: str = "probe",
        progress: bool = False,
    ) -> float:
        """The top-1 (percent) of ``network`` on the target's images seen through ``transform``.

        Args:
            network: a backbone (``forward_features``, ``num_features``); it stays on its device, unchanged.
            transform: the images' transform (``targets.probe_transform``).
            device: where the classifier trains (default: the network's device).
            checkpoint: the file ``network`` was loaded from; with ``cache_dir`` its features are cached.
            name: names the progress, the log lines and the cache files (e.g. "ctc epoch 3").
            progress: show progress (a tqdm bar on a terminal, log lines otherwise).
        """
        device = device or str(next(network.parameters()).device)
        num_classes = self.train.num_classes
        if self.protocol == "release":
            return 100.0 * release_probe_accuracy(
                network, self.train, self.test, transform, num_classes, self.settings, device=device,
                num_workers=self.num_workers, progress=progress, desc=f"{name} release probe",
            )  # fmt: skip
        train, test = (self._features(network, transform, split, checkpoint, name, progress) for split in SPLITS)
        return 100.0 * probe_accuracy(
            train, test, num_classes, self.settings, device=device, progress=progress, desc=f"{name} probe"
        )

    def _features(
        self, network: nn.Module, transform, split: str, checkpoint: str, name: str, progress: bool
    ) -> Features:
        dataset = self.train if split == "train" else self.test
        desc = f"{name} {split}"

        def compute() -> Features:
            return extract_features(
                network,
                dataset,
                transform,
                batch_size=self.feature_batch_size,
                num_workers=self.num_workers,
                progress=progress,
                desc=desc,
            )

        if not (self.cache_dir and checkpoint):
            return compute()
        stat = os.stat(checkpoint)
        key = {
            "target": self.cache_id,
            "split": split,
            "transform": repr(transform),
            "checkpoint": os.path.abspath(checkpoint),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "samples": len(dataset),
        }
        path = os.path.join(self.cache_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", desc.replace(" ", "_")) + ".pt")
        return cached_features(path, key, compute)

    def describe(self) -> Dict[str, Any]:
        """What every measurement shares: ``train_images``, ``test_images``, ``protocol`` and ``steps``
        (appendix: SGD steps; release: epochs)."""
        return {
            "train_images": len(self.train),
            "test_images": len(self.test),
            "protocol": self.protocol,
            "steps": self.length,
        }


def build_transfer_probe(
    target: Target,
    settings: Settings,
    *,
    seed: int,
    max_train: int = 0,
    max_test: int = 0,
    feature_batch_size: int = 256,
    num_workers: int = 0,
    cache_dir: str = "",
) -> TransferProbe:
    """The probe of ``target``: its splits with their sample limits, drawn with ``seed``.

    Raises:
        UserError: the target cannot be read.
    """
    train, test = build_target_splits(target, max_train, max_test, seed)
    cache_id = json.dumps([target.train, target.test, os.path.abspath(target.root), list(target.classes), seed])
    return TransferProbe(train, test, settings, feature_batch_size, num_workers, cache_dir, cache_id)
