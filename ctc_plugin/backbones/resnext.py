"""The CIFAR ResNeXt of the authors' release (``models/resnext.py``), e.g. ``resnext32_16x4d``.

Xie et al.'s ResNeXt for 32 x 32 images, laid out as the release lays it out: a 3x3 stride-1
stem of 32 channels (no pooling), three stages of ``(depth - 2) // 6`` bottlenecks of widths
``64 * widen_factor * (1, 2, 4) / 2`` at strides 1, 2, 2, global average pooling and a linear
classifier. A bottleneck is 1x1 reduce, 3x3 grouped conv (``cardinality`` groups, the stride),
1x1 expand, each followed by BatchNorm, with a 1x1 conv + BatchNorm shortcut where the width
changes. The parameter names are the release's (``conv_1_3x3``, ``stage_1`` ...), but the
classifier is ``fc`` (the backbone contract; the release calls it ``classifier``).
"""

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# name -> (cardinality, depth, base_width, widen_factor), the release's four factories.
RESNEXT_VARIANTS: Dict[str, Tuple[int, int, int, int]] = {
    "resnext32_4x16d": (4, 32, 16, 4),
    "resnext32_8x8d": (8, 32, 8, 4),
    "resnext32_16x4d": (16, 32, 4, 4),
    "resnext32_32x2d": (32, 32, 2, 4),
}


class ResNeXtBottleneck(nn.Module):
    """1x1 reduce, 3x3 grouped conv, 1x1 expand (ResNeXt's type C), with a projection where the width changes."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, cardinality: int, base_width: int, widen_factor: int
    ) -> None:
        super().__init__()
        width = cardinality * int(base_width * out_channels / (widen_factor * 64.0))
        self.conv_reduce = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn_reduce = nn.BatchNorm2d(width)
        self.conv_conv = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.conv_expand = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn_expand = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if in_channels != out_channels:
            self.shortcut.add_module(
                "shortcut_conv", nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            )
            self.shortcut.add_module("shortcut_bn", nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn_reduce(self.conv_reduce(x)), inplace=True)
        out = F.relu(self.bn(self.conv_conv(out)), inplace=True)
        out = self.bn_expand(self.conv_expand(out))
        return F.relu(self.shortcut(x) + out, inplace=True)


class CifarResNeXt(nn.Module):
    """The release's ``CifarResNeXt(cardinality, depth, base_width, widen_factor, num_classes)``.

    Args:
        cardinality: groups of every 3x3 conv.
        depth: (depth - 2) // 6 bottlenecks per stage (32: 5).
        base_width: channels per group at the first stage's width, scaled with the stage.
        widen_factor: stage widths 64 * widen_factor * (1, 2, 4) / 2.
        num_classes: width of the classifier ``fc``.
    """

    def __init__(self, cardinality: int, depth: int, base_width: int, widen_factor: int = 4, num_classes: int = 100):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNeXt depth must be 6n + 2 (e.g. 32), got {depth}")
        blocks = (depth - 2) // 6
        widths = [32, 32 * widen_factor, 64 * widen_factor, 128 * widen_factor]
        self.conv_1_3x3 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
        self.bn_1 = nn.BatchNorm2d(32)
        for index, stride in enumerate((1, 2, 2)):
            stage = nn.Sequential()
            for block in range(blocks):
                in_channels = widths[index] if block == 0 else widths[index + 1]
                bottleneck = ResNeXtBottleneck(
                    in_channels, widths[index + 1], stride if block == 0 else 1, cardinality, base_width, widen_factor
                )
                stage.add_module(f"stage_{index + 1}_bottleneck_{block}", bottleneck)
            self.add_module(f"stage_{index + 1}", stage)
        self.num_features = widths[3]
        self.fc = nn.Linear(self.num_features, num_classes)
        self._initialise()

    def _initialise(self) -> None:
        """The release's: kaiming-normal convs (fan-out) and classifier (fan-in), BatchNorm 1 / 0, biases 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.kaiming_normal_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled features, (B, num_features)."""
        x = F.relu(self.bn_1(self.conv_1_3x3(x)), inplace=True)
        x = self.stage_3(self.stage_2(self.stage_1(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_pre_logits(x))
