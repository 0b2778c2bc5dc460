"""A faster, numerically equivalent copy of the frozen information bank for its forward pass."""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _foldable() -> tuple:
    """Modules whose forward applies ``bnI`` directly to ``convI``'s output (and whose
    ``downsample`` is ``Sequential(conv, bn)``): torchvision's ResNet and its blocks."""
    try:
        from torchvision.models import resnet as tv_resnet  # only to recognise its classes
    except ImportError:
        return ()
    return (tv_resnet.ResNet, tv_resnet.BasicBlock, tv_resnet.Bottleneck)


@torch.no_grad()
def inference_copy(network: nn.Module, memory_format: torch.memory_format = torch.contiguous_format) -> nn.Module:
    """An eval-mode, no-grad copy of ``network`` with BatchNorm folded into the convolutions.

    In eval mode BatchNorm is an affine map per channel, so folding it into the preceding
    convolution's weight and bias computes the same features (to float rounding) without a
    pass over every activation map. Only torchvision ResNets and blocks are folded; any
    other module is copied unchanged.

    Args:
        network: the frozen network (its own state is untouched).
        memory_format: layout of the copy's weights (``torch.channels_last`` to match a
            channels_last network).
    """
    network = copy.deepcopy(network).eval()
    foldable = _foldable()
    for module in network.modules():
        if not foldable or not isinstance(module, foldable):
            continue
        for i in (1, 2, 3):
            conv, bn = getattr(module, f"conv{i}", None), getattr(module, f"bn{i}", None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, f"conv{i}", fuse_conv_bn_eval(conv, bn))
                setattr(module, f"bn{i}", nn.Identity())
        downsample = getattr(module, "downsample", None)
        if (
            isinstance(downsample, nn.Sequential)
            and len(downsample) == 2
            and isinstance(downsample[0], nn.Conv2d)
            and isinstance(downsample[1], nn.BatchNorm2d)
        ):
            module.downsample = nn.Sequential(fuse_conv_bn_eval(downsample[0], downsample[1]))
    return network.to(memory_format=memory_format).requires_grad_(False)
