"""Test helper: torchvision-style ResNets with random weights and random BN statistics, saved as ours."""

import torch
from torch import nn

from ctc_plugin.backbones import ResNet, backbone_record
from ctc_plugin.config import get_cfg


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


def save_pretrain_checkpoint(network: ResNet, path, epoch: int = 1) -> str:
    """Write ``network`` as ctc-pretrain writes its checkpoints: weights, backbone record, epoch."""
    cfg = get_cfg()
    cfg.MODEL.DEPTH, cfg.MODEL.STEM, cfg.MODEL.NUM_CLASSES = network.depth, network.stem, network.fc.out_features
    torch.save({"model": network.state_dict(), "backbone": backbone_record(cfg), "epoch": epoch}, path)
    return str(path)
