"""torchvision-compatible ResNets with an ImageNet or a CIFAR stem.

The parameter and buffer names are exactly torchvision's, so
``torchvision.models.resnet50().load_state_dict(net.state_dict())`` takes our weights
(the CIFAR stem only changes the shape of ``conv1.weight`` and drops the max-pool,
which has no parameters).
"""

from typing import Dict, Union

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

STEMS = ("imagenet", "cifar")
BLOCKS: Dict[int, tuple] = {
    18: (tv_resnet.BasicBlock, (2, 2, 2, 2)),
    34: (tv_resnet.BasicBlock, (3, 4, 6, 3)),
    50: (tv_resnet.Bottleneck, (3, 4, 6, 3)),
    101: (tv_resnet.Bottleneck, (3, 4, 23, 3)),
}


class ResNet(tv_resnet.ResNet):
    """torchvision's ResNet, plus ``forward_pre_logits`` and a CIFAR stem.

    Args:
        depth: 18, 34, 50 or 101.
        stem: "imagenet" (7x7 stride-2 conv and 3x3 max-pool) or "cifar"
            (3x3 stride-1 conv, no max-pool), as in the CRD/CTC releases.
        num_classes: width of the classifier ``fc``.
    """

    def __init__(self, depth: int, stem: str = "imagenet", num_classes: int = 1000) -> None:
        if depth not in BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(BLOCKS)}, got {depth}")
        if stem not in STEMS:
            raise ValueError(f"ResNet stem must be one of {STEMS}, got {stem!r}")
        block, layers = BLOCKS[depth]
        super().__init__(block, list(layers), num_classes=num_classes)
        self.depth = depth
        self.stem = stem
        self.num_features = 512 * block.expansion
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
            self.maxpool = nn.Identity()

    @property
    def arch(self) -> Dict[str, Union[int, str]]:
        """What a converter needs to rebuild this network: depth, stem, num_classes."""
        return {"depth": self.depth, "stem": self.stem, "num_classes": self.fc.out_features}

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled penultimate features, (B, num_features)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_pre_logits(x))
