"""ImageNet in torchvision's ImageFolder layout: ``ROOT/train/<wnid>/*.JPEG``, ``ROOT/val/<wnid>/``."""

import os

from PIL import Image
from torchvision.datasets import ImageFolder

from ..registry import DATASET_REGISTRY
from ..utils.errors import UserError
from .base import ClassificationDataset


class ImageNet(ClassificationDataset):
    """Any class-per-folder image tree, read by torchvision's ``ImageFolder`` index."""

    style = "imagenet"

    def __init__(self, folder: str) -> None:
        if not os.path.isdir(folder):
            raise UserError(f"image folder missing: {folder}")
        try:
            self.index = ImageFolder(folder)
        except (FileNotFoundError, RuntimeError) as e:
            raise UserError(f"no images in {folder}: {e}") from None
        super().__init__(self.index.targets, self.index.classes)
        self.image_paths = [path for path, _ in self.index.samples]

    def load_image(self, index: int) -> Image.Image:
        return self.index.loader(self.image_paths[index])


@DATASET_REGISTRY.register()
def imagenet_train(root: str) -> ImageNet:
    return ImageNet(os.path.join(root, "train"))


@DATASET_REGISTRY.register()
def imagenet_val(root: str) -> ImageNet:
    return ImageNet(os.path.join(root, "val"))
