"""Training and test transforms per image style, with torchvision's AutoAugment policies."""

from typing import Dict, Tuple

from torchvision import transforms as T

NORMALIZATION: Dict[str, Tuple[Tuple[float, ...], Tuple[float, ...]]] = {
    "cifar": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),  # CIFAR-100 statistics
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision's
    "mnist": ((0.2860, 0.2860, 0.2860), (0.3530, 0.3530, 0.3530)),  # Fashion-MNIST statistics
}
AUTOAUGMENT_POLICY = {
    "cifar": T.AutoAugmentPolicy.CIFAR10,
    "mnist": T.AutoAugmentPolicy.CIFAR10,
    "imagenet": T.AutoAugmentPolicy.IMAGENET,
}


def build_transform(style: str, train: bool, image_size: int, auto_augment: bool = False) -> T.Compose:
    """The transform of a dataset style; output is a normalised 3 x size x size tensor.

    "cifar" and "mnist": pad-and-crop plus flips (the CRD/CTC recipe; Fashion-MNIST is first
    padded from 28 to 32 and made 3-channel). "imagenet": RandomResizedCrop plus flips for
    training, resize to size*256/224 and a centre crop for testing.
    """
    if style not in NORMALIZATION:
        raise ValueError(f"unknown image style {style!r}; known: {sorted(NORMALIZATION)}")
    steps = []
    if style == "mnist":
        steps += [T.Pad(2), T.Grayscale(num_output_channels=3)]
    if style == "imagenet":
        if train:
            steps += [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
        else:
            steps += [T.Resize(round(image_size * 256 / 224)), T.CenterCrop(image_size)]
    else:
        native = 32
        if image_size != native:
            steps.append(T.Resize(image_size))
        if train:
            steps += [T.RandomCrop(image_size, padding=image_size // 8), T.RandomHorizontalFlip()]
    if train and auto_augment:
        steps.append(T.AutoAugment(AUTOAUGMENT_POLICY[style]))
    mean, std = NORMALIZATION[style]
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)
