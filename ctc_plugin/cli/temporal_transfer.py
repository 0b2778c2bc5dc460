"""ctc-temporal-transfer: a linear probe on a target dataset for every checkpoint of pretraining runs.

For each checkpoint the backbone's pooled features of the target's train and test images
are extracted once (eval mode, no_grad), a linear classifier is trained on them with the
appendix's schedule (15k steps, batch 512, lr 0.4, x0.1 at 5k and 10k) and its top-1 on
the target's test split is recorded. Writes OUTPUT_DIR/temporal_transfer.{csv,json} and
OUTPUT_DIR/temporal_transfer.png (one curve per run, like the appendix's Figures 1-3).

    ctc-temporal-transfer --run output/ctc --run output/baseline \\
        --dataset stl10 --root datasets --output-dir output/transfer
    # offline default: the Fashion-MNIST classes the run held out, a 10x shorter schedule
    ctc-temporal-transfer --run output/fmnist_ctc --schedule-scale 0.1
"""

import argparse
import os
import re
import sys
from typing import Any, Dict, List, Optional

from ..analysis.linear_probe import ProbeSchedule, cached_features, extract_features, probe_accuracy
from ..analysis.plots import plot_temporal_transfer
from ..analysis.sweep import Sweep
from ..analysis.targets import build_target_splits, native_image_size, resolve_target
from ..config import get_cfg
from ..data import build_transform
from ..engine import setup_logging
from ..utils.device import resolve_device
from ..utils.errors import UserError
from .common import int_list, run, sweep_parser

TOOL = "temporal_transfer"
COLUMNS = ("run", "epoch", "top1", "target", "train_images", "test_images", "image_size", "steps", "checkpoint")


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    default = ProbeSchedule.from_config(get_cfg().TEMPORAL_TRANSFER)
    p, compute = sweep_parser(__doc__, "output/temporal_transfer")
    g = p.add_argument_group("target")
    g.add_argument("--dataset", default="", help="target base name: stl10, cinic10, ... (default: held-out classes)")
    g.add_argument("--root", default="", help="target folder (default: the run's DATASETS.ROOT)")
    g.add_argument("--classes", default="", help="comma-separated target classes to keep (default all)")
    g.add_argument("--image-size", type=int, default=0, help="probe image side (default: the target's own size)")
    g.add_argument("--max-train-samples", type=int, default=0, help="at most this many target training images")
    g.add_argument("--max-test-samples", type=int, default=0, help="at most this many target test images")
    s = p.add_argument_group("probe schedule (appendix A.3 defaults)")
    s.add_argument("--steps", type=int, default=default.steps)
    s.add_argument("--batch-size", type=int, default=default.batch_size)
    s.add_argument("--lr", type=float, default=default.lr)
    s.add_argument("--milestones", default=",".join(map(str, default.milestones)), help="steps where lr *= gamma")
    s.add_argument("--gamma", type=float, default=default.gamma)
    s.add_argument("--momentum", type=float, default=default.momentum)
    s.add_argument("--weight-decay", type=float, default=default.weight_decay)
    s.add_argument("--schedule-scale", type=float, default=1.0, help="multiply steps and milestones (e.g. 0.1)")
    s.add_argument("--seed", type=int, default=default.seed)
    compute.add_argument("--cache-dir", default="", help="keep extracted features here and reuse them on reruns")
    return p.parse_args(argv)


def probe_schedule(args: argparse.Namespace) -> ProbeSchedule:
    schedule = ProbeSchedule(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        milestones=tuple(int_list(args.milestones, "--milestones")),
        gamma=args.gamma,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        seed=args.seed,
    ).scaled(args.schedule_scale)
    if schedule.steps < 1 or schedule.batch_size < 1 or schedule.lr <= 0:
        raise UserError("the probe needs --steps, --batch-size and --lr above 0")
    return schedule


def measure_all(args: argparse.Namespace) -> None:
    device = str(resolve_device(args.device))
    schedule = probe_schedule(args)
    table_path = os.path.join(args.output_dir, f"temporal_transfer.{args.format}")
    sweep = Sweep(args.run, args.label, int_list(args.epochs, "--epochs"), args.every, table_path, COLUMNS, args.resume)
    classes = int_list(args.classes, "--classes")
    targets = {resolve_target(args.dataset, args.root, classes, cfg) for cfg in sweep.configs}
    if len(targets) > 1:
        described = sorted(t.description for t in targets)
        raise UserError(f"the runs have different default targets ({described}); pass --dataset")
    target = targets.pop()
    train_set, test_set = build_target_splits(target, args.max_train_samples, args.max_test_samples, args.seed)
    image_size = args.image_size or native_image_size(train_set, max(cfg.INPUT.SIZE for cfg in sweep.configs))
    transform = build_transform(train_set.style, False, image_size)
    splits = {"train": train_set, "test": test_set}
    setup_logging(args.output_dir)  # every input is checked: now the long work starts
    print(
        f"Target {target.description}: {len(train_set)} train / {len(test_set)} test images at "
        f"{image_size}x{image_size}; probe {schedule.steps} steps, batch {schedule.batch_size}, lr {schedule.lr}, "
        f"milestones {list(schedule.milestones)}; device {device}",
        flush=True,
    )

    def features(network, checkpoint, split: str, desc: str):
        def compute():
            return extract_features(
                network,
                splits[split],
                transform,
                batch_size=args.feature_batch_size,
                num_workers=args.num_workers,
                progress=True,
                desc=desc,
            )

        if not args.cache_dir:
            return compute()
        stat = os.stat(checkpoint.path)
        key = {
            "target": [target.train, target.test, os.path.abspath(target.root), list(target.classes)],
            "split": split,
            "image_size": image_size,
            "seed": args.seed,
            "checkpoint": os.path.abspath(checkpoint.path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "samples": len(splits[split]),
        }
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", desc.replace(" ", "_")) + ".pt"
        return cached_features(os.path.join(args.cache_dir, name), key, compute)

    def measure(index: int, checkpoint, network) -> Dict[str, Any]:
        where = f"{sweep.labels[index]} epoch {checkpoint.epoch}"
        network.to(device)
        train, test = (features(network, checkpoint, split, f"{where} {split}") for split in ("train", "test"))
        top1 = 100.0 * probe_accuracy(
            train, test, train_set.num_classes, schedule, device=device, progress=True, desc=f"{where} probe"
        )
        return {
            "top1": round(top1, 4),
            "target": target.description,
            "train_images": len(train_set),
            "test_images": len(test_set),
            "image_size": image_size,
            "steps": schedule.steps,
        }

    plot_path = os.path.join(args.output_dir, "temporal_transfer.png")
    boundary = sweep.stage_boundary()

    def draw(rows) -> None:
        curves = {label: [(r["epoch"], r["top1"]) for r in rows if r["run"] == label] for label in sweep.labels}
        title = f"Temporal transferability: {target.description}"
        plot_temporal_transfer({k: v for k, v in curves.items() if v}, plot_path, title=title, boundary=boundary)

    sweep.run(measure, draw)
    print(f"Wrote {table_path} and {plot_path}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    return run(TOOL, lambda: measure_all(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
