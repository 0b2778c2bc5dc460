#!/usr/bin/env python
"""Item 5: images per second of CTC pretraining on a GPU, AMP + channels_last against fp32.

One prepared script that finishes in a few minutes on one GPU: a ResNet-50 (ImageNet stem,
224 px, batch 128, in-memory data on the device) in the CE, IAS and IRS steps (the IRS step
with its frozen bank's forward pass; N = 128k memory slots, K = 16,384), each in fp32 and in
AMP (float16 autocast with a GradScaler, as Detectron2's AMPTrainer) with channels_last, timed
in interleaved rounds with the device synchronised around every timing.

    python benchmarks/gpu_throughput.py              # on a CUDA machine
    python benchmarks/gpu_throughput.py --tiny       # seconds on a CPU: proves the script runs

The last line is ``key=value`` pairs; ``gpu=`` names the device.
"""

import argparse
import time
from typing import Dict, List

import torch
from _common import key_values, make_ctc, medians

from ctc_plugin.backbones import ResNet

TINY = dict(depth=18, stem="cifar", size=32, batch=8, num_data=1000, negatives=64, ias_negatives=64, steps=2, rounds=1)
STAGES = ("ce", "ias", "irs")


class Run:
    """One (stage, precision) variant: its CTC module, optimizer, scaler and data."""

    def __init__(self, stage: str, amp: bool, args: argparse.Namespace, device: torch.device) -> None:
        torch.manual_seed(0)
        targets = torch.arange(args.num_data) % 1000
        alpha, beta = {"ce": (0.0, 0.0), "ias": (0.2, 0.0), "irs": (0.0, 1.0)}[stage]
        backbone = ResNet(args.depth, stem=args.stem, num_classes=1000)
        self.ctc = make_ctc(backbone, targets, alpha, beta, args.ias_negatives, args.negatives, amp, device)
        if amp:
            self.ctc.to(memory_format=torch.channels_last)
        if stage == "irs":
            self.ctc.enter_stage(2)
        self.optimizer = torch.optim.SGD(self.ctc.trainable_parameters(), lr=0.1, momentum=0.9)
        self.amp, self.device = amp, device
        self.dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
        indices = torch.randperm(args.num_data)[: args.batch].to(device)
        images = torch.randn(args.batch, 3, args.size, args.size, device=device)
        self.batch = (images, indices % 1000, indices, torch.zeros(args.batch, dtype=torch.long))

    def step(self) -> None:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.amp):
            losses = self.ctc(self.batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(sum(losses.values())).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.ctc.update_memories()
        self.batch[3].add_(1)  # the next iteration


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_steps(args: argparse.Namespace, device: torch.device) -> Dict[str, float]:
    """Images per second of every (stage, precision) variant, ``"ce_fp32"`` ... ``"irs_amp"``:
    medians over ``args.rounds`` interleaved rounds of ``args.steps`` steps each."""
    runs = {
        f"{stage}_{precision}": Run(stage, precision == "amp", args, device)
        for stage in STAGES
        for precision in ("fp32", "amp")
    }
    for run in runs.values():  # warm-up: cuDNN autotuning, NCE constants, allocator
        for _ in range(2):
            run.step()
    times: Dict[str, List[float]] = {key: [] for key in runs}
    for r in range(args.rounds):
        keys = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
        for key in keys:
            synchronize(device)
            start = time.perf_counter()
            for _ in range(args.steps):
                runs[key].step()
            synchronize(device)
            times[key].append(time.perf_counter() - start)
    return {key: args.batch * args.steps / seconds for key, seconds in medians(times).items()}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--stem", default="imagenet")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--num-data", type=int, default=128_000)
    parser.add_argument("--negatives", type=int, default=16_384, help="K of the IRS step")
    parser.add_argument("--ias-negatives", type=int, default=16_384, help="K of the IAS step (0: full softmax)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a few seconds on a CPU (proves the script runs)")
    return parser


def main() -> None:
    args = parser().parse_args()
    if args.tiny:
        for key, value in TINY.items():
            setattr(args, key, value)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    ips = measure_steps(args, device)

    print(f"{name}: ResNet-{args.depth} {args.size}px batch {args.batch}, N={args.num_data}, K={args.negatives}")
    for stage in STAGES:
        fp32, amp = ips[f"{stage}_fp32"], ips[f"{stage}_amp"]
        print(f"{stage}: fp32 {fp32:8.1f} img/s, AMP + channels_last {amp:8.1f} img/s ({amp / fp32:.2f}x)")
    out = {"gpu": name.replace(" ", "_")}
    out.update({f"gpu_{key}_ips": value for key, value in ips.items()})
    out.update({f"gpu_{stage}_amp_speedup": ips[f"{stage}_amp"] / ips[f"{stage}_fp32"] for stage in STAGES})
    print(key_values(out))


if __name__ == "__main__":
    main()
