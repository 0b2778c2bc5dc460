#!/usr/bin/env python
"""The information plane: I(X;T) and I(T;Y) by MINE for every checkpoint of pretraining runs.

X is the flattened normalised 32x32x3 image, T the backbone's pooled feature and Y the
one-hot label, over a dataset's test split (default: the run's DATASETS.TEST with its
DATASETS.CLASSES). MINE uses the appendix's settings by default: 4 FC layers of 1024,
batch 5000, Adam, lr 1e-4 for 10k steps for I(X;T) and lr 1e-5 for 20k steps for I(T;Y).
Writes OUTPUT_DIR/mutual_information.{csv,json} and OUTPUT_DIR/information_plane.png.

    python tools/estimate_mi.py --run output/ctc --run output/baseline --output-dir output/mi
    python tools/estimate_mi.py --run output/fmnist_ctc --xt-steps 1000 --ty-steps 2000 --max-samples 5000

Plain flags only; see docs/analyses.md. Bad input is one line and exit status 2.
"""

import argparse
import logging
import os
import sys
from typing import Dict, Tuple

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
from ctc_plugin.analysis.linear_probe import extract_features  # noqa: E402
from ctc_plugin.analysis.mine import estimate_mutual_information  # noqa: E402
from ctc_plugin.analysis.plots import plot_information_plane  # noqa: E402
from ctc_plugin.analysis.results import FORMATS, read_table, write_table  # noqa: E402
from ctc_plugin.analysis.targets import int_list, limit_samples  # noqa: E402
from ctc_plugin.data import build_dataset, build_transform  # noqa: E402
from ctc_plugin.utils.errors import UserError  # noqa: E402

logger = logging.getLogger("ctc_plugin.estimate_mi")
COLUMNS = ("run", "epoch", "I_XT", "I_TY", "dataset", "samples", "checkpoint")


class _Pixels(torch.nn.Module):
    """A "backbone" whose features are the flattened input: X for MINE via extract_features."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="DIR", help="pretraining run folder (repeatable)")
    p.add_argument(
        "--label", action="append", default=[], help="legend name of each --run, in order (default: folder name)"
    )
    p.add_argument("--output-dir", default="output/mutual_information")
    p.add_argument("--format", choices=FORMATS, default="csv", help="table format (default csv)")
    p.add_argument(
        "--resume", action="store_true", help="keep the rows of an existing table and skip their checkpoints"
    )
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="", help="registered split (default: the run's DATASETS.TEST)")
    d.add_argument("--root", default="", help="dataset folder (default: the run's DATASETS.ROOT)")
    d.add_argument("--classes", default=None, help="comma-separated classes (default: the run's DATASETS.CLASSES)")
    d.add_argument("--max-samples", type=int, default=0, help="at most this many images (0 = the whole split)")
    d.add_argument("--pixel-size", type=int, default=32, help="side of the images that make X (32 in the paper)")
    d.add_argument("--image-size", type=int, default=0, help="side of the backbone's input (default: INPUT.SIZE)")
    m = p.add_argument_group("MINE (appendix A.2 defaults)")
    m.add_argument("--xt-steps", type=int, default=10000)
    m.add_argument("--xt-lr", type=float, default=1e-4)
    m.add_argument("--ty-steps", type=int, default=20000)
    m.add_argument("--ty-lr", type=float, default=1e-5)
    m.add_argument("--batch-size", type=int, default=5000)
    m.add_argument("--hidden", type=int, default=1024)
    m.add_argument("--layers", type=int, default=4)
    m.add_argument("--ema-rate", type=float, default=0.01, help="moving-average rate of the gradient correction")
    m.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="fraction of rows kept out of MINE's training to evaluate on (0: none)",
    )
    m.add_argument("--seed", type=int, default=0)
    c = p.add_argument_group("checkpoints and compute")
    c.add_argument("--epochs", default="", help="comma-separated epochs (default all)")
    c.add_argument("--every", type=int, default=1, help="every k-th checkpoint (the last always)")
    c.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    c.add_argument("--feature-batch-size", type=int, default=256)
    c.add_argument("--num-workers", type=int, default=2)
    return p.parse_args(argv)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} but CUDA is not available")
    return name


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s", datefmt="%H:%M:%S")
    device = resolve_device(args.device)
    if args.label and len(args.label) != len(args.run):
        raise UserError(f"{len(args.label)} --label for {len(args.run)} --run")
    labels = args.label or [os.path.basename(os.path.normpath(r)) for r in args.run]
    if len(set(labels)) != len(labels):
        raise UserError(f"run labels must differ, got {labels}; name them with --label")
    for name, value in (
        ("--xt-steps", args.xt_steps),
        ("--ty-steps", args.ty_steps),
        ("--batch-size", args.batch_size),
    ):
        if value < (2 if name == "--batch-size" else 1):
            raise UserError(f"{name} is too small: {value}")
    if not 0 <= args.holdout < 1:
        raise UserError(f"--holdout must lie in [0, 1), got {args.holdout}")

    # Every input is checked before any long work starts.
    configs = [load_run_config(r) for r in args.run]
    checkpoints = [select_epochs(list_checkpoints(r), int_list(args.epochs, "--epochs"), args.every) for r in args.run]
    datasets: Dict[Tuple, object] = {}
    plans = []
    for config in configs:
        name = args.dataset or str(config_value(config, "DATASETS.TEST", "") or "")
        if not name:
            raise UserError("the run has no DATASETS.TEST; pass --dataset")
        root = args.root or str(config_value(config, "DATASETS.ROOT", "") or "")
        own = not args.dataset or name == config_value(config, "DATASETS.TEST")
        classes = (
            int_list(args.classes, "--classes")
            if args.classes is not None
            else (int_list(config_value(config, "DATASETS.CLASSES", []) or []) if own else [])
        )
        key = (name, os.path.abspath(root) if root else "", tuple(classes))
        if key not in datasets:
            datasets[key] = limit_samples(build_dataset(name, root, classes), args.max_samples, args.seed)
        size = args.image_size or int(config_value(config, "INPUT.SIZE", 32))
        plans.append((key, size))

    out_dir = args.output_dir
    table_path = os.path.join(out_dir, f"mutual_information.{args.format}")
    plot_path = os.path.join(out_dir, "information_plane.png")
    rows = read_table(table_path, numeric=("epoch", "I_XT", "I_TY")) if args.resume else []
    done = {(r["run"], int(r["epoch"])) for r in rows}

    def save() -> None:
        rows.sort(key=lambda r: (labels.index(r["run"]) if r["run"] in labels else len(labels), r["epoch"]))
        write_table(table_path, rows, COLUMNS)
        planes = {label: [(r["epoch"], r["I_XT"], r["I_TY"]) for r in rows if r["run"] == label] for label in labels}
        plot_information_plane({k: v for k, v in planes.items() if v}, plot_path)

    mine = dict(
        batch_size=args.batch_size,
        hidden=args.hidden,
        layers=args.layers,
        seed=args.seed,
        ema_rate=args.ema_rate,
        holdout=args.holdout,
        device=device,
        progress=True,
    )
    pixels: Dict[Tuple, torch.Tensor] = {}
    total, count = sum(len(c) for c in checkpoints), 0
    for label, run_checkpoints, (key, size) in zip(labels, checkpoints, plans):
        dataset = datasets[key]
        if key not in pixels:  # X depends on the data only: computed once per dataset
            transform = build_transform(dataset.style, False, args.pixel_size)
            pixels[key] = extract_features(
                _Pixels(),
                dataset,
                transform,
                batch_size=args.feature_batch_size,
                num_workers=args.num_workers,
                desc="pixels",
            )[0]
        x = pixels[key]
        transform = build_transform(dataset.style, False, size)
        for checkpoint in run_checkpoints:
            count += 1
            if (label, checkpoint.epoch) in done:
                continue
            model, _ = load_backbone(checkpoint.path)
            t, y = extract_features(
                model.to(device),
                dataset,
                transform,
                batch_size=args.feature_batch_size,
                num_workers=args.num_workers,
                progress=True,
                desc=f"{label} epoch {checkpoint.epoch} features",
            )
            del model
            y = torch.nn.functional.one_hot(y, dataset.num_classes).float()
            where = f"{label} epoch {checkpoint.epoch}"
            i_xt = estimate_mutual_information(x, t, steps=args.xt_steps, lr=args.xt_lr, desc=f"{where} I(X;T)", **mine)
            i_ty = estimate_mutual_information(t, y, steps=args.ty_steps, lr=args.ty_lr, desc=f"{where} I(T;Y)", **mine)
            logger.info(f"[{count}/{total}] {where}: I(X;T) {i_xt:.4f}, I(T;Y) {i_ty:.4f} nats")
            rows.append(
                {
                    "run": label,
                    "epoch": checkpoint.epoch,
                    "I_XT": round(i_xt, 6),
                    "I_TY": round(i_ty, 6),
                    "dataset": key[0],
                    "samples": len(dataset),
                    "checkpoint": os.path.abspath(checkpoint.path),
                }
            )
            save()  # after every checkpoint: a long job's partial results are usable
    if not rows:
        raise UserError("nothing to estimate")
    save()
    logger.info(f"Wrote {table_path} and {plot_path}")


if __name__ == "__main__":
    run(main, "estimate_mi")
