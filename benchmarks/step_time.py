#!/usr/bin/env python
"""CPU seconds per training step of the baseline, an IAS step and an IRS step, side by side.

The paper's CIFAR setting by default: ResNet-18 (CIFAR stem), batch 64, 32x32 images,
N = 50,000 memory slots, K = 16,384 negatives, 128-d embeddings. The three steps are
timed in interleaved rounds (these machines are noisy) and reported as medians and as
ratios to the baseline step. The last line is ``key=value`` pairs.
"""

import argparse
import statistics
import time

import torch

from ctc_plugin.modeling import CTC
from ctc_plugin.models import ResNet


def build(mode: str, args) -> tuple:
    torch.manual_seed(0)
    backbone = ResNet(args.depth, stem=args.stem, num_classes=100)
    targets = torch.arange(args.num_data) % 100
    alpha, beta = {"ce": (0.0, 0.0), "ias": (0.01, 0.0), "irs": (0.0, 1.0)}[mode]
    ctc = CTC(backbone, targets, alpha=alpha, beta=beta, ias_negatives=args.ias_negatives, irs_negatives=args.negatives)
    if mode == "irs":
        ctc.start_revitalization()
    optimizer = torch.optim.SGD(ctc.trainable_parameters(), lr=0.01, momentum=0.9)
    return ctc, optimizer


def step(ctc: CTC, optimizer: torch.optim.Optimizer, batch) -> None:
    losses = ctc(batch)
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    ctc.update_memories()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=18)
    parser.add_argument("--stem", default="cifar")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--num-data", type=int, default=50_000)
    parser.add_argument("--negatives", type=int, default=16_384)
    parser.add_argument("--ias-negatives", type=int, default=0, help="0: full softmax")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    images = torch.randn(args.batch, 3, args.size, args.size)
    indices = torch.randperm(args.num_data)[: args.batch]
    batch = (images, indices % 100, indices)
    runs = {mode: build(mode, args) for mode in ("ce", "ias", "irs")}
    times = {mode: [] for mode in runs}
    for ctc, optimizer in runs.values():  # warm-up (also fixes the NCE constants)
        step(ctc, optimizer, batch)
    for _ in range(args.rounds):
        for mode, (ctc, optimizer) in runs.items():
            start = time.perf_counter()
            step(ctc, optimizer, batch)
            times[mode].append(time.perf_counter() - start)
    median = {mode: statistics.median(t) for mode, t in times.items()}
    setting = f"batch {args.batch}, {args.size}px, N={args.num_data}, K={args.negatives}"
    print(f"ResNet-{args.depth} ({args.stem} stem), {setting}")
    print(f"{'step':6s} {'s/iter':>8s} {'x CE':>6s}")
    for mode, seconds in median.items():
        print(f"{mode:6s} {seconds:8.3f} {seconds / median['ce']:6.2f}")
    print(
        f"ce_s={median['ce']:.3f} ias_s={median['ias']:.3f} irs_s={median['irs']:.3f} "
        f"ias_over_ce={median['ias'] / median['ce']:.3f} irs_over_ce={median['irs'] / median['ce']:.3f}"
    )


if __name__ == "__main__":
    main()
