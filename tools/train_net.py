#!/usr/bin/env python
"""Mask R-CNN FPN on COCO from CTC-pretrained (or any torchvision-style) ResNet weights.

    python tools/train_net.py --config-file configs/coco_maskrcnn_ctc.yaml --num-gpus 8 \
        MODEL.WEIGHTS weights/r50_ctc_imagenet.pkl
    python tools/train_net.py --config-file configs/coco_maskrcnn_ctc.yaml --eval-only \
        MODEL.WEIGHTS output/coco_maskrcnn_ctc/model_final.pth

COCO is read from $DETECTRON2_DATASETS/coco (Detectron2's builtin coco_2017_* names).
"""

import os
import sys
import weakref
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import detectron2.utils.comm as comm  # noqa: E402
from _cli import add_dist_timeout, launch_tool, run  # noqa: E402
from detectron2.config import get_cfg  # noqa: E402
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup  # noqa: E402
from detectron2.evaluation import COCOEvaluator, verify_results  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

import ctc_plugin.detection  # noqa: E402,F401  (registers build_ctc_resnet_fpn_backbone)
from ctc_plugin.detection import CTCDetectionCheckpointer, add_ctc_config  # noqa: E402
from ctc_plugin.detection.checks import check_detection_inputs  # noqa: E402
from ctc_plugin.utils.cli import merge_config  # noqa: E402
from ctc_plugin.utils.errors import UserError  # noqa: E402


class Trainer(DefaultTrainer):
    """``DefaultTrainer`` with COCO evaluation and raw-checkpoint loading."""

    def build_hooks(self):
        # Same checkpointer as Detectron2's, plus on-the-fly conversion of raw ResNets, atomic
        # saves and a resume that skips unreadable files; replaced before the hooks take it.
        self.checkpointer = CTCDetectionCheckpointer(
            self.checkpointer.model,
            self.cfg.OUTPUT_DIR,
            weights_prefix=self.cfg.MODEL.CTC.WEIGHTS_PREFIX,
            trainer=weakref.proxy(self),
        )
        return super().build_hooks()

    @classmethod
    def build_evaluator(cls, cfg, dataset_name: str, output_folder: Optional[str] = None) -> COCOEvaluator:
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(dataset_name, tasks=("bbox", "segm"), output_dir=output_folder)


def build_config(args):
    """Config from the defaults, ``add_ctc_config``, the file and the overrides (frozen).

    Raises:
        UserError: no config file, an unknown key, a bad value, missing MODEL.WEIGHTS.
    """
    if not args.config_file:
        raise UserError("--config-file is required, e.g. configs/coco_maskrcnn_ctc.yaml")
    cfg = merge_config(add_ctc_config(get_cfg()), args.config_file, args.opts)
    weights = cfg.MODEL.WEIGHTS
    if weights and "://" not in weights and not os.path.isfile(weights) and not args.resume:
        raise UserError(f"MODEL.WEIGHTS {weights} does not exist (docs/detectron2.md says how to make it)")
    cfg.freeze()
    return cfg


def setup(args):
    cfg = build_config(args)
    default_setup(cfg, args)
    # The plugin's own log lines (weights, normalisation fallback) go to log.txt as well.
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="ctc_plugin")
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        CTCDetectionCheckpointer(
            model, save_dir=cfg.OUTPUT_DIR, weights_prefix=cfg.MODEL.CTC.WEIGHTS_PREFIX
        ).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        results = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def invoke_main() -> None:
    args = add_dist_timeout(default_argument_parser()).parse_args()
    # Bad input is one line here, before any worker is spawned or any file written.
    check_detection_inputs(build_config(args), resume=args.resume, eval_only=args.eval_only)
    print("Command Line Args:", args)
    launch_tool(main, args, "train_net")


if __name__ == "__main__":
    run(invoke_main, "train_net")
