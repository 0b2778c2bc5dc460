#!/usr/bin/env python
"""Fine-grained fine-tuning with timm (appendix A.3): CUB-200-2011, FGVC-Aircraft, iNaturalist-2018.

    python tools/finetune_fgvc.py --config-file configs/fgvc/cub200_r50.yaml \
        DATASETS.ROOT datasets MODEL.WEIGHTS r50_ctc_timm.pth OUTPUT_DIR output/cub_ctc
    python tools/finetune_fgvc.py --config-file configs/fgvc/inat2018_r50.yaml --num-gpus 8 \
        MODEL.WEIGHTS model_final.pth          # a raw pretraining checkpoint, converted on the fly
    python tools/finetune_fgvc.py --config-file configs/fgvc/cub200_r50.yaml --resume OUTPUT_DIR output/cub_ctc

Top-1/top-5 on the test split after every epoch go to OUTPUT_DIR/metrics.json, the last
ones to results.json; checkpoint_last.pth is rewritten each epoch; model_final.pth is
read by timm.create_model(..., pretrained=True, pretrained_cfg_overlay=dict(file=...)).
"""

import os
import sys
import warnings

# Imported libraries warn about torch.jit.script at import time; keep stderr for our one-line errors.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import detectron2.utils.comm as comm  # noqa: E402
from _cli import add_dist_timeout, launch_tool, run  # noqa: E402
from detectron2.engine import default_argument_parser  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

from ctc_plugin.fgvc import check_fgvc_layout, get_fgvc_cfg  # noqa: E402
from ctc_plugin.utils.cli import merge_config  # noqa: E402
from ctc_plugin.utils.errors import UserError  # noqa: E402
from ctc_plugin.utils.io import atomic_write_text, check_writable_folder, load_checkpoint  # noqa: E402


def build_config(args):
    """Defaults, then the file, then the overrides; frozen. Checks what can be checked up front.

    Raises:
        UserError: no config file, an unknown key, a bad value, a missing dataset index file
            or weights file.
    """
    if not args.config_file:
        raise UserError("--config-file is required, e.g. configs/fgvc/cub200_r50.yaml")
    cfg = merge_config(get_fgvc_cfg(), args.config_file, args.opts)
    check_fgvc_layout(cfg.DATASETS.NAME, cfg.DATASETS.ROOT)
    if cfg.MODEL.WEIGHTS and not os.path.isfile(cfg.MODEL.WEIGHTS):
        raise UserError(f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} does not exist")
    if cfg.SOLVER.EPOCHS < 1 or cfg.SOLVER.IMS_PER_BATCH < 1:
        raise UserError("SOLVER.EPOCHS and SOLVER.IMS_PER_BATCH must be positive")
    cfg.freeze()
    return cfg


def check_inputs(cfg, resume: bool) -> None:
    """What ``build_config`` does not read: the weights' content, OUTPUT_DIR, the checkpoint to resume.

    Raises:
        UserError: weights that are no ResNet (or not the MODEL.NAME one), an OUTPUT_DIR that
            cannot be written, a checkpoint to resume that was written for another model.
    """
    from ctc_plugin.fgvc.checkpoint import LAST_CHECKPOINT, check_resume_compatible
    from ctc_plugin.fgvc.model import check_fgvc_weights

    check_writable_folder(cfg.OUTPUT_DIR)
    check_fgvc_weights(cfg.MODEL.NAME, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX)
    last = os.path.join(cfg.OUTPUT_DIR, LAST_CHECKPOINT)
    if resume and os.path.isfile(last):
        try:
            state = load_checkpoint(last, mmap=True)
        except Exception:  # unreadable: the worker falls back to a numbered checkpoint, or says so
            return
        check_resume_compatible(state, cfg.OUTPUT_DIR, cfg.MODEL.NAME)


def main(args) -> None:
    from ctc_plugin.fgvc.trainer import FGVCFineTuner  # timm and Detectron2's engine

    cfg = build_config(args)
    rank = comm.get_rank()
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    for name in ("ctc_plugin", "detectron2", "timm"):
        setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=rank, name=name, abbrev_name=name[:4])
    if comm.is_main_process():
        atomic_write_text(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), cfg.dump())
    tuner = FGVCFineTuner(cfg, resume=args.resume)
    results = tuner.evaluate_and_save() if args.eval_only else tuner.train()
    if comm.is_main_process():
        print(f"{cfg.DATASETS.NAME}: top-1 {results['top1']:.2f}  top-5 {results['top5']:.2f}")


def invoke_main() -> None:
    args = add_dist_timeout(default_argument_parser()).parse_args()
    # Bad input is one line here, before any worker is spawned or any file written.
    check_inputs(build_config(args), args.resume)
    launch_tool(main, args, "finetune_fgvc")


if __name__ == "__main__":
    run(invoke_main, "finetune_fgvc")
