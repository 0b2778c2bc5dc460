"""ctc-pretrain: CTC (or baseline) pretraining on one process, several GPUs or several machines.

    ctc-pretrain --config-file configs/pretrain/cifar100_r18_ctc.yaml
    ctc-pretrain --config-file configs/pretrain/imagenet_r50_ctc.yaml --num-gpus 8
    ctc-pretrain --config-file ... --resume      # continue OUTPUT_DIR's newest complete checkpoint
    ctc-pretrain --config-file ... --eval-only   # test top-1/top-5 of the newest checkpoint (with --resume)

Flags come before the KEY VALUE overrides of the config.
"""

import logging
import os
import sys
from typing import List, Optional

from ..config import get_cfg
from ..engine import CTCTrainer
from .training import TrainingTool

TOOL = "pretrain"


class Pretrain(TrainingTool):
    name = TOOL
    description = __doc__
    trainer = CTCTrainer

    def default_config(self):
        return get_cfg()

    def report(self, cfg, results) -> None:
        logging.getLogger("ctc_plugin").info(
            f"Checkpoints are in {os.path.abspath(cfg.OUTPUT_DIR)}; results: {results}"
        )


TRAINING = Pretrain()


def main(argv: Optional[List[str]] = None) -> int:
    return TRAINING.main(argv)


if __name__ == "__main__":
    sys.exit(main())
