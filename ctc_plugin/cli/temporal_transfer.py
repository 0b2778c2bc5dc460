"""ctc-temporal-transfer: a linear probe on a target dataset for every checkpoint of pretraining runs.

--protocol appendix (the default): for each checkpoint the backbone's pooled features of the
target's train and test images are extracted once (eval mode, no_grad, the images normalised as
the network was trained), a linear classifier is trained on them with the appendix's schedule
(15k steps, batch 512, lr 0.4, x0.1 at 5k and 10k) and its final top-1 on the target's test split
is recorded. --protocol release runs the authors' transfer.py instead (train-mode BatchNorm,
32 px, 30 epochs of cosine, the best epoch; CINIC-10's valid split with its own statistics).

The probe trains --draws times per checkpoint (default 3), each draw on its own training sample
(--max-train-samples) with its own initialisation and batch order, all drawn from the probe seed
--seed: the same for every run, so that probe noise is not training noise. It tests on the whole
test split unless --max-test-samples limits it. top1 is the draws' mean; top1_draws keeps each.
Writes OUTPUT_DIR/temporal_transfer.{csv,json} and OUTPUT_DIR/temporal_transfer.png (one curve
per run, like the appendix's Figures 1-3).

    ctc-temporal-transfer --run output/ctc --run output/baseline \\
        --dataset stl10 --root datasets --output-dir output/transfer
    ctc-temporal-transfer --run output/ctc --dataset cinic10 --root datasets --protocol release
    # offline default: the Fashion-MNIST classes the run held out, a 10x shorter schedule
    ctc-temporal-transfer --run output/fmnist_ctc --schedule-scale 0.1
"""

import argparse
import functools
import os
import sys
from dataclasses import asdict, replace
from typing import Any, Dict, List, Optional, Union

from ..analysis.linear_probe import ProbeSchedule
from ..analysis.plots import plot_temporal_transfer
from ..analysis.probe import build_transfer_probe
from ..analysis.release_probe import ReleaseProbe
from ..analysis.targets import PROTOCOLS, probe_transform, protocol_target, resolve_target
from ..config import get_cfg
from ..config.checks import fraction, non_negative, positive
from ..utils.device import resolve_device
from ..utils.errors import UserError
from ..utils.logs import setup_logging
from .common import check_flags, int_list, run
from .sweep_tool import measure_and_plot, open_sweep, sweep_parser

TOOL = "temporal_transfer"
# top1 is the mean of the draws; top1_draws each draw's (CSV: separated by spaces; JSON: a list).
COLUMNS = (
    "run", "epoch", "top1", "top1_draws", "draws", "probe_seed", "target", "train_images", "test_images",
    "image_size", "protocol", "steps", "checkpoint",
)  # fmt: skip
LIST_COLUMNS = ("top1_draws",)
FLAG_RULES = (
    *map(positive, ("every", "draws", "feature_batch_size", "steps", "gamma", "schedule_scale", "probe_epochs")),
    *map(positive, ("batch_size", "lr")),
    *map(non_negative, ("num_workers", "image_size", "max_train_samples", "max_test_samples", "weight_decay")),
    fraction("momentum"),
)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p, compute = sweep_parser(__doc__, "output/temporal_transfer")
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="appendix",
        help="appendix (default): eval-mode features, the appendix's schedule, the final accuracy; "
        "release: the authors' transfer.py (train-mode BatchNorm, 32 px, 30 epochs, the best epoch)",
    )
    g = p.add_argument_group("target")
    g.add_argument("--dataset", default="", help="target base name: stl10, cinic10, ... (default: held-out classes)")
    g.add_argument("--root", default="", help="target folder (default: the run's DATASETS.ROOT)")
    g.add_argument("--classes", default="", help="comma-separated target classes to keep (default all)")
    g.add_argument("--image-size", type=int, default=0, help="probe image side (default: the protocol's)")
    g.add_argument("--max-train-samples", type=int, default=0, help="at most this many target training images per draw")
    g.add_argument(
        "--max-test-samples",
        type=int,
        default=0,
        help="at most this many target test images (default: the whole split)",
    )
    s = p.add_argument_group("probe (defaults: the protocol's; appendix A.3, or transfer.py)")
    s.add_argument("--steps", type=int, help="appendix: SGD steps (15000)")
    s.add_argument("--milestones", help="appendix: steps where lr *= gamma (5000,10000)")
    s.add_argument("--gamma", type=float, help="appendix: learning-rate decay (0.1)")
    s.add_argument("--schedule-scale", type=float, help="appendix: multiply steps and milestones (e.g. 0.1)")
    s.add_argument("--probe-epochs", type=int, help="release: epochs of cosine (30)")
    s.add_argument("--batch-size", type=int, help="images per step (512)")
    s.add_argument("--lr", type=float, help="initial learning rate (0.4)")
    s.add_argument("--momentum", type=float, help="SGD momentum (0.9)")
    s.add_argument("--weight-decay", type=float, help="weight decay (appendix 0, release 5e-4)")
    s.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the probe seed (not a run's training seed; give every run of a study the same): each draw's "
        "training sample, the test sample, each draw's initialisation and batch order",
    )
    s.add_argument("--draws", type=int, default=3, help="probes per checkpoint; top1 is their mean (3)")
    compute.add_argument("--cache-dir", default="", help="appendix: keep extracted features here, reuse them")
    args = p.parse_args(argv)
    check_flags(args, FLAG_RULES)
    return args


def probe_settings(args: argparse.Namespace) -> Union[ProbeSchedule, ReleaseProbe]:
    """The protocol's probe settings with the flags given over them; a flag of the other protocol is refused.

    Their ``seed`` is left at its default: every draw of the probe replaces it with its own.
    """
    own = {"appendix": ("steps", "milestones", "gamma", "schedule_scale"), "release": ("probe_epochs",)}
    other = "release" if args.protocol == "appendix" else "appendix"
    given = [name for name in own[other] if getattr(args, name) is not None]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UserError(f"{flags} belong to the {other} protocol, not --protocol {args.protocol}")
    shared = {
        k: getattr(args, k) for k in ("batch_size", "lr", "momentum", "weight_decay") if getattr(args, k) is not None
    }
    if args.protocol == "release":
        settings = replace(ReleaseProbe(), **shared)
        if args.probe_epochs is not None:
            settings = replace(settings, epochs=args.probe_epochs)
        if settings.epochs < 1 or settings.batch_size < 1 or settings.lr <= 0:
            raise UserError("the probe needs --probe-epochs, --batch-size and --lr above 0")
        return settings
    settings = replace(ProbeSchedule.from_config(get_cfg().TEMPORAL_TRANSFER), **shared)
    for name in ("steps", "gamma"):
        if getattr(args, name) is not None:
            settings = replace(settings, **{name: getattr(args, name)})
    if args.milestones is not None:
        settings = replace(settings, milestones=tuple(int_list(args.milestones, "--milestones")))
    settings = settings.scaled(args.schedule_scale or 1.0)
    if settings.steps < 1 or settings.batch_size < 1 or settings.lr <= 0:
        raise UserError("the probe needs --steps, --batch-size and --lr above 0")
    return settings


def measure_all(args: argparse.Namespace) -> None:
    device = str(resolve_device(args.device))
    settings = probe_settings(args)
    sweep = open_sweep(args, "temporal_transfer", COLUMNS, LIST_COLUMNS)
    classes = int_list(args.classes, "--classes")
    targets = {
        protocol_target(resolve_target(args.dataset, args.root, classes, cfg), args.protocol) for cfg in sweep.configs
    }
    if len(targets) > 1:
        described = sorted(t.description for t in targets)
        raise UserError(f"the runs have different default targets ({described}); pass --dataset")
    target = targets.pop()
    probe = build_transfer_probe(
        target, settings, seed=args.seed, draws=args.draws, max_train=args.max_train_samples,
        max_test=args.max_test_samples, feature_batch_size=args.feature_batch_size, num_workers=args.num_workers,
        cache_dir=args.cache_dir,
    )  # fmt: skip
    # Each run's network sees the target's images normalised as it was trained (appendix).
    views = [probe_transform(target, probe.samples.train, args.protocol, cfg, args.image_size) for cfg in sweep.configs]
    setup_logging(args.output_dir)  # every input is checked: now the long work starts
    shared = {"target": target.description, **probe.describe()}
    sizes = sorted({size for _, size in views})
    described = ", ".join(f"{k} {v}" for k, v in asdict(settings).items() if k != "seed")  # each draw has its seed
    print(
        f"Target {target.description} ({args.protocol} protocol): {args.draws} draws of {shared['train_images']} "
        f"of {len(probe.samples.train)} train images, {shared['test_images']} of {len(probe.samples.test)} test "
        f"images at {', '.join(f'{s}x{s}' for s in sizes)}; probe seed {args.seed}, {described}; device {device}",
        flush=True,
    )

    def measure(index: int, checkpoint, network) -> Dict[str, Any]:
        network.to(device)
        where = f"{sweep.labels[index]} epoch {checkpoint.epoch}"
        transform, size = views[index]
        result = probe.measure(network, transform, device=device, checkpoint=checkpoint.path, name=where, progress=True)
        return {**result.row(), **shared, "image_size": size}

    title = f"Temporal transferability: {target.description} ({args.protocol} protocol)"
    measure_and_plot(
        sweep,
        measure,
        point=lambda row: (row["epoch"], row["top1"]),
        plot=functools.partial(plot_temporal_transfer, title=title, boundary=sweep.stage_boundary()),
        plot_path=os.path.join(args.output_dir, "temporal_transfer.png"),
    )


def main(argv: Optional[List[str]] = None) -> int:
    return run(TOOL, lambda: measure_all(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
