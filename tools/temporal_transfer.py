#!/usr/bin/env python
"""Temporal transferability: a linear probe on a target dataset for every checkpoint of runs.

For each checkpoint the backbone's pooled features of the target's train and test images
are extracted once (eval mode, no_grad), a linear classifier is trained on them with the
appendix's schedule (15k steps, batch 512, lr 0.4, x0.1 at 5k and 10k) and its top-1 on
the target's test split is recorded. Writes OUTPUT_DIR/temporal_transfer.{csv,json} and
OUTPUT_DIR/temporal_transfer.png (one curve per run, like the appendix's Figures 1-3).

    python tools/temporal_transfer.py --run output/ctc --run output/baseline \\
        --dataset stl10 --root datasets --output-dir output/transfer
    # offline default: the Fashion-MNIST classes the run held out, a 10x shorter schedule
    python tools/temporal_transfer.py --run output/fmnist_ctc --schedule-scale 0.1

Plain flags only; see docs/analyses.md. Bad input is one line and exit status 2.
"""

import argparse
import logging
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from _cli import run  # noqa: E402

from ctc_plugin.analysis.checkpoints import (  # noqa: E402
    config_value,
    list_checkpoints,
    load_backbone,
    load_run_config,
    select_epochs,
)
from ctc_plugin.analysis.linear_probe import ProbeSchedule, cached_features, extract_features, probe_accuracy  # noqa: E402
from ctc_plugin.analysis.plots import plot_temporal_transfer  # noqa: E402
from ctc_plugin.analysis.results import FORMATS, read_table, write_table  # noqa: E402
from ctc_plugin.analysis.targets import build_target_splits, int_list, native_image_size, resolve_target  # noqa: E402
from ctc_plugin.data import build_transform  # noqa: E402
from ctc_plugin.utils.errors import UserError  # noqa: E402

logger = logging.getLogger("ctc_plugin.temporal_transfer")
COLUMNS = ("run", "epoch", "top1", "target", "train_images", "test_images", "image_size", "steps", "checkpoint")
DEFAULT = ProbeSchedule()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="DIR", help="pretraining run folder (repeatable)")
    p.add_argument(
        "--label", action="append", default=[], help="legend name of each --run, in order (default: folder name)"
    )
    p.add_argument("--output-dir", default="output/temporal_transfer")
    p.add_argument("--format", choices=FORMATS, default="csv", help="table format (default csv)")
    p.add_argument(
        "--resume", action="store_true", help="keep the rows of an existing table and skip their checkpoints"
    )
    g = p.add_argument_group("target")
    g.add_argument(
        "--dataset", default="", help="target base name: stl10, cinic10, ... (default: the run's held-out classes)"
    )
    g.add_argument("--root", default="", help="target folder (default: the run's DATASETS.ROOT)")
    g.add_argument("--classes", default="", help="comma-separated target classes to keep (default all)")
    g.add_argument("--image-size", type=int, default=0, help="probe image side (default: the target's own size)")
    g.add_argument(
        "--max-train-samples", type=int, default=0, help="at most this many target training images (0 = all)"
    )
    g.add_argument("--max-test-samples", type=int, default=0, help="at most this many target test images (0 = all)")
    s = p.add_argument_group("probe schedule (appendix A.3 defaults)")
    s.add_argument("--steps", type=int, default=DEFAULT.steps)
    s.add_argument("--batch-size", type=int, default=DEFAULT.batch_size)
    s.add_argument("--lr", type=float, default=DEFAULT.lr)
    s.add_argument("--milestones", default=",".join(map(str, DEFAULT.milestones)), help="steps where lr *= gamma")
    s.add_argument("--gamma", type=float, default=DEFAULT.gamma)
    s.add_argument("--momentum", type=float, default=DEFAULT.momentum)
    s.add_argument("--weight-decay", type=float, default=DEFAULT.weight_decay)
    s.add_argument("--schedule-scale", type=float, default=1.0, help="multiply steps and milestones (e.g. 0.1)")
    s.add_argument("--seed", type=int, default=DEFAULT.seed)
    c = p.add_argument_group("checkpoints and compute")
    c.add_argument("--epochs", default="", help="comma-separated epochs to probe (default all)")
    c.add_argument("--every", type=int, default=1, help="probe every k-th checkpoint (the last always)")
    c.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    c.add_argument("--feature-batch-size", type=int, default=256)
    c.add_argument("--num-workers", type=int, default=2)
    c.add_argument("--cache-dir", default="", help="keep extracted features here and reuse them on reruns")
    return p.parse_args(argv)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} but CUDA is not available")
    return name


def run_labels(runs, labels):
    if labels and len(labels) != len(runs):
        raise UserError(f"{len(labels)} --label for {len(runs)} --run")
    labels = labels or [os.path.basename(os.path.normpath(r)) for r in runs]
    if len(set(labels)) != len(labels):
        raise UserError(f"run labels must differ, got {labels}; name them with --label")
    return labels


def stage_boundary(configs):
    """The common IAS -> IRS epoch of the runs, when they all have a stage 2."""
    epochs = {config_value(c, "SOLVER.IAS_EPOCHS") for c in configs if config_value(c, "SOLVER.IRS_EPOCHS", 0)}
    return epochs.pop() if len(epochs) == 1 and len(configs) else None


def split_features(args, model, dataset, transform, checkpoint, desc: str, cache_key: dict):
    """Features of one target split under one checkpoint, from --cache-dir when it has them."""

    def compute():
        return extract_features(
            model,
            dataset,
            transform,
            batch_size=args.feature_batch_size,
            num_workers=args.num_workers,
            progress=True,
            desc=desc,
        )

    if not args.cache_dir:
        return compute()
    stat = os.stat(checkpoint.path)
    key = dict(
        cache_key,
        checkpoint=os.path.abspath(checkpoint.path),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        samples=len(dataset),
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", desc.replace(" ", "_")) + ".pt"
    return cached_features(os.path.join(args.cache_dir, name), key, compute)


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    device = resolve_device(args.device)
    labels = run_labels(args.run, args.label)
    milestones = tuple(int_list(args.milestones, "--milestones"))
    schedule = ProbeSchedule(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        milestones=milestones,
        gamma=args.gamma,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        seed=args.seed,
    ).scaled(args.schedule_scale)
    if schedule.steps < 1 or schedule.batch_size < 1 or schedule.lr <= 0:
        raise UserError("the probe needs --steps, --batch-size and --lr above 0")

    # Every input is checked before any long work starts.
    configs = [load_run_config(r) for r in args.run]
    checkpoints = [select_epochs(list_checkpoints(r), int_list(args.epochs, "--epochs"), args.every) for r in args.run]
    targets = {resolve_target(args.dataset, args.root, int_list(args.classes, "--classes"), c) for c in configs}
    if len(targets) > 1:
        raise UserError(
            f"the runs have different default targets ({sorted(t.description for t in targets)}); pass --dataset"
        )
    target = targets.pop()
    train_set, test_set = build_target_splits(target, args.max_train_samples, args.max_test_samples, args.seed)
    run_sizes = {int(config_value(c, "INPUT.SIZE", 32)) for c in configs}
    image_size = args.image_size or native_image_size(train_set, max(run_sizes))
    transform = build_transform(train_set.style, False, image_size)
    logger.info(
        f"Target {target.description}: {len(train_set)} train / {len(test_set)} test images at "
        f"{image_size}x{image_size}; probe {schedule.steps} steps, batch {schedule.batch_size}, lr {schedule.lr}, "
        f"milestones {list(schedule.milestones)}; device {device}"
    )

    out_dir = args.output_dir
    table_path = os.path.join(out_dir, f"temporal_transfer.{args.format}")
    plot_path = os.path.join(out_dir, "temporal_transfer.png")
    rows = read_table(table_path, numeric=("epoch", "top1")) if args.resume else []
    done = {(r["run"], int(r["epoch"])) for r in rows}
    boundary = stage_boundary(configs)

    def save() -> None:
        rows.sort(key=lambda r: (labels.index(r["run"]) if r["run"] in labels else len(labels), r["epoch"]))
        write_table(table_path, rows, COLUMNS)
        curves = {label: [(r["epoch"], r["top1"]) for r in rows if r["run"] == label] for label in labels}
        plot_temporal_transfer(
            {k: v for k, v in curves.items() if v},
            plot_path,
            title=f"Temporal transferability: {target.description}",
            boundary=boundary,
        )

    total = sum(len(c) for c in checkpoints)
    count = 0
    for label, run_checkpoints in zip(labels, checkpoints):
        for checkpoint in run_checkpoints:
            count += 1
            if (label, checkpoint.epoch) in done:
                continue
            model, _ = load_backbone(checkpoint.path)
            model.to(device)
            features = {
                split: split_features(
                    args,
                    model,
                    dataset,
                    transform,
                    checkpoint,
                    f"{label} epoch {checkpoint.epoch} {split}",
                    cache_key={
                        "target": [target.train, target.test, os.path.abspath(target.root), list(target.classes)],
                        "split": split,
                        "image_size": image_size,
                        "seed": args.seed,
                    },
                )
                for split, dataset in (("train", train_set), ("test", test_set))
            }
            del model
            top1 = 100.0 * probe_accuracy(
                features["train"],
                features["test"],
                train_set.num_classes,
                schedule,
                device=device,
                progress=True,
                desc=f"{label} epoch {checkpoint.epoch} probe",
            )
            logger.info(f"[{count}/{total}] {label} epoch {checkpoint.epoch}: top-1 {top1:.2f}%")
            rows.append(
                {
                    "run": label,
                    "epoch": checkpoint.epoch,
                    "top1": round(top1, 4),
                    "target": target.description,
                    "train_images": len(train_set),
                    "test_images": len(test_set),
                    "image_size": image_size,
                    "steps": schedule.steps,
                    "checkpoint": os.path.abspath(checkpoint.path),
                }
            )
            save()  # after every checkpoint: a long job's partial results are usable
    if not rows:
        raise UserError("nothing to probe")
    save()
    logger.info(f"Wrote {table_path} and {plot_path}")


if __name__ == "__main__":
    run(main, "temporal_transfer")
