"""Linear probes on frozen features: the paper's "temporal transferability" measurement.

Appendix A.3: a linear classifier re-trained on the target dataset on top of every
epoch's backbone, 15k steps, batch 512, lr 0.4, x0.1 at steps 5k and 10k.

Unlike the authors' release, features are extracted with the backbone in eval mode
(BatchNorm uses its running statistics and does not update them) under ``no_grad``, and
the backbone's train/eval mode is restored afterwards, so probing never changes the
network. Features are extracted once per checkpoint; the probe trains on the cached
tensors.
"""

import logging
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..checkpoint import load_file
from ..utils.device import resolve_device
from ..utils.errors import UserError
from ..utils.io import atomic_torch_save
from .progress import progress as progress_of

logger = logging.getLogger(__name__)

__all__ = [
    "ProbeSchedule",
    "extract_features",
    "train_linear_probe",
    "evaluate_probe",
    "probe_accuracy",
    "cached_features",
]


@dataclass(frozen=True)
class ProbeSchedule:
    """SGD on a linear classifier; defaults are the appendix's (A.3), as are ``TEMPORAL_TRANSFER``'s.

    Attributes:
        steps: optimisation steps (15k).
        batch_size: features per step (512).
        lr: initial learning rate (0.4).
        milestones: steps at which the learning rate is multiplied by ``gamma`` (5k, 10k).
        gamma: learning-rate decay factor (0.1).
        momentum: SGD momentum (not stated in the appendix; 0.9 as in common linear evaluation).
        weight_decay: L2 penalty (0).
        seed: classifier initialisation and batch order.
    """

    steps: int = 15000
    batch_size: int = 512
    lr: float = 0.4
    milestones: Tuple[int, ...] = (5000, 10000)
    gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0

    def scaled(self, factor: float) -> "ProbeSchedule":
        """The same schedule with ``steps`` and ``milestones`` multiplied by ``factor``."""
        steps = max(1, round(self.steps * factor))
        return replace(self, steps=steps, milestones=tuple(max(1, round(m * factor)) for m in self.milestones))

    @classmethod
    def from_config(cls, node) -> "ProbeSchedule":
        """The schedule of a ``TEMPORAL_TRANSFER`` config node."""
        return cls(
            steps=int(node.STEPS),
            batch_size=int(node.BATCH_SIZE),
            lr=float(node.LR),
            milestones=tuple(int(m) for m in node.MILESTONES),
            gamma=float(node.GAMMA),
            momentum=float(node.MOMENTUM),
            weight_decay=float(node.WEIGHT_DECAY),
            seed=int(node.SEED),
        )


class TransformedSamples(Dataset):
    """``(transform(image), label)`` of a dataset of ``(PIL image, label)``."""

    def __init__(self, dataset: Dataset, transform: Callable) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, int]:
        image, label = self.dataset[index]
        return self.transform(image), label


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def extract_features(
    model: nn.Module,
    dataset: Dataset,
    transform: Optional[Callable] = None,
    *,
    batch_size: int = 256,
    num_workers: int = 0,
    progress: bool = False,
    desc: str = "features",
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pooled features of every sample, with the model in eval mode and its modes restored.

    Args:
        model: a network with ``forward_pre_logits(images) -> (B, F)``; it stays on its device.
        dataset: samples ``(image, label)``; images are tensors or what ``transform`` takes.
        transform: applied to every image (e.g. ``build_transform(style, False, size)``).
        batch_size, num_workers: of the loader.
        progress: show progress (a tqdm bar on a terminal, log lines otherwise).
        desc: label of the bar and of the log line.

    Returns:
        ``(features (N, F) float32 on the CPU, labels (N,) int64)``.
    """
    data = TransformedSamples(dataset, transform) if transform is not None else dataset
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    device = _device_of(model)
    modes = [(module, module.training) for module in model.modules()]
    features, labels = [], []
    model.eval()
    try:
        for images, targets in progress_of(loader, desc, enabled=progress):
            out = model.forward_pre_logits(images.to(device, non_blocking=True))
            features.append(out.float().cpu())
            labels.append(torch.as_tensor(targets, dtype=torch.long))
    finally:
        # Restore module by module: a caller may hold some submodules frozen in eval mode.
        for module, training in modes:
            module.training = training
    if not features:
        raise ValueError(f"{desc}: the dataset is empty")
    result = torch.cat(features), torch.cat(labels)
    logger.info(f"{desc}: {result[0].shape[0]} samples x {result[0].shape[1]} features")
    return result


def train_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    schedule: ProbeSchedule = ProbeSchedule(),
    *,
    device: Optional[str] = None,
    progress: bool = False,
    desc: str = "probe",
) -> nn.Linear:
    """Train ``nn.Linear(F, num_classes)`` on cached features with SGD and a step schedule.

    Batches are drawn without replacement within each pass over the features. Returns
    the classifier on ``device`` (default CUDA when available) in eval mode.
    """
    if features.dim() != 2 or features.shape[0] != labels.shape[0] or features.shape[0] == 0:
        raise ValueError(f"bad probe inputs: features {tuple(features.shape)}, labels {tuple(labels.shape)}")
    device = device or resolve_device("auto")
    x = features.to(device=device, dtype=torch.float32)
    y = labels.to(device=device, dtype=torch.long)
    n = x.shape[0]
    batch_size = min(schedule.batch_size, n)
    generator = torch.Generator().manual_seed(schedule.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(schedule.seed)
        classifier = nn.Linear(x.shape[1], num_classes)
    classifier = classifier.to(device)
    optimizer = torch.optim.SGD(
        classifier.parameters(), lr=schedule.lr, momentum=schedule.momentum, weight_decay=schedule.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(schedule.milestones), schedule.gamma)
    order, cursor = torch.randperm(n, generator=generator), 0
    classifier.train()
    for _ in progress_of(range(schedule.steps), desc, enabled=progress):
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        rows = order[cursor : cursor + batch_size].to(device)
        cursor += batch_size
        loss = nn.functional.cross_entropy(classifier(x[rows]), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    if not all(torch.isfinite(p).all() for p in classifier.parameters()):
        logger.warning(f"{desc}: the classifier diverged (non-finite weights); lower the learning rate")
    return classifier.eval()


@torch.no_grad()
def evaluate_probe(classifier: nn.Module, features: torch.Tensor, labels: torch.Tensor, chunk: int = 8192) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of ``classifier`` on features."""
    device = _device_of(classifier)
    correct = 0
    for i in range(0, features.shape[0], chunk):
        logits = classifier(features[i : i + chunk].to(device=device, dtype=torch.float32))
        correct += int((logits.argmax(1).cpu() == labels[i : i + chunk]).sum())
    return correct / max(1, features.shape[0])


def probe_accuracy(
    train: Tuple[torch.Tensor, torch.Tensor],
    test: Tuple[torch.Tensor, torch.Tensor],
    num_classes: int,
    schedule: ProbeSchedule = ProbeSchedule(),
    *,
    device: Optional[str] = None,
    progress: bool = False,
    desc: str = "probe",
) -> float:
    """Train a probe on ``train = (features, labels)``; its top-1 accuracy on ``test``."""
    classifier = train_linear_probe(*train, num_classes, schedule, device=device, progress=progress, desc=desc)
    return evaluate_probe(classifier, *test)


def cached_features(
    path: str, key: Dict[str, Any], compute: Callable[[], Tuple[torch.Tensor, torch.Tensor]]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``compute()``'s features, stored at ``path`` and reused while ``key`` is unchanged.

    ``key`` is a JSON-like dict naming everything the features depend on (checkpoint
    file and its mtime, dataset, classes, image size, ...). A stale or unreadable cache
    file is recomputed and replaced atomically.
    """
    if os.path.isfile(path):
        try:
            stored = load_file(path, "feature cache")
            if stored.get("key") == key:
                return stored["features"], stored["labels"]
        except UserError as e:  # a corrupt cache is not an error: recompute it
            logger.warning(f"ignoring it: {e}")
    features, labels = compute()
    atomic_torch_save({"key": key, "features": features, "labels": labels}, path)
    return features, labels
