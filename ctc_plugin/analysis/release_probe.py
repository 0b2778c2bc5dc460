"""The authors' temporal-transfer probe (``transfer.py`` of their release), as a protocol of its own.

It differs from the appendix protocol (``linear_probe``) in what the network does while the
classifier trains: the whole network runs in **train mode** on every step, so BatchNorm
normalises with the batch's statistics and its running statistics drift towards the target
data; only the new classifier is optimised (SGD, momentum 0.9, weight decay 5e-4, lr 0.4,
batch 512, cosine over 30 epochs, stepped per epoch); after every epoch the network is
evaluated in eval mode (with the drifted statistics), and the **best** epoch is reported.
The probe runs on a copy: the network given is left as it was.
"""

import copy
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..utils.errors import UserError
from .linear_probe import TransformedSamples, evaluate_probe
from .progress import progress as progress_of

# CIFAR-100's statistics as the release writes them.
RELEASE_CIFAR100 = ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
# What transfer.py feeds the network, per target: its test split and normalisation (STL-10 with
# CIFAR-100's statistics as the release writes them, CINIC-10 with its own, on the valid split),
# every image resized to 32 x 32.
RELEASE_TARGETS = {
    "stl10": {"test": "stl10_test", "normalization": RELEASE_CIFAR100},
    "cinic10": {
        "test": "cinic10_valid",
        "normalization": ((0.47889522, 0.47227842, 0.43047404), (0.24205776, 0.23828046, 0.25874835)),
    },
}
# What mine.py reads: a dataset's test loader, the same as transfer.py's, and CIFAR-100's own.
RELEASE_MINE_DATA = {**RELEASE_TARGETS, "cifar100": {"test": "cifar100_test", "normalization": RELEASE_CIFAR100}}
RELEASE_IMAGE_SIZE = 32

Normalization = Tuple[Sequence[float], Sequence[float]]


def release_normalization(base: str, trained: Callable[[], Normalization], table: Dict = RELEASE_TARGETS):
    """The (mean, std) the release normalises dataset ``base`` with, or None where ``table`` has none.

    ``trained`` gives the run's own (mean, std); it is called only to check CIFAR-100's statistics.

    Raises:
        UserError: the release uses CIFAR-100's statistics for ``base`` (STL-10), right for a network
            trained on CIFAR-100-normalised images, but this run was trained with other statistics.
    """
    normalization = table.get(base, {}).get("normalization")
    if normalization is RELEASE_CIFAR100:
        run_normalization = trained()
        trained_values = [float(v) for part in run_normalization for v in part]
        expected = [v for part in RELEASE_CIFAR100 for v in part]
        if len(trained_values) != len(expected) or max(abs(a - b) for a, b in zip(trained_values, expected)) > 2e-3:
            raise UserError(
                f"the release protocol normalises {base} with CIFAR-100's statistics, right only for a network "
                f"trained on CIFAR-style images, but this run was trained with mean {list(run_normalization[0])}: "
                "use the appendix protocol"
            )
    return normalization


@dataclass(frozen=True)
class ReleaseProbe:
    """``transfer.py``'s settings (its argparse defaults).

    Attributes:
        epochs: passes over the target's training images (30).
        batch_size: images per step (512).
        lr: initial learning rate, cosine-annealed to 0 over ``epochs`` (0.4).
        momentum, weight_decay: of SGD on the classifier (0.9, 5e-4).
        seed: the classifier's initialisation and the batch order.
    """

    epochs: int = 30
    batch_size: int = 512
    lr: float = 0.4
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0


@torch.no_grad()
def _features_and_labels(network: nn.Module, loader: DataLoader, device: torch.device):
    features, labels = [], []
    for images, targets in loader:
        features.append(network.forward_pre_logits(images.to(device)).float().cpu())
        labels.append(torch.as_tensor(targets))
    return torch.cat(features), torch.cat(labels)


def release_probe_accuracy(
    network: nn.Module,
    train_set: Dataset,
    test_set: Dataset,
    transform: Callable,
    num_classes: int,
    settings: ReleaseProbe = ReleaseProbe(),
    *,
    device: Optional[str] = None,
    num_workers: int = 0,
    progress: bool = False,
    desc: str = "release probe",
) -> float:
    """The best test top-1 (a fraction) over ``settings.epochs`` epochs of the release's probe.

    Args:
        network: a backbone (``forward_pre_logits``, ``num_features``); a copy is probed, with a new classifier.
        train_set, test_set: the target's splits, samples ``(image, label)``.
        transform: the images' transform (the release: resize to 32, no augmentation).
        num_classes: the target's classes.
    """
    device = torch.device(device or next(network.parameters()).device)
    probed = copy.deepcopy(network).to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        classifier = nn.Linear(probed.num_features, num_classes).to(device)
    probed.requires_grad_(False)  # only the new classifier is optimised; its gradient is all SGD uses
    optimizer = torch.optim.SGD(
        classifier.parameters(), lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    generator = torch.Generator().manual_seed(settings.seed)
    train = DataLoader(
        TransformedSamples(train_set, transform),
        batch_size=settings.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=num_workers,
    )
    test = DataLoader(TransformedSamples(test_set, transform), batch_size=settings.batch_size, num_workers=num_workers)
    best = 0.0
    for _ in progress_of(range(settings.epochs), desc, enabled=progress):
        probed.train()  # BatchNorm in train mode, as the release: batch statistics, running ones drift
        for images, labels in train:
            logits = classifier(probed.forward_pre_logits(images.to(device)))
            loss = nn.functional.cross_entropy(logits, torch.as_tensor(labels).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        probed.eval()
        best = max(best, evaluate_probe(classifier, *_features_and_labels(probed, test, device)))
    return best
