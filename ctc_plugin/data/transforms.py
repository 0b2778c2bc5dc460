"""Training and test transforms per image style, with AutoAugment (torchvision's or the release's) and Cutout."""

from typing import Dict, Optional, Sequence, Tuple

import torch
from torchvision import transforms as T

from .release_autoaugment import ReleaseCIFAR10Policy

Normalization = Tuple[Sequence[float], Sequence[float]]
NORMALIZATION: Dict[str, Normalization] = {
    "cifar": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),  # CIFAR-100 statistics
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision's
    "mnist": ((0.2860, 0.2860, 0.2860), (0.3530, 0.3530, 0.3530)),  # Fashion-MNIST statistics
}
AUTOAUGMENT_POLICY = {
    "cifar": T.AutoAugmentPolicy.CIFAR10,
    "mnist": T.AutoAugmentPolicy.CIFAR10,
    "imagenet": T.AutoAugmentPolicy.IMAGENET,
}
# Whose AutoAugment: torchvision's (the style's policy, black fill) or the release's CIFAR10Policy.
AUTO_AUGMENT_POLICIES = ("torchvision", "release")


class Cutout:
    """Zero one ``length`` x ``length`` square of a (C, H, W) tensor (DeVries and Taylor 2017).

    The square's centre is uniform over the image and the square is clipped at its borders, as in
    the reference implementation; drawn from torch's generator, so it follows the sample's seed.
    """

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        y, x = int(torch.randint(height, (1,))), int(torch.randint(width, (1,)))
        half = self.length // 2
        image = image.clone()
        image[..., max(0, y - half) : min(height, y + half), max(0, x - half) : min(width, x + half)] = 0
        return image

    def __repr__(self) -> str:
        return f"{type(self).__name__}(length={self.length})"


def build_transform(
    style: str,
    train: bool,
    image_size: int,
    auto_augment: bool = False,
    normalization: Optional[Normalization] = None,
    cutout: int = 0,
    crop_and_flip: bool = True,
    auto_augment_policy: str = "torchvision",
) -> T.Compose:
    """The transform of a dataset style; output is a normalised 3 x size x size tensor.

    "cifar" and "mnist": pad-and-crop plus flips (the CRD/CTC recipe; Fashion-MNIST is first
    padded from 28 to 32 and made 3-channel). "imagenet": RandomResizedCrop plus flips for
    training, resize to size*256/224 and a centre crop for testing.

    Args:
        normalization: (mean, std) on the 0-1 scale; default the style's own statistics. A
            network must see the normalisation it was trained with, whatever the images.
        cutout: with ``train``, zero one square of this side after AutoAugment (0: none).
        crop_and_flip: with ``train``, the random crop and flip above; False gives the test view's
            geometry (AutoAugment and Cutout still apply when asked for).
        auto_augment_policy: with ``auto_augment``, "torchvision" (its policy for the style) or
            "release" (the authors' CIFAR10Policy, ``release_autoaugment.py``).
    """
    if style not in NORMALIZATION:
        raise ValueError(f"unknown image style {style!r}; known: {sorted(NORMALIZATION)}")
    if auto_augment_policy not in AUTO_AUGMENT_POLICIES:
        raise ValueError(f"unknown AutoAugment policy {auto_augment_policy!r}; known: {list(AUTO_AUGMENT_POLICIES)}")
    steps = []
    if style == "mnist":
        steps += [T.Pad(2), T.Grayscale(num_output_channels=3)]
    if style == "imagenet":
        if train and crop_and_flip:
            steps += [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
        else:
            steps += [T.Resize(round(image_size * 256 / 224)), T.CenterCrop(image_size)]
    else:
        steps.append(T.Resize(image_size))  # a no-op at the images' own size (32 for CIFAR)
        if train and crop_and_flip:
            steps += [T.RandomCrop(image_size, padding=image_size // 8), T.RandomHorizontalFlip()]
    if train and auto_augment:
        policy = (
            ReleaseCIFAR10Policy() if auto_augment_policy == "release" else T.AutoAugment(AUTOAUGMENT_POLICY[style])
        )
        steps.append(policy)
    steps.append(T.ToTensor())
    if train and cutout:
        steps.append(Cutout(cutout))
    mean, std = normalization or NORMALIZATION[style]
    steps.append(T.Normalize(list(mean), list(std)))
    return T.Compose(steps)
