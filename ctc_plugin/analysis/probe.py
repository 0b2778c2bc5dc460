"""The temporal-transfer probe of one network: ``draws`` probes of a protocol, one feature extraction.

Both ``ctc-temporal-transfer`` and the temporal-transfer hook measure through ``TransferProbe``.

Every image the probe reads is drawn from the **probe seed**, never from the run's training
seed, so that every run of a study is probed on the same images and probe noise can be told
apart from training noise. The test images are the target's whole test split unless
``max_test`` limits them (one subsample, the same for every draw). Draw ``d`` trains on its own
``max_train`` training images (all of them when 0), with its own classifier initialisation and
batch order; each is seeded with ``mix_seed(probe seed, stream, d)``. A measurement is the mean
of the draws' top-1, each draw's kept beside it: their spread is the probe's own noise.

Appendix protocol: the features of the union of the draws' training images and of the test
images are extracted once per network (optionally cached on disk, keyed by the checkpoint
file), and each draw's classifier trains on its rows. Release protocol: each draw runs the
authors' transfer.py on its own training images.
"""

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ..data import ClassificationDataset, Subset, random_indices
from ..utils.errors import UserError
from ..utils.seeding import mix_seed
from .linear_probe import ProbeSchedule, cached_features, extract_features, probe_accuracy
from .release_probe import ReleaseProbe, release_probe_accuracy
from .targets import Target, build_target_splits

__all__ = ["ProbeResult", "ProbeSamples", "TransferProbe", "build_transfer_probe", "probe_seed"]

# Streams of the probe seed: each draw's training images, the test images, each draw's classifier.
TRAIN_IMAGES, TEST_IMAGES, CLASSIFIER = 0, 1, 2

Settings = Union[ProbeSchedule, ReleaseProbe]
Features = Tuple[torch.Tensor, torch.Tensor]


def probe_seed(seed: int, stream: int, draw: int = 0) -> int:
    """The seed of ``stream`` (``TRAIN_IMAGES``, ``TEST_IMAGES``, ``CLASSIFIER``) for draw ``draw``."""
    return mix_seed(seed, stream, draw)


@dataclass(frozen=True, eq=False)
class ProbeSamples:
    """The target images a probe reads.

    Attributes:
        train: the target's whole training split.
        test: the target's whole test split.
        draws: each draw's training images, indices into ``train`` in increasing order.
        test_images: the test images of every draw, indices into ``test`` in increasing order.
        seed: the probe seed they were drawn with.
    """

    train: ClassificationDataset
    test: ClassificationDataset
    draws: Tuple[Tuple[int, ...], ...]
    test_images: Tuple[int, ...]
    seed: int

    @classmethod
    def draw(
        cls,
        train: ClassificationDataset,
        test: ClassificationDataset,
        seed: int,
        draws: int = 3,
        max_train: int = 0,
        max_test: int = 0,
    ) -> "ProbeSamples":
        """``draws`` training samples of at most ``max_train`` images and one test sample of at most
        ``max_test`` (0: the whole split), all drawn from the probe seed ``seed``."""
        if draws < 1:
            raise UserError(f"the probe needs at least one draw, got {draws}")
        chosen = tuple(
            tuple(random_indices(len(train), max_train, probe_seed(seed, TRAIN_IMAGES, d))) for d in range(draws)
        )
        test_images = tuple(random_indices(len(test), max_test, probe_seed(seed, TEST_IMAGES)))
        return cls(train, test, chosen, test_images, seed)

    @property
    def union(self) -> Tuple[int, ...]:
        """The training images of any draw, in increasing order: what the appendix protocol extracts."""
        return tuple(sorted(set().union(*self.draws)))

    @property
    def train_images(self) -> int:
        """Training images per draw."""
        return len(self.draws[0])

    def training_set(self, draw: int) -> ClassificationDataset:
        """Draw ``draw``'s training images (release protocol)."""
        return _view(self.train, self.draws[draw])

    @property
    def test_set(self) -> ClassificationDataset:
        return _view(self.test, self.test_images)


def _view(dataset: ClassificationDataset, indices: Sequence[int]) -> ClassificationDataset:
    return dataset if len(indices) == len(dataset) else Subset(dataset, indices)


def _digest(indices: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, indices)).encode()).hexdigest()


@dataclass(frozen=True)
class ProbeResult:
    """A network's measurement: each draw's top-1 (percent) and their mean.

    Attributes:
        top1_draws: each draw's top-1 on the test images, in draw order.
        seed: the probe seed.
    """

    top1_draws: Tuple[float, ...]
    seed: int

    @property
    def top1(self) -> float:
        """The mean of the draws' top-1."""
        return sum(self.top1_draws) / len(self.top1_draws)

    def row(self) -> Dict[str, Any]:
        """The table's entries: ``top1`` (the mean), ``top1_draws`` (each draw's; both percent, 4 decimals),
        ``draws`` and ``probe_seed``."""
        return {
            "top1": round(self.top1, 4),
            "top1_draws": [round(value, 4) for value in self.top1_draws],
            "draws": len(self.top1_draws),
            "probe_seed": self.seed,
        }


@contextlib.contextmanager
def _own_random_streams(device: str) -> Iterator[None]:
    """The caller's global random streams (CPU, and ``device`` when CUDA) restored afterwards."""
    where = torch.device(device)
    devices = [where.index if where.index is not None else torch.cuda.current_device()] if where.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


@dataclass(frozen=True)
class TransferProbe:
    """``draws`` probes of a protocol on one network; see the module docstring.

    Attributes:
        samples: the images (``ProbeSamples.draw``).
        settings: ``ProbeSchedule`` (appendix protocol) or ``ReleaseProbe`` (the authors' transfer.py);
            each draw replaces their ``seed`` with its own.
        feature_batch_size: images per batch of the feature extraction.
        num_workers: loader processes.
        cache_dir: appendix protocol: keep the extracted features there, keyed by the checkpoint file ("": off).
        cache_id: names the target's images in the cache key (its splits, root and classes).
    """

    samples: ProbeSamples
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

    def draw_settings(self, draw: int) -> Settings:
        """The settings of draw ``draw``: its own classifier initialisation and batch order."""
        return replace(self.settings, seed=probe_seed(self.samples.seed, CLASSIFIER, draw))

    def measure(
        self,
        network: nn.Module,
        transform,
        *,
        device: Optional[str] = None,
        checkpoint: str = "",
        name: str = "probe",
        progress: bool = False,
    ) -> ProbeResult:
        """Every draw's top-1 of ``network`` on the target's images seen through ``transform``.

        The network is left as it is, and so are the caller's global random streams; within each
        draw they are seeded with the draw's seed (a stochastic layer in the release's train mode).

        Args:
            network: a backbone (``forward_pre_logits``, ``num_features``); it stays on its device.
            transform: the images' transform (``targets.probe_transform``).
            device: where the classifiers train (default: the network's device).
            checkpoint: the file ``network`` was loaded from; with ``cache_dir`` its features are cached.
            name: names the progress, the log lines and the cache files (e.g. "ctc epoch 3").
            progress: show progress (a tqdm bar on a terminal, log lines otherwise).
        """
        device = device or str(next(network.parameters()).device)
        num_classes = self.samples.train.num_classes
        top1 = []
        with _own_random_streams(device):
            if self.protocol == "appendix":
                train, labels = self._features(network, transform, "train", checkpoint, name, progress)
                test = self._features(network, transform, "test", checkpoint, name, progress)
                union = torch.tensor(self.samples.union)
            for draw, images in enumerate(self.samples.draws):
                settings = self.draw_settings(draw)
                torch.manual_seed(settings.seed)
                kind = "probe" if self.protocol == "appendix" else "release probe"
                desc = f"{name} {kind}: draw {draw + 1}/{len(self.samples.draws)}"
                if self.protocol == "appendix":
                    rows = torch.searchsorted(union, torch.tensor(images))
                    accuracy = probe_accuracy(
                        (train[rows], labels[rows]), test, num_classes, settings, device=device, progress=progress,
                        desc=desc,
                    )  # fmt: skip
                else:
                    accuracy = release_probe_accuracy(
                        network, self.samples.training_set(draw), self.samples.test_set, transform, num_classes,
                        settings, device=device, num_workers=self.num_workers, progress=progress, desc=desc,
                    )  # fmt: skip
                top1.append(100.0 * accuracy)
        return ProbeResult(tuple(top1), self.samples.seed)

    def _features(
        self, network: nn.Module, transform, split: str, checkpoint: str, name: str, progress: bool
    ) -> Features:
        """Features of the union of the draws' training images (``split`` "train") or of the test images."""
        if split == "train":
            indices, dataset = self.samples.union, _view(self.samples.train, self.samples.union)
        else:
            indices, dataset = self.samples.test_images, self.samples.test_set
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
            "images": len(indices),
            "indices_sha256": _digest(indices),
            "transform": repr(transform),
            "checkpoint": os.path.abspath(checkpoint),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        path = os.path.join(self.cache_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", desc.replace(" ", "_")) + ".pt")
        return cached_features(path, key, compute)

    def describe(self) -> Dict[str, Any]:
        """What every measurement shares: ``train_images`` (per draw), ``test_images``, ``protocol`` and
        ``steps`` (appendix: SGD steps; release: epochs)."""
        return {
            "train_images": self.samples.train_images,
            "test_images": len(self.samples.test_images),
            "protocol": self.protocol,
            "steps": self.length,
        }


def build_transfer_probe(
    target: Target,
    settings: Settings,
    *,
    seed: int,
    draws: int = 3,
    max_train: int = 0,
    max_test: int = 0,
    feature_batch_size: int = 256,
    num_workers: int = 0,
    cache_dir: str = "",
) -> TransferProbe:
    """The probe of ``target``: its splits, the draws' images drawn from the probe seed ``seed``.

    Raises:
        UserError: the target cannot be read, or ``draws`` is below 1.
    """
    train, test = build_target_splits(target)
    samples = ProbeSamples.draw(train, test, seed, draws, max_train, max_test)
    cache_id = json.dumps([target.train, target.test, os.path.abspath(target.root), list(target.classes)])
    return TransferProbe(samples, settings, feature_batch_size, num_workers, cache_dir, cache_id)
