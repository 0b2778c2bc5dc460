"""Training and test views from timm's ``resolve_data_config`` / ``create_transform`` (bridges to timm)."""

import random
from typing import Callable, Tuple

import torch
from torch import nn


class PythonRandomFromTorch:
    """Run a transform with Python's ``random`` seeded from torch's generator, then restore it.

    timm's random-resized crop draws from Python's ``random``; ``IndexedSamples`` seeds only
    torch per (seed, epoch, index). Deriving Python's seed from torch makes the whole view a
    function of (seed, epoch, index), so a resumed run sees the images an uninterrupted one would.
    """

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, image):
        state = random.getstate()
        random.seed(int(torch.randint(0, 2**62, (1,)).item()))
        try:
            return self.transform(image)
        finally:
            random.setstate(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r})"


def build_fgvc_transforms(cfg, model: nn.Module) -> Tuple[Callable, Callable]:
    """(training view, test view) for ``cfg.INPUT`` and the model's normalisation.

    Training: random-resized crop of ``INPUT.SIZE`` over ``INPUT.SCALE`` of the area,
    horizontal flip, optional colour jitter. Test: resize to ``SIZE / CROP_PCT``, centre
    crop ``SIZE``. Mean and std come from the model's pretrained config (ImageNet's).
    """
    from timm.data import create_transform, resolve_data_config

    size = int(cfg.INPUT.SIZE)
    data_config = resolve_data_config(
        {"input_size": (3, size, size), "crop_pct": cfg.INPUT.CROP_PCT, "interpolation": cfg.INPUT.INTERPOLATION},
        model=model,
    )
    train = create_transform(
        **data_config,
        is_training=True,
        scale=tuple(cfg.INPUT.SCALE),
        hflip=cfg.INPUT.HFLIP,
        color_jitter=cfg.INPUT.COLOR_JITTER or None,
    )
    test = create_transform(**data_config, is_training=False)
    return PythonRandomFromTorch(train), test
