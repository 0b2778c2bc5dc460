#!/usr/bin/env python
"""CTC (or baseline) pretraining on one process, several GPUs or several machines.

python tools/pretrain.py --config-file configs/pretrain/cifar100_r18_ctc.yaml
python tools/pretrain.py --config-file ... --num-gpus 8 SOLVER.IMS_PER_BATCH 256
python tools/pretrain.py --config-file ... --resume    # continue OUTPUT_DIR's last checkpoint
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cli import add_dist_timeout, launch_tool, run  # noqa: E402
from detectron2.engine import default_argument_parser  # noqa: E402
from detectron2.utils import comm  # noqa: E402

from ctc_plugin.config import get_cfg  # noqa: E402
from ctc_plugin.engine import CTCTrainer, default_setup  # noqa: E402
from ctc_plugin.engine.checks import check_pretrain_inputs  # noqa: E402
from ctc_plugin.utils.cli import merge_config  # noqa: E402


def setup(args):
    cfg = get_cfg()
    merge_config(cfg, args.config_file, args.opts)
    cfg.freeze()
    return cfg


def main(args) -> None:
    cfg = setup(args)
    logger = default_setup(cfg, args)
    trainer = CTCTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    trainer.train()
    if comm.is_main_process():
        logger.info(f"Checkpoints are in {os.path.abspath(cfg.OUTPUT_DIR)}")


def launch_all(args) -> None:
    # Bad input is one line here, before any process is started or any file written.
    check_pretrain_inputs(setup(args), resume=args.resume)
    launch_tool(main, args, "pretrain")


if __name__ == "__main__":
    parsed = add_dist_timeout(default_argument_parser()).parse_args()
    run(lambda: launch_all(parsed), "pretrain")
