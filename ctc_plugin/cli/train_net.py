"""ctc-train-net: Mask R-CNN FPN on COCO from CTC-pretrained (or any torchvision-style) ResNet weights.

    ctc-train-net --config-file configs/coco_maskrcnn_ctc.yaml --num-gpus 8 \\
        MODEL.WEIGHTS weights/r50_ctc_imagenet.pkl
    ctc-train-net --config-file configs/coco_maskrcnn_ctc.yaml --eval-only \\
        MODEL.WEIGHTS output/coco_maskrcnn_ctc/model_final.pth

COCO is read from $DETECTRON2_DATASETS/coco (Detectron2's builtin coco_2017_* names).
"""

import argparse
import os
import sys
import weakref
from typing import List, Optional

from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_setup
from detectron2.evaluation import COCOEvaluator, verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ..config import merge_config
from ..detection import CTCDetectionCheckpointer, add_ctc_config
from ..detection.checks import check_detection_inputs, name_bad_index_files
from ..engine import PreemptionHook, quiet_user_errors_in_training_loop
from ..utils.errors import UserError
from .common import hold_output_dir, launch, parse_training_args, run, training_parser, world_size

TOOL = "train_net"


class Trainer(DefaultTrainer):
    """``DefaultTrainer`` with COCO evaluation and the plugin's checkpointer."""

    def build_hooks(self):
        # Detectron2's checkpointer plus on-the-fly conversion of raw ResNets, atomic saves and a
        # resume that skips unreadable files; replaced before the hooks take it.
        self.checkpointer = CTCDetectionCheckpointer(
            self.checkpointer.model,
            self.cfg.OUTPUT_DIR,
            weights_prefix=self.cfg.MODEL.CTC.WEIGHTS_PREFIX,
            trainer=weakref.proxy(self),
        )
        return super().build_hooks()

    def train(self):
        quiet_user_errors_in_training_loop()  # a UserError in a step: the tool's line, not a traceback
        return super().train()

    def save_iteration(self, iteration: int) -> str:
        """A checkpoint after ``iteration``, named as Detectron2's periodic ones (``model_0004999.pth``)."""
        name = f"model_{iteration:07d}"
        self.checkpointer.save(name, iteration=iteration)
        return os.path.join(self.cfg.OUTPUT_DIR, f"{name}.pth")

    @classmethod
    def build_evaluator(cls, cfg, dataset_name: str, output_folder: Optional[str] = None) -> COCOEvaluator:
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(dataset_name, tasks=("bbox", "segm"), output_dir=output_folder)


def build_config(args: argparse.Namespace):
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


def check(args: argparse.Namespace, processes: int):
    """The frozen config, after refusing bad input with one line, for a job of ``processes`` processes."""
    cfg = build_config(args)
    check_detection_inputs(cfg, resume=args.resume, eval_only=args.eval_only, world_size=processes)
    return cfg


def train(args: argparse.Namespace):
    """What every process runs."""
    cfg = build_config(args)
    default_setup(cfg, args)
    # The plugin's lines (weights, norm fallback) on Detectron2's handlers: one stream into log.txt.
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="ctc_plugin", abbrev_name="ctc")
    name_bad_index_files([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST])
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
    if args.preemption_signals:
        trainer.register_hooks([PreemptionHook(trainer.save_iteration, args.preemption_signals)])
    return trainer.train()


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        args = parse_training_args(training_parser(__doc__), argv)
        # Bad input is one line here, before any worker is spawned or any file written.
        cfg = check(args, world_size(args))
        with hold_output_dir(cfg.OUTPUT_DIR, args, keep=[cfg.MODEL.WEIGHTS]):
            launch(train, args, TOOL)

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
