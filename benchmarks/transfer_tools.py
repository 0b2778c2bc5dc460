#!/usr/bin/env python
"""Item 4: the transfer tools against Detectron2's own loop, and the converter's cost.

Seconds per iteration of ``tools/train_net.py``'s ``Trainer`` (DefaultTrainer with its hooks,
the plugin's checkpointer and backbone) against Detectron2's plain training loop
(``SimpleTrainer`` with an LR scheduler step, as in Detectron2's ``plain_train_net.py``) on the
same config (configs/coco_maskrcnn_ctc.yaml, small images), the same converted ResNet-50
weights and the same tiny COCO (tests/fixtures/datasets.py), steps interleaved in rounds.
Then wall seconds of ``tools/convert_weights.py`` (convert plus verify) for a ResNet-50, to
Detectron2 and to timm. The last line is ``key=value`` pairs.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Detectron2 reads $DETECTRON2_DATASETS when it registers the builtin COCO names, on import.
ROOT = tempfile.mkdtemp(prefix="ctc_transfer_bench_")
os.environ["DETECTRON2_DATASETS"] = os.path.join(ROOT, "datasets")

import torch  # noqa: E402
from _common import interleaved, key_values, machine, medians  # noqa: E402
from detectron2.checkpoint import DetectionCheckpointer  # noqa: E402
from detectron2.data import build_detection_train_loader  # noqa: E402
from detectron2.engine import SimpleTrainer  # noqa: E402
from detectron2.solver import build_lr_scheduler, build_optimizer  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

from ctc_plugin.backbones import ResNet  # noqa: E402
from ctc_plugin.cli import train_net  # noqa: E402
from ctc_plugin.cli.training import training_parser  # noqa: E402
from ctc_plugin.study.datasets import write_shapes_coco  # noqa: E402

TINY = (
    "MODEL.DEVICE cpu INPUT.MIN_SIZE_TRAIN (96,) INPUT.MAX_SIZE_TRAIN 128 SOLVER.IMS_PER_BATCH 2 "
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE 32 MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE 32 DATALOADER.NUM_WORKERS 0"
).split()
# On a GPU: COCO's training sizes and a batch of 8 (the images are upscaled shapes).
GPU = "MODEL.DEVICE cuda INPUT.MIN_SIZE_TRAIN (800,) INPUT.MAX_SIZE_TRAIN 1333 SOLVER.IMS_PER_BATCH 8".split()
GPU += "DATALOADER.NUM_WORKERS 4".split()


class Stepper:
    """Runs single iterations of a trainer the way ``TrainerBase.train`` does."""

    def __init__(self, trainer, with_hooks: bool, scheduler=None) -> None:
        self.trainer, self.with_hooks, self.scheduler = trainer, with_hooks, scheduler
        self.cuda = next(trainer.model.parameters()).is_cuda
        self.storage = EventStorage(0)
        trainer.storage = self.storage
        trainer.iter = trainer.start_iter = 0
        if with_hooks:
            with self.storage:
                trainer.before_train()

    def __call__(self) -> None:
        trainer = self.trainer
        with self.storage:
            if self.with_hooks:
                trainer.before_step()
                trainer.run_step()
                trainer.after_step()
            else:
                self.storage.iter = trainer.iter
                trainer.run_step()
                self.scheduler.step()
        trainer.iter += 1
        if self.cuda:  # the step is timed to its end, not to its last kernel launch
            torch.cuda.synchronize()


def build_steppers(root: str, weights: str, opts=TINY):
    args = training_parser("").parse_args(
        ["--config-file", os.path.join(REPO, "configs/coco_maskrcnn_ctc.yaml"), "MODEL.WEIGHTS", weights, *opts]
    )
    args.opts += ["OUTPUT_DIR", os.path.join(root, "output")]
    cfg = train_net.TRAINING.build_config(args)
    torch.manual_seed(0)
    tool = train_net.Trainer(cfg)
    tool.resume_or_load(resume=False)

    torch.manual_seed(0)
    model = train_net.Trainer.build_model(cfg)  # the same model builder, config and weights
    train_net.CTCDetectionCheckpointer(model, weights_prefix=cfg.MODEL.CTC.WEIGHTS_PREFIX).load(weights)
    assert isinstance(train_net.CTCDetectionCheckpointer(model), DetectionCheckpointer)
    optimizer = build_optimizer(cfg, model)
    plain = SimpleTrainer(model, build_detection_train_loader(cfg), optimizer)
    return Stepper(tool, with_hooks=True), Stepper(
        plain, with_hooks=False, scheduler=build_lr_scheduler(cfg, optimizer)
    )


def convert_seconds(root: str, source: str, target: str) -> float:
    output = os.path.join(root, "r50." + ("pkl" if target == "detectron2" else "pth"))
    command = [sys.executable, "-m", "ctc_plugin.cli.convert_weights", source, output, "--to", target]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="iterations of each trainer, interleaved")
    parser.add_argument("--convert-rounds", type=int, default=2, help="0: do not time the converter")
    parser.add_argument("--device", default="cpu", help="cpu (small images, batch 2) or cuda (800 px, batch 8)")
    args = parser.parse_args()
    opts = GPU if args.device.startswith("cuda") else TINY

    root = ROOT
    try:
        write_shapes_coco(os.environ["DETECTRON2_DATASETS"], num_train=8, num_val=2, size=(128, 96))
        torch.manual_seed(0)
        source = os.path.join(root, "r50_pretrain.pth")
        network = ResNet(50, stem="imagenet", num_classes=1000)
        torch.save({"model": network.state_dict(), "arch": network.arch, "epoch": 1}, source)
        weights = os.path.join(root, "r50.pkl")
        subprocess.run(
            [sys.executable, "-m", "ctc_plugin.cli.convert_weights", source, weights, "--to", "detectron2"],
            check=True,
            capture_output=True,
            cwd=REPO,
        )
        tool, plain = build_steppers(root, weights, opts)
        train = medians(interleaved({"train_net": tool, "plain": plain}, args.rounds, warmup=1))
        convert = {"detectron2": float("nan"), "timm": float("nan")}
        if args.convert_rounds:
            converters = {t: (lambda t=t: convert_seconds(root, source, t)) for t in ("detectron2", "timm")}
            convert = medians(interleaved(converters, args.convert_rounds, warmup=0))
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)

    ratio = train["train_net"] / train["plain"]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else machine()
    print(f"Mask R-CNN R50-FPN, {' '.join(opts[2:8])}; {where}")
    print(f"tools/train_net.py {train['train_net']:.3f} s/iter, plain SimpleTrainer {train['plain']:.3f}: {ratio:.3f}x")
    print(f"convert + verify ResNet-50: Detectron2 {convert['detectron2']:.1f} s, timm {convert['timm']:.1f} s")
    print(
        key_values(
            {
                "train_net_over_plain": ratio,
                "train_net_s_per_iter": train["train_net"],
                "convert_d2_s": convert["detectron2"],
                "convert_timm_s": convert["timm"],
            }
        )
    )


if __name__ == "__main__":
    main()
