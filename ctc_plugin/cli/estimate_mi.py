"""ctc-estimate-mi: the information plane, I(X;T) and I(T;Y) by MINE for every checkpoint of pretraining runs.

X is the flattened normalised 32x32x3 image, T the backbone's pooled feature and Y the
one-hot label, over a dataset's test split (default: the run's DATASETS.TEST with its
DATASETS.CLASSES). MINE uses the appendix's settings by default: 4 FC layers of 1024,
batch 5000, Adam, lr 1e-4 for 10k steps for I(X;T) and lr 1e-5 for 20k steps for I(T;Y); the
estimate is read on half of the rows, kept out of training (--protocol appendix reads it on the
training rows as the paper did, --protocol release as the authors' mine.py: I(X;T) at lr 8e-5
as its README runs it, CIFAR-100, STL-10 and CINIC-10 normalised as its loaders do, for X and
for the network's input, and CINIC-10's valid split). T is otherwise computed on the images
normalised as the network was trained.
Writes OUTPUT_DIR/mutual_information.{csv,json} and OUTPUT_DIR/information_plane.png.

    ctc-estimate-mi --run output/ctc --run output/baseline --output-dir output/mi
    ctc-estimate-mi --run output/fmnist_ctc --xt-steps 1000 --ty-steps 2000 --max-samples 5000
"""

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import torch

from ..analysis.linear_probe import extract_features
from ..analysis.mine import MINE_PROTOCOLS, estimate_mutual_information
from ..analysis.plots import plot_information_plane
from ..analysis.release_probe import RELEASE_MINE_DATA, release_normalization
from ..analysis.runs import run_normalization
from ..config.checks import Rule, at_least, non_negative, positive
from ..data import ClassificationDataset, build_dataset, build_transform, random_subset
from ..utils.device import resolve_device
from ..utils.errors import UserError
from ..utils.logs import setup_logging
from .common import check_flags, int_list, run
from .sweep_tool import measure_and_plot, open_sweep, sweep_parser

TOOL = "estimate_mi"
RELEASE_XT_LR = 8e-5
COLUMNS = ("run", "epoch", "I_XT", "I_TY", "dataset", "samples", "checkpoint")
FLAG_RULES = (
    *map(positive, ("every", "feature_batch_size", "xt_steps", "ty_steps", "xt_lr", "ty_lr", "hidden", "layers")),
    positive("pixel_size"),
    *map(non_negative, ("num_workers", "max_samples", "image_size")),
    at_least("batch_size", 2),
    Rule("ema_rate", lambda v: 0 < v <= 1, "be in (0, 1]"),
)


class _Pixels(torch.nn.Module):
    """A "backbone" whose features are the flattened input: X for MINE via extract_features."""

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p, compute = sweep_parser(__doc__, "output/mutual_information")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="", help="registered split (default: the run's DATASETS.TEST)")
    d.add_argument("--root", default="", help="dataset folder (default: the run's DATASETS.ROOT)")
    d.add_argument("--classes", default=None, help="comma-separated classes (default: the run's DATASETS.CLASSES)")
    d.add_argument("--max-samples", type=int, default=0, help="at most this many images (0 = the whole split)")
    d.add_argument("--pixel-size", type=int, default=32, help="side of the images that make X (32 in the paper)")
    d.add_argument("--image-size", type=int, default=0, help="side of the backbone's input (default: INPUT.SIZE)")
    m = p.add_argument_group("MINE (appendix A.2 defaults)")
    m.add_argument("--xt-steps", type=int, default=10000)
    m.add_argument("--xt-lr", type=float, default=None, help="default 1e-4; 8e-5 with --protocol release")
    m.add_argument("--ty-steps", type=int, default=20000)
    m.add_argument("--ty-lr", type=float, default=1e-5)
    m.add_argument("--batch-size", type=int, default=5000)
    m.add_argument("--hidden", type=int, default=1024)
    m.add_argument("--layers", type=int, default=4)
    m.add_argument("--ema-rate", type=float, default=0.01, help="moving-average rate of the gradient correction")
    m.add_argument(
        "--protocol",
        choices=sorted(MINE_PROTOCOLS),
        default="heldout",
        help="heldout (default): the bound on half of the rows, kept out of training; appendix: on the rows "
        "it trained on (biased upwards); release: the authors' mine.py (the 500 mini-batch bounds before "
        "the last, unclipped)",
    )
    m.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.xt_lr is None:  # the release's README runs I(X;T) at 8e-5
        args.xt_lr = RELEASE_XT_LR if args.protocol == "release" else 1e-4
    check_flags(args, FLAG_RULES)
    return args


def _base(split: str) -> str:
    return split.rsplit("_", 1)[0] if "_" in split else split


def run_dataset(args: argparse.Namespace, cfg) -> Tuple[Tuple, int]:
    """(dataset key, backbone input size) of one run: its test split unless --dataset names another
    (with --protocol release, the split the release reads: CINIC-10's valid)."""
    name = args.dataset or cfg.DATASETS.TEST
    if not name:
        raise UserError("the run has no DATASETS.TEST; pass --dataset")
    own = not args.dataset or name == cfg.DATASETS.TEST
    if args.protocol == "release" and name == f"{_base(name)}_test" and _base(name) in RELEASE_MINE_DATA:
        name = RELEASE_MINE_DATA[_base(name)]["test"]
    root = args.root or cfg.DATASETS.ROOT
    if args.classes is not None:
        classes = int_list(args.classes, "--classes")
    else:
        classes = [int(c) for c in cfg.DATASETS.CLASSES] if own else []
    return (name, os.path.abspath(root) if root else "", tuple(classes)), args.image_size or cfg.INPUT.SIZE


def measure_all(args: argparse.Namespace) -> None:
    device = str(resolve_device(args.device))
    sweep = open_sweep(args, "mutual_information", COLUMNS)
    plans = [run_dataset(args, cfg) for cfg in sweep.configs]
    # --protocol release: X and the network's input normalised as the release's loaders do (checked here).
    release_views = [
        release_normalization(_base(key[0]), lambda cfg=cfg: run_normalization(cfg), RELEASE_MINE_DATA)
        if args.protocol == "release"
        else None
        for (key, _), cfg in zip(plans, sweep.configs)
    ]
    datasets: Dict[Tuple, ClassificationDataset] = {}
    for key, _ in plans:
        if key not in datasets:
            dataset = build_dataset(key[0], key[1], key[2], what="--classes")
            datasets[key] = random_subset(dataset, args.max_samples, args.seed)
    setup_logging(args.output_dir)  # every input is checked: now the long work starts
    mine = dict(
        batch_size=args.batch_size,
        hidden=args.hidden,
        layers=args.layers,
        seed=args.seed,
        ema_rate=args.ema_rate,
        protocol=MINE_PROTOCOLS[args.protocol],
        device=device,
        progress=True,
    )
    pixels: Dict[Tuple, torch.Tensor] = {}

    def features(network, dataset, size: int, desc: str, normalization=None):
        transform = build_transform(dataset.style, False, size, normalization=normalization)
        return extract_features(
            network,
            dataset,
            transform,
            batch_size=args.feature_batch_size,
            num_workers=args.num_workers,
            progress=True,
            desc=desc,
        )

    def measure(index: int, checkpoint, network) -> Dict[str, Any]:
        key, size = plans[index]
        dataset = datasets[key]
        release = release_views[index]
        if key not in pixels:  # X depends on the data only: computed once per dataset
            pixels[key] = features(_Pixels(), dataset, args.pixel_size, "pixels", release)[0]
        where = f"{sweep.labels[index]} epoch {checkpoint.epoch}"
        normalization = release or run_normalization(sweep.configs[index])
        t, y = features(network.to(device), dataset, size, f"{where} features", normalization)
        y = torch.nn.functional.one_hot(y, dataset.num_classes).float()
        i_xt = estimate_mutual_information(
            pixels[key], t, steps=args.xt_steps, lr=args.xt_lr, desc=f"{where} I(X;T)", **mine
        )
        i_ty = estimate_mutual_information(t, y, steps=args.ty_steps, lr=args.ty_lr, desc=f"{where} I(T;Y)", **mine)
        return {"I_XT": round(i_xt, 6), "I_TY": round(i_ty, 6), "dataset": key[0], "samples": len(dataset)}

    measure_and_plot(
        sweep,
        measure,
        point=lambda row: (row["epoch"], row["I_XT"], row["I_TY"]),
        plot=plot_information_plane,
        plot_path=os.path.join(args.output_dir, "information_plane.png"),
    )


def main(argv: Optional[List[str]] = None) -> int:
    return run(TOOL, lambda: measure_all(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
