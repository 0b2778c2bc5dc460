"""ctc-finetune-fgvc: fine-grained fine-tuning with timm (appendix A.3): CUB-200-2011, FGVC-Aircraft, iNat-2018.

    ctc-finetune-fgvc --config-file configs/fgvc/cub200_r50.yaml \\
        DATASETS.ROOT datasets MODEL.WEIGHTS r50_ctc_timm.pth OUTPUT_DIR output/cub_ctc
    ctc-finetune-fgvc --config-file configs/fgvc/inat2018_r50.yaml --num-gpus 8 \\
        MODEL.WEIGHTS model_final.pth          # a raw pretraining checkpoint, converted on the fly
    ctc-finetune-fgvc --config-file configs/fgvc/cub200_r50.yaml --resume OUTPUT_DIR output/cub_ctc

Top-1/top-5 on the test split after every epoch go to OUTPUT_DIR/metrics.json, the last
ones to results.json; model_epoch_XXXX.pth and model_final.pth are read by
timm.create_model(..., pretrained=True, pretrained_cfg_overlay=dict(file=...)).
"""

import argparse
import sys
from typing import List, Optional

from detectron2.utils import comm

from ..config import merge_config
from ..fgvc import get_fgvc_cfg
from ..fgvc.trainer import FGVCTrainer
from ..utils.errors import UserError
from .common import hold_output_dir, launch, parse_training_args, run, train_epochs, training_parser, world_size

TOOL = "finetune_fgvc"


def setup(args: argparse.Namespace):
    if not args.config_file:
        raise UserError("--config-file is required, e.g. configs/fgvc/cub200_r50.yaml")
    cfg = merge_config(get_fgvc_cfg(), args.config_file, args.opts)
    cfg.freeze()
    return cfg


def check(args: argparse.Namespace, processes: int):
    """The frozen config, after refusing bad input with one line, for a job of ``processes`` processes."""
    cfg = setup(args)
    FGVCTrainer.check_inputs(cfg, resume=args.resume, world_size=processes)
    return cfg


def train(args: argparse.Namespace) -> None:
    """What every process runs."""
    cfg = setup(args)
    results = train_epochs(FGVCTrainer, cfg, args)
    if comm.is_main_process() and results:
        print(f"{cfg.DATASETS.TEST}: top-1 {results['top1']:.2f}  top-5 {results['top5']:.2f}")


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
