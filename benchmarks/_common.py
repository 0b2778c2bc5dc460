"""Shared helpers of the benchmarks: interleaved timing, medians, ratios, the key=value line.

These machines are shared and noisy, so variants are never timed one after the other:
each round runs every variant once, in a rotating order, and only medians over rounds
and ratios between variants of the same run are reported.
"""

import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Mapping

import torch
import torch.nn.functional as F


def interleaved(variants: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1) -> Dict[str, List[float]]:
    """Seconds of every call of each variant, ``rounds`` rounds after ``warmup`` untimed ones.

    The order rotates by one each round, so no variant always follows the same neighbour.
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return times


def medians(times: Mapping[str, List[float]]) -> Dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


def ratio_of_medians_and_median_of_ratios(times: Mapping[str, List[float]], name: str, base: str) -> tuple:
    """(median(name) / median(base), median over rounds of name_r / base_r)."""
    paired = [a / b for a, b in zip(times[name], times[base])]
    return statistics.median(times[name]) / statistics.median(times[base]), statistics.median(paired)


def machine() -> str:
    """One line naming the CPU (or GPU), the threads torch uses and the torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def key_values(pairs: Mapping[str, object]) -> str:
    """``k=v k=v ...``, floats to 3 decimals or, below 0.1, 3 significant digits (the last line of every benchmark)."""
    return " ".join(f"{k}={_number(v)}" for k, v in pairs.items())


def _number(value: object) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.3f}" if abs(value) >= 0.1 else f"{value:.3g}"


def make_ctc(
    backbone,
    targets,
    alpha: float,
    beta: float,
    ias_negatives: int = 0,
    irs_negatives: int = 16_384,
    channels_last: bool = False,
    device: torch.device = torch.device("cpu"),
):
    """CTC built as the trainer builds it (``build_ctc`` from a config), with these settings."""
    from ctc_plugin.config import get_cfg
    from ctc_plugin.modeling import build_ctc

    cfg = get_cfg()
    cfg.CTC.ALPHA, cfg.CTC.BETA = alpha, beta
    cfg.CTC.IAS.NUM_NEGATIVES, cfg.CTC.IRS.NUM_NEGATIVES = ias_negatives, irs_negatives
    cfg.SOLVER.CHANNELS_LAST = channels_last
    return build_ctc(cfg, backbone.to(device), targets, device)


def ce_training_step(depth: int, stem: str, size: int, batch: int, num_classes: int = 100) -> Callable[[], None]:
    """One SGD step of a plain cross-entropy ResNet on fixed in-memory data (the baseline step)."""
    from ctc_plugin.backbones import ResNet

    torch.manual_seed(0)
    network = ResNet(depth, stem=stem, num_classes=num_classes)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1, momentum=0.9)
    images, labels = torch.randn(batch, 3, size, size), torch.randint(num_classes, (batch,))

    def step() -> None:
        loss = F.cross_entropy(network(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step
