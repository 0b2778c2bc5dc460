"""The ResNets are torchvision's, key for key, and the backbone registry takes users' networks."""

import pytest
import torch
import torchvision
from torch import nn

from ctc_plugin import BACKBONE_REGISTRY
from ctc_plugin.backbones import ResNet, build_backbone
from ctc_plugin.config import get_cfg


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
@pytest.mark.parametrize("stem", ["imagenet", "cifar"])
def test_state_dict_is_torchvision_s(depth, stem):
    ours = ResNet(depth, stem=stem, num_classes=100)
    reference = getattr(torchvision.models, f"resnet{depth}")(num_classes=100)
    if stem == "cifar":
        reference.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        reference.maxpool = nn.Identity()
    assert list(ours.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(ours.state_dict())  # strict
    x = torch.randn(2, 3, 32, 32)
    ours.eval(), reference.eval()
    assert torch.equal(ours(x), reference(x))


def test_imagenet_stem_weights_load_into_plain_torchvision():
    torchvision.models.resnet50().load_state_dict(ResNet(50, num_classes=1000).state_dict())


def test_cifar_stem_keeps_resolution():
    network = ResNet(18, stem="cifar")
    assert network.conv1.kernel_size == (3, 3) and network.conv1.stride == (1, 1)
    assert isinstance(network.maxpool, nn.Identity)
    assert network.forward_pre_logits(torch.randn(1, 3, 32, 32)).shape == (1, 512)


def test_bad_depth_or_stem_is_refused():
    with pytest.raises(ValueError, match="depth"):
        ResNet(20)
    with pytest.raises(ValueError, match="stem"):
        ResNet(18, stem="tiny")


def test_users_register_their_own_backbone():
    class TinyNet(nn.Module):
        num_features = 8

        def __init__(self, num_classes):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(8, num_classes)

        def forward_pre_logits(self, x):
            return self.body(x)

        def forward(self, x):
            return self.fc(self.forward_pre_logits(x))

    @BACKBONE_REGISTRY.register()
    def build_tiny_test_net(cfg):
        return TinyNet(cfg.MODEL.NUM_CLASSES)

    cfg = get_cfg()
    cfg.MODEL.BACKBONE, cfg.MODEL.NUM_CLASSES = "build_tiny_test_net", 3
    assert build_backbone(cfg)(torch.randn(2, 3, 8, 8)).shape == (2, 3)
