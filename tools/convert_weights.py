#!/usr/bin/env python
"""A CTC-pretrained (or any torchvision-style) ResNet for Detectron2 or timm, verified by computation.

Installed with the package as the command ``ctc-convert`` (``ctc_plugin.cli.convert_weights``).
"""

import sys

from ctc_plugin.cli.convert_weights import main

if __name__ == "__main__":
    sys.exit(main())
