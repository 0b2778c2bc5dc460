#!/usr/bin/env python
"""Mask R-CNN FPN on COCO from CTC-pretrained (or any torchvision-style) ResNet weights.

Installed with the package as the command ``ctc-train-net`` (``ctc_plugin.cli.train_net``).
"""

import sys

from ctc_plugin.cli.train_net import main

if __name__ == "__main__":
    sys.exit(main())
