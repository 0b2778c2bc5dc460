"""ctc-pretrain: CTC (or baseline) pretraining on one process, several GPUs or several machines.

    ctc-pretrain --config-file configs/pretrain/cifar100_r18_ctc.yaml
    ctc-pretrain --config-file configs/pretrain/imagenet_r50_ctc.yaml --num-gpus 8
    ctc-pretrain --config-file ... --resume      # continue OUTPUT_DIR's newest complete checkpoint
    ctc-pretrain --config-file ... --eval-only   # test top-1/top-5 of the newest checkpoint (with --resume)

Flags come before the KEY VALUE overrides of the config.
"""

import argparse
import logging
import os
import sys
from typing import List, Optional

from ..config import get_cfg, merge_config
from ..engine import CTCTrainer
from .common import hold_output_dir, launch, parse_training_args, run, train_epochs, training_parser, world_size

TOOL = "pretrain"


def setup(args: argparse.Namespace):
    cfg = merge_config(get_cfg(), args.config_file, args.opts)
    cfg.freeze()
    return cfg


def check(args: argparse.Namespace, processes: int):
    """The frozen config, after refusing bad input with one line, for a job of ``processes`` processes."""
    cfg = setup(args)
    CTCTrainer.check_inputs(cfg, resume=args.resume, world_size=processes)
    return cfg


def train(args: argparse.Namespace) -> None:
    """What every process runs."""
    cfg = setup(args)
    results = train_epochs(CTCTrainer, cfg, args)
    logging.getLogger("ctc_plugin").info(f"Checkpoints are in {os.path.abspath(cfg.OUTPUT_DIR)}; results: {results}")


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        args = parse_training_args(training_parser(__doc__), argv)
        # Bad input is one line here, before any process is started or any file written.
        cfg = check(args, world_size(args))
        with hold_output_dir(cfg.OUTPUT_DIR, args, keep=[cfg.MODEL.WEIGHTS]):
            launch(train, args, TOOL)

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
