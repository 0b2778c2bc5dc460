"""A Detectron2 stem for CIFAR-style ResNets (3x3 stride-1 conv, no max-pool)."""

import torch
import torch.nn.functional as F  # noqa: N812  (torch convention)
from detectron2.layers import CNNBlockBase, Conv2d, get_norm

CIFAR_STEM_STRIDES = (1, 4)


class CifarStem(CNNBlockBase):
    """The CIFAR stem of the CRD/CTC releases, under Detectron2's names (``conv1``, ``conv1.norm``).

    Args:
        in_channels: input channels (3).
        out_channels: stem width (64).
        norm: normalisation, as for ``detectron2.layers.get_norm``.
        stride: 1 computes exactly the pretraining stem (3x3 stride-1 conv, BN, ReLU).
            4 runs the same conv at stride 2, which samples the stride-1 output at even
            positions, then a 3x3 stride-2 max-pool, as in the ImageNet stem; the
            features land at the strides Detectron2's FPN heads expect.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 64, norm: str = "BN", stride: int = 4) -> None:
        if stride not in CIFAR_STEM_STRIDES:
            raise ValueError(f"CIFAR stem stride must be one of {CIFAR_STEM_STRIDES}, got {stride}")
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = Conv2d(
            in_channels,
            out_channels,
            kernel_size=3,
            stride=1 if stride == 1 else 2,
            padding=1,
            bias=False,
            norm=get_norm(norm, out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu_(self.conv1(x))
        if self.stride > 1:
            x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        return x
