from .build import build_backbone
from .resnet import ResNet

__all__ = ["ResNet", "build_backbone"]
