"""A faster, numerically equivalent copy of the frozen information bank for its forward pass."""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models import resnet as tv_resnet

# Modules whose forward applies ``bnI`` directly to ``convI``'s output (and whose
# ``downsample`` is ``Sequential(conv, bn)``): torchvision's ResNet and its blocks.
FOLDABLE = (tv_resnet.ResNet, tv_resnet.BasicBlock, tv_resnet.Bottleneck)


@torch.no_grad()
def fold_batch_norm(network: nn.Module) -> bool:
    """Fold every eval-mode BatchNorm of torchvision ResNet modules into its convolution, in place.

    In eval mode BatchNorm is an affine map per channel, so the folded convolution computes
    the same features (to float rounding) without a pass over every activation map. Returns
    whether the whole network was a torchvision ResNet (and so holds no BatchNorm any more).
    """
    for module in network.modules():
        if not isinstance(module, FOLDABLE):
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
    return isinstance(network, FOLDABLE)


class InferenceCopy(nn.Module):
    """An eval-mode, no-grad copy of a network for the frozen bank's ``forward_pre_logits``.

    BatchNorm is folded into the convolutions. On a CPU, in float32 and without autocast, a
    torchvision ResNet also runs with its activations in oneDNN's blocked layout
    (``to_mkldnn``): convolutions then skip the reorders of every input and output
    (docs/benchmarks.md has the measured ratios). The features are the same to float rounding
    on every path. Any network other than a torchvision ResNet is copied unchanged and runs dense.

    Args:
        network: the frozen network (its own state is untouched).
        memory_format: layout of the copy's weights (``torch.channels_last`` to match a
            channels_last network).
    """

    def __init__(self, network: nn.Module, memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.network = copy.deepcopy(network).eval()
        # Only layers the oneDNN layout supports remain once a whole ResNet is folded.
        self.blocked_layout = fold_batch_norm(self.network) and torch.backends.mkldnn.is_available()
        self.network.to(memory_format=memory_format).requires_grad_(False)

    def _use_blocked_layout(self, images: torch.Tensor) -> bool:
        return (
            self.blocked_layout
            and images.device.type == "cpu"
            and images.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
        )

    @torch.no_grad()
    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        if self._use_blocked_layout(images):
            return self.network.forward_pre_logits(images.to_mkldnn()).to_dense()
        return self.network.forward_pre_logits(images)
