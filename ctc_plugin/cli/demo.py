"""ctc-demo: the confirmatory study's primary comparison on one of its seeds, through the whole pipeline
(``ctc-study --config-file configs/studies/demo.yaml``), the README's first command.

It pretrains the baseline and the release's transferability recipe (``ctc_transfer``) as ResNet-18s on
Fashion-MNIST (real data, offline, CPU) at the confirmatory study's setting and seed 10, measures their
temporal transferability and information plane, converts both to Detectron2 and timm, and trains
Mask R-CNN and a fine-grained fine-tune from them and from a random initialisation. Every step the
committed study ran is the same command, so the report sets its numbers beside that seed's there, and the
last lines say where the committed study's primary comparison stands. Every flag is ctc-study's.
"""

import sys
from typing import List, Optional

from . import study

DEMO_CONFIG = "configs/studies/demo.yaml"


def main(argv: Optional[List[str]] = None) -> int:
    return study.study_main(argv, "demo", DEMO_CONFIG)


if __name__ == "__main__":
    sys.exit(main())
