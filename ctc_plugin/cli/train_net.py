"""ctc-train-net: Mask R-CNN FPN on COCO from CTC-pretrained (or any torchvision-style) ResNet weights.

    ctc-train-net --config-file configs/coco_maskrcnn_ctc.yaml --num-gpus 8 \\
        MODEL.WEIGHTS weights/r50_ctc_imagenet.pkl
    ctc-train-net --config-file configs/coco_maskrcnn_ctc.yaml --eval-only \\
        MODEL.WEIGHTS output/coco_maskrcnn_ctc/model_final.pth

COCO is read from $DETECTRON2_DATASETS/coco (Detectron2's builtin coco_2017_* names).
"""

import os
import sys
import weakref
from typing import List, Optional

from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_setup, hooks
from detectron2.evaluation import COCOEvaluator, verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ..detection import CTCDetectionCheckpointer, add_ctc_config
from ..detection.checks import check_detection_inputs, name_bad_index_files
from ..engine import IterationCheckpointer, quiet_user_errors_in_training_loop
from ..utils.errors import UserError
from .training import TrainingTool

TOOL = "train_net"


class Trainer(DefaultTrainer):
    """``DefaultTrainer`` with COCO evaluation and the plugin's checkpointers."""

    def build_hooks(self):
        # Detectron2's checkpointer plus on-the-fly conversion of raw ResNets, atomic saves and a
        # resume that skips unreadable files; replaced before the hooks take it.
        self.checkpointer = CTCDetectionCheckpointer(
            self.checkpointer.model,
            self.cfg.OUTPUT_DIR,
            weights_prefix=self.cfg.MODEL.CTC.WEIGHTS_PREFIX,
            trainer=weakref.proxy(self),
        )
        # Detectron2's periodic checkpointer (a hook on the first process), which also writes a
        # preemption's checkpoint (``save_iteration``: every process calls it, the first writes).
        self.periodic_checkpointer = IterationCheckpointer(self.checkpointer, self.cfg.SOLVER.CHECKPOINT_PERIOD)
        built = super().build_hooks()
        return [self.periodic_checkpointer if isinstance(h, hooks.PeriodicCheckpointer) else h for h in built]

    def train(self):
        quiet_user_errors_in_training_loop()  # a UserError in a step: the tool's line, not a traceback
        return super().train()

    @classmethod
    def build_evaluator(cls, cfg, dataset_name: str, output_folder: Optional[str] = None) -> COCOEvaluator:
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(dataset_name, tasks=("bbox", "segm"), output_dir=output_folder)


class TrainNet(TrainingTool):
    """Detectron2's ``DefaultTrainer`` (``Trainer``): its config, checks, setup and evaluation."""

    name = TOOL
    description = __doc__
    trainer = Trainer
    config_example = "configs/coco_maskrcnn_ctc.yaml"

    def default_config(self):
        return add_ctc_config(get_cfg())

    def build_config(self, args):
        """Config from the defaults, ``add_ctc_config``, the file and the overrides (frozen).

        Raises:
            UserError: no config file, an unknown key, a bad value, missing MODEL.WEIGHTS.
        """
        cfg = super().build_config(args)
        weights = cfg.MODEL.WEIGHTS
        if weights and "://" not in weights and not os.path.isfile(weights) and not args.resume:
            raise UserError(f"MODEL.WEIGHTS {weights} does not exist (docs/detectron2.md says how to make it)")
        return cfg

    def check_inputs(self, cfg, args, processes: int) -> None:
        check_detection_inputs(cfg, resume=args.resume, eval_only=args.eval_only, world_size=processes)

    def setup(self, cfg, args) -> None:
        default_setup(cfg, args)
        # The plugin's lines (weights, norm fallback) on Detectron2's handlers: one stream into log.txt.
        setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="ctc_plugin", abbrev_name="ctc")
        name_bad_index_files([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST])

    def evaluate(self, cfg, args):
        model = Trainer.build_model(cfg)
        CTCDetectionCheckpointer(
            model, save_dir=cfg.OUTPUT_DIR, weights_prefix=cfg.MODEL.CTC.WEIGHTS_PREFIX
        ).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        results = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, results)
        return results


TRAINING = TrainNet()


def main(argv: Optional[List[str]] = None) -> int:
    return TRAINING.main(argv)


if __name__ == "__main__":
    sys.exit(main())
