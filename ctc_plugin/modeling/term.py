"""The contract of CTC's contrastive terms: each holds its heads, memories and loss for one stage."""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn

from ..utils.distributed import gather_rows


@dataclass
class StepInputs:
    """What a term sees of one training step (every tensor on the method's device).

    Attributes:
        images: (B, 3, H, W), channels_last when the network is.
        features: (B, D) the backbone's pooled features, with grad.
        labels: (B,) class labels.
        indices: (B,) dataset indices: the samples' memory slots.
        generator: the step's generator on the method's device, seeded by (seed, iteration, rank).
    """

    images: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    generator: torch.Generator


@dataclass
class TermData:
    """What a term's builder knows of the run besides the config.

    Attributes:
        targets: (N,) the training set's labels; N is the number of memory slots.
        num_features: width of the backbone's pooled features.
        generator: seeds the memories' initialisation (shared by the terms, in their order).
        device: where the memories live.
    """

    targets: torch.Tensor
    num_features: int
    generator: torch.Generator
    device: torch.device

    @property
    def num_data(self) -> int:
        return self.targets.numel()


# Every training image once, in batches of (images, labels, indices), the same batch count on every rank.
TrainingImages = Callable[[], Iterable]


def full_precision(device: torch.device) -> torch.autocast:
    """Autocast off: memory products and exp(s / 0.07) stay in float32 under AMP."""
    return torch.autocast(device_type=device.type, enabled=False)


class LossTerm(nn.Module):
    """One term ``weight * L`` of CTC's loss, active in stage ``stage``.

    A subclass sets ``name`` (the loss is logged as ``loss_<name>``) and ``stage``, builds its
    heads as submodules, and implements ``loss``; when it keeps memories it calls
    ``keep_update`` in ``loss`` and implements ``apply_update``, which CTC runs after the
    optimizer step on every rank with the step's tensors gathered from all ranks. State that
    is not a parameter (memories, Z) goes through ``get_extra_state`` / ``set_extra_state``,
    so ``state_dict()`` holds the whole term.

    Args:
        weight: the term's weight in the loss (alpha, beta).
    """

    name: str = ""
    stage: int = 1

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight
        self._pending: Tuple[torch.Tensor, ...] = ()

    def head_parameters(self) -> List[nn.Parameter]:
        """The parameters the optimizer trains (default: all of the term's)."""
        return list(self.parameters())

    def begin(self, backbone: nn.Module, training_images: Optional[TrainingImages] = None) -> None:
        """Called when the term's stage starts (stage 2: with the network at the end of stage 1).

        Args:
            training_images: when the stage starts in training (not when a checkpoint is
                loaded), a loader over every training image, for a term that reads them then.
        """

    def loss(self, inputs: StepInputs) -> torch.Tensor:
        raise NotImplementedError

    def keep_update(self, *tensors: torch.Tensor) -> None:
        """Remember this step's tensors (detached) for ``apply_update`` after the optimizer step."""
        self._pending = tuple(t.detach() for t in tensors)

    @torch.no_grad()
    def update(self) -> None:
        """Apply the kept update, gathered from all ranks (call on every rank after the step)."""
        if self._pending:
            pending, self._pending = [gather_rows(t) for t in self._pending], ()
            self.apply_update(*pending)

    def apply_update(self, *tensors: torch.Tensor) -> None:
        """Update the memories from one step's gathered tensors (a term without memories has none)."""

    def get_extra_state(self) -> Dict[str, Any]:
        return {}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        pass
