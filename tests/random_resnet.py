"""Test helper: torchvision-style ResNets with random weights and random BN statistics."""

import torch
from torch import nn

from ctc_plugin.models.resnet import ResNet


def random_resnet(depth: int, stem: str = "imagenet", num_classes: int = 10, seed: int = 0) -> ResNet:
    """A ResNet whose BN affine parameters and running statistics are all random, so a
    converter that swaps or drops any of them computes something else."""
    torch.manual_seed(seed)
    network = ResNet(depth, stem=stem, num_classes=num_classes)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
    return network.eval()


def save_pretrain_checkpoint(network: ResNet, path: str) -> str:
    """Write ``network`` in the format of tools/pretrain.py's checkpoints."""
    torch.save({"model": network.state_dict(), "arch": network.arch, "epoch": 1}, path)
    return str(path)
