"""ctc-demo: the default study read beside the committed confirmatory study
(``ctc-study --config-file configs/studies/demo.yaml``), the README's first command.

It pretrains a baseline and a CTC ResNet-18 on Fashion-MNIST (real data, offline, CPU), measures
their temporal transferability and information plane, converts both to Detectron2 and timm, and
trains Mask R-CNN and a fine-grained fine-tune from them and from a random initialisation. Every
flag is ctc-study's. Its report and last line say where the committed study's primary comparison stands.
"""

import sys
from typing import List, Optional

from . import study

DEMO_CONFIG = "configs/studies/demo.yaml"


def main(argv: Optional[List[str]] = None) -> int:
    return study.study_main(argv, "demo", DEMO_CONFIG)


if __name__ == "__main__":
    sys.exit(main())
