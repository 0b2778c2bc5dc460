"""The release's AutoAugment: its ``CIFAR10Policy`` (``dataset/autoaugment.py``), as a transform.

The table follows the release's ``CIFAR10Policy``, which carries the same 25 sub-policies of
Cubuk et al. (2019) for CIFAR-10 as torchvision's ``AutoAugmentPolicy.CIFAR10``: the same
operations, probabilities and magnitude bins, entry by entry (tests/test_data.py compares the
tables). The operations are the release's, not torchvision's, and differ from them in:

- rotations always turn counter-clockwise (no random sign; the release rotates an RGBA copy and
  composites it on grey, nearest-neighbour), where torchvision draws the sign;
- shears resample bicubically (torchvision: nearest);
- translations move by the fractional offset, which nearest-neighbour resampling rounds to the
  nearest pixel (torchvision truncates it: at 32 px, bins 1, 3, 6, 8 and 9 move one pixel further);
- solarize thresholds run from 256 down to 0 (torchvision: 255 down to 0);
- the pixels that geometric operations uncover are grey (128, 128, 128), torchvision's black.

Random draws come from torch's generator, so the policy follows each sample's seed
(``IndexedSamples``) as every other augmentation here does; the release draws from Python's
``random``.
"""

from typing import Callable, Dict, Tuple

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

__all__ = ["RELEASE_CIFAR10_POLICY", "RELEASE_MAGNITUDES", "ReleaseCIFAR10Policy"]

# (operation, probability, magnitude bin) of both steps of each sub-policy, in the release's order.
RELEASE_CIFAR10_POLICY: Tuple[Tuple[Tuple[str, float, int], Tuple[str, float, int]], ...] = (
    (("invert", 0.1, 7), ("contrast", 0.2, 6)),
    (("rotate", 0.7, 2), ("translateX", 0.3, 9)),
    (("sharpness", 0.8, 1), ("sharpness", 0.9, 3)),
    (("shearY", 0.5, 8), ("translateY", 0.7, 9)),
    (("autocontrast", 0.5, 8), ("equalize", 0.9, 2)),
    (("shearY", 0.2, 7), ("posterize", 0.3, 7)),
    (("color", 0.4, 3), ("brightness", 0.6, 7)),
    (("sharpness", 0.3, 9), ("brightness", 0.7, 9)),
    (("equalize", 0.6, 5), ("equalize", 0.5, 1)),
    (("contrast", 0.6, 7), ("sharpness", 0.6, 5)),
    (("color", 0.7, 7), ("translateX", 0.5, 8)),
    (("equalize", 0.3, 7), ("autocontrast", 0.4, 8)),
    (("translateY", 0.4, 3), ("sharpness", 0.2, 6)),
    (("brightness", 0.9, 6), ("color", 0.2, 8)),
    (("solarize", 0.5, 2), ("invert", 0.0, 3)),
    (("equalize", 0.2, 0), ("autocontrast", 0.6, 0)),
    (("equalize", 0.2, 8), ("equalize", 0.6, 4)),
    (("color", 0.9, 9), ("equalize", 0.6, 6)),
    (("autocontrast", 0.8, 4), ("solarize", 0.2, 8)),
    (("brightness", 0.1, 3), ("color", 0.7, 0)),
    (("solarize", 0.4, 5), ("autocontrast", 0.9, 3)),
    (("translateY", 0.9, 9), ("translateY", 0.7, 9)),
    (("autocontrast", 0.9, 2), ("solarize", 0.8, 3)),
    (("equalize", 0.8, 8), ("invert", 0.1, 3)),
    (("translateY", 0.7, 9), ("autocontrast", 0.9, 1)),
)

# Magnitude of each of the 10 bins per operation (translations as a fraction of the image side).
_ENHANCE = np.linspace(0.0, 0.9, 10)
RELEASE_MAGNITUDES: Dict[str, np.ndarray] = {
    "shearX": np.linspace(0.0, 0.3, 10),
    "shearY": np.linspace(0.0, 0.3, 10),
    "translateX": np.linspace(0.0, 150 / 331, 10),
    "translateY": np.linspace(0.0, 150 / 331, 10),
    "rotate": np.linspace(0.0, 30.0, 10),
    "color": _ENHANCE,
    "contrast": _ENHANCE,
    "sharpness": _ENHANCE,
    "brightness": _ENHANCE,
    "posterize": np.round(np.linspace(8, 4, 10)).astype(int),
    "solarize": np.linspace(256.0, 0.0, 10),
    "autocontrast": np.zeros(10),
    "equalize": np.zeros(10),
    "invert": np.zeros(10),
}
FILL = (128, 128, 128)


def _sign() -> int:
    return 1 if int(torch.randint(2, (1,))) else -1


def _affine(image: Image.Image, coefficients: Tuple[float, ...], resample) -> Image.Image:
    return image.transform(image.size, Image.AFFINE, coefficients, resample, fillcolor=FILL)


_OPERATIONS: Dict[str, Callable[[Image.Image, float], Image.Image]] = {
    "shearX": lambda im, m: _affine(im, (1, m * _sign(), 0, 0, 1, 0), Image.BICUBIC),
    "shearY": lambda im, m: _affine(im, (1, 0, 0, m * _sign(), 1, 0), Image.BICUBIC),
    "translateX": lambda im, m: _affine(im, (1, 0, m * im.size[0] * _sign(), 0, 1, 0), Image.NEAREST),
    "translateY": lambda im, m: _affine(im, (1, 0, 0, 0, 1, m * im.size[1] * _sign()), Image.NEAREST),
    "rotate": lambda im, m: im.rotate(m, resample=Image.NEAREST, fillcolor=FILL),
    "color": lambda im, m: ImageEnhance.Color(im).enhance(1 + m * _sign()),
    "contrast": lambda im, m: ImageEnhance.Contrast(im).enhance(1 + m * _sign()),
    "sharpness": lambda im, m: ImageEnhance.Sharpness(im).enhance(1 + m * _sign()),
    "brightness": lambda im, m: ImageEnhance.Brightness(im).enhance(1 + m * _sign()),
    "posterize": lambda im, m: ImageOps.posterize(im, int(m)),
    "solarize": lambda im, m: ImageOps.solarize(im, m),
    "autocontrast": lambda im, m: ImageOps.autocontrast(im),
    "equalize": lambda im, m: ImageOps.equalize(im),
    "invert": lambda im, m: ImageOps.invert(im),
}


class ReleaseCIFAR10Policy:
    """One of the 25 sub-policies, drawn uniformly; each of its two steps applies with its probability."""

    def __call__(self, image: Image.Image) -> Image.Image:
        steps = RELEASE_CIFAR10_POLICY[int(torch.randint(len(RELEASE_CIFAR10_POLICY), (1,)))]
        for operation, probability, magnitude_bin in steps:
            if float(torch.rand(1)) < probability:
                image = _OPERATIONS[operation](image, RELEASE_MAGNITUDES[operation][magnitude_bin])
        return image

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fill={FILL})"
