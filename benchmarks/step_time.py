#!/usr/bin/env python
"""Item 1: the cost of a CTC step against a plain cross-entropy step of the same network.

The same network, batch and in-memory data; the CE step, the IAS step (stage 1, CE + alpha
L_IAS) and the IRS step (stage 2, CE + beta L_IRS, with the frozen bank's forward pass) are
timed in interleaved rounds, with the bank's forward pass alone as a fourth variant (the floor
under the IRS step). Reported as medians and ratios to the CE step.

    python benchmarks/step_time.py                 # ResNet-18 CIFAR stem, bs 64, N 50k, K 16384
    python benchmarks/step_time.py --preset r50    # ResNet-50 ImageNet stem at 64 px

The last line is ``key=value`` pairs (keys prefixed with ``--prefix``).
"""

import argparse

import torch
from _common import interleaved, key_values, machine, make_ctc, medians

from ctc_plugin.backbones import ResNet
from ctc_plugin.modeling import CTC

PRESETS = {
    "cifar": dict(depth=18, stem="cifar", size=32, batch=64),
    "r50": dict(depth=50, stem="imagenet", size=64, batch=64),
}


def build(mode: str, args: argparse.Namespace) -> tuple:
    torch.manual_seed(0)
    backbone = ResNet(args.depth, stem=args.stem, num_classes=100)
    targets = torch.arange(args.num_data) % 100
    alpha, beta = {"ce": (0.0, 0.0), "ias": (0.01, 0.0), "irs": (0.0, 1.0)}[mode]
    ctc = make_ctc(backbone, targets, alpha, beta, args.ias_negatives, args.negatives)
    if mode == "irs":
        ctc.enter_stage(2)
    optimizer = torch.optim.SGD(ctc.trainable_parameters(), lr=0.01, momentum=0.9)
    return ctc, optimizer


def train_step(ctc: CTC, optimizer: torch.optim.Optimizer, batch) -> None:
    """What Detectron2's SimpleTrainer does per step, plus the CTC hook's memory update."""
    losses = ctc(batch)
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    ctc.update_memories()
    batch[3].add_(1)  # the next iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cifar")
    parser.add_argument("--depth", type=int)
    parser.add_argument("--stem")
    parser.add_argument("--size", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--num-data", type=int, default=50_000)
    parser.add_argument("--negatives", type=int, default=16_384)
    parser.add_argument("--ias-negatives", type=int, default=0, help="0: full softmax")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.threads:
        torch.set_num_threads(args.threads)

    images = torch.randn(args.batch, 3, args.size, args.size)
    indices = torch.randperm(args.num_data)[: args.batch]
    batch = (images, indices % 100, indices, torch.zeros(args.batch, dtype=torch.long))
    runs = {mode: build(mode, args) for mode in ("ce", "ias", "irs")}
    variants = {mode: (lambda run=run: train_step(*run, batch)) for mode, run in runs.items()}
    variants["bank"] = lambda: runs["irs"][0].terms["irs"].bank_features(images)  # the IRS step's extra forward pass
    times = interleaved(variants, args.rounds, warmup=1)  # warm-up also fixes the NCE constants
    median = medians(times)

    setting = f"batch {args.batch}, {args.size}px, N={args.num_data}, K={args.negatives}"
    print(f"ResNet-{args.depth} ({args.stem} stem), {setting}; {machine()}")
    print(f"{'variant':8s} {'s/iter':>8s} {'x CE':>6s}")
    for mode, seconds in median.items():
        print(f"{mode:8s} {seconds:8.3f} {seconds / median['ce']:6.3f}")
    p = args.prefix
    print(
        key_values(
            {
                f"{p}ce_s": median["ce"],
                f"{p}ias_s": median["ias"],
                f"{p}irs_s": median["irs"],
                f"{p}ias_over_ce": median["ias"] / median["ce"],
                f"{p}irs_over_ce": median["irs"] / median["ce"],
                f"{p}bank_over_ce": median["bank"] / median["ce"],
            }
        )
    )


if __name__ == "__main__":
    main()
