#!/usr/bin/env python
"""Every benchmark in turn, then the README table and one line of ``key=value`` pairs.

    python benchmarks/run_all.py               # about 10 minutes on a busy 2-core CPU
    python benchmarks/run_all.py --rounds 2    # quicker, noisier
    python benchmarks/run_all.py --only step_time,memory_scale

Each benchmark is a plain script in this folder whose last line is ``key=value`` pairs; all
figures are ratios against a baseline timed in the same run (interleaved rounds, medians),
except the GPU row, which is absolute and only measured where CUDA is available (elsewhere
``gpu_throughput.py --tiny`` only proves that the script runs).
"""

import argparse
import os
import subprocess
import sys
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import machine  # noqa: E402


def plan(rounds: int) -> Dict[str, List[str]]:
    """Benchmark name -> its command line (``--rounds`` scales every one)."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    return {
        "step_time": ["step_time.py", "--rounds", str(rounds)],
        "step_time_r50": ["step_time.py", "--preset", "r50", "--rounds", str(max(2, rounds - 2)), "--prefix", "r50_"],
        "memory_scale": ["memory_scale.py", "--rounds", str(max(1, rounds // 2))],
        "data_pipeline": ["data_pipeline.py", "--rounds", str(max(2, rounds // 2))],
        "transfer_tools": ["transfer_tools.py", "--rounds", str(2 * rounds)],
        "study_jobs": ["study_jobs.py", "--rounds", str(max(1, rounds // 2))],
        "gpu_throughput": ["gpu_throughput.py"] if cuda else ["gpu_throughput.py", "--tiny"],
    }


def parse(line: str) -> Dict[str, str]:
    return dict(item.split("=", 1) for item in line.split() if "=" in item)


def fmt(values: Dict[str, str], key: str, spec: str = ".2f", suffix: str = "") -> str:
    return f"{float(values[key]):{spec}}{suffix}" if key in values else "not run"


def table(v: Dict[str, str], gpu_measured: bool) -> str:
    rows = [
        ("IAS step / CE step (ResNet-18 CIFAR, bs 64, N 50k, full softmax)", fmt(v, "ias_over_ce", ".3f"), "<= 1.05"),
        ("IRS step / CE step (same, K 16,384, other-class negatives)", fmt(v, "irs_over_ce", ".3f"), "<= 1.35"),
        ("  of which the frozen bank's forward pass / CE step", fmt(v, "bank_over_ce", ".3f"), ""),
        ("IAS step / CE step (ResNet-50 ImageNet stem, 64 px, bs 64)", fmt(v, "r50_ias_over_ce", ".3f"), ""),
        ("IRS step / CE step (same)", fmt(v, "r50_irs_over_ce", ".3f"), ""),
        (
            "sampled IAS loss + update / ResNet-50 step (N 1.28M, K 16,384, bs 256)",
            fmt(v, "scale_ias_over_r50", ".4f"),
            "small",
        ),
        ("IRS loss + update / ResNet-50 step (same)", fmt(v, "scale_irs_over_r50", ".4f"), "small"),
        (
            "cost at N 1.28M / cost at N 80k (IAS, IRS)",
            f"{fmt(v, 'scale_ias_n_growth')}, {fmt(v, 'scale_irs_n_growth')}",
            "~1",
        ),
        (
            "memories at N 1.28M (IAS; IRS two)",
            f"{fmt(v, 'ias_memory_gb', '.2f', ' GB')}; {fmt(v, 'irs_memories_gb', '.2f', ' GB')}",
            "not DDP buffers",
        ),
        (
            "other-class negative sampler (CRD's per-class lists)",
            f"{fmt(v, 'sampler_mb', '.1f', ' MB')} ({fmt(v, 'crd_lists_gb', '.1f', ' GB')})",
            "",
        ),
        (
            "CIFAR-100 loader / ResNet-18 step, images/s, 0 and 2 workers",
            f"{fmt(v, 'data_cifar_w0_over_step', '.1f')}x, {fmt(v, 'data_cifar_w2_over_step', '.1f')}x",
            "> 1",
        ),
        (
            "ImageNet-layout loader / ResNet-50 step (224 px), 0 and 2 workers",
            f"{fmt(v, 'data_imagenet_w0_over_step', '.1f')}x, {fmt(v, 'data_imagenet_w2_over_step', '.1f')}x",
            "> 1",
        ),
        (
            "tools/train_net.py / Detectron2 plain loop, s/iter (Mask R-CNN R50-FPN)",
            fmt(v, "train_net_over_plain", ".3f"),
            "<= 1.02",
        ),
        (
            "ctc-study --jobs 2 / serially, wall seconds (tiny study, 1 thread per step; same numbers)",
            f"{fmt(v, 'study_jobs2_over_serial', '.3f')} ({'yes' if v.get('study_same_numbers') == '1' else 'no'})",
            "clearly < 1",
        ),
        (
            "convert + verify ResNet-50 (Detectron2; timm)",
            f"{fmt(v, 'convert_d2_s', '.1f', ' s')}; {fmt(v, 'convert_timm_s', '.1f', ' s')}",
            "",
        ),
    ]
    if gpu_measured:
        gpu = v["gpu"].replace("_", " ")
        rows.append(
            (
                f"AMP + channels_last / fp32, images/s ({gpu}; CE, IAS, IRS)",
                ", ".join(fmt(v, f"gpu_{s}_amp_speedup", ".2f", "x") for s in ("ce", "ias", "irs")),
                "",
            )
        )
        rows.append(
            (
                f"IRS images/s on {gpu}, fp32 / AMP",
                f"{fmt(v, 'gpu_irs_fp32_ips', '.0f')} / {fmt(v, 'gpu_irs_amp_ips', '.0f')}",
                "",
            )
        )
    else:
        rows.append(
            (
                "GPU: AMP + channels_last against fp32 (benchmarks/gpu_throughput.py)",
                "not measured (no CUDA device)",
                "",
            )
        )
    lines = ["| measurement | measured | target |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the step benchmarks")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args()

    commands = plan(args.rounds)
    names = [n for n in commands if not args.only or n in args.only.split(",")]
    values: Dict[str, str] = {}
    for name in names:
        start = time.perf_counter()
        print(f"== {name}: {' '.join(commands[name])}", flush=True)
        result = subprocess.run([sys.executable, *commands[name]], cwd=HERE, capture_output=True, text=True)
        print(result.stdout.rstrip())
        if result.returncode != 0:
            print(f"{name} failed:\n{result.stderr[-2000:]}", flush=True)
            continue
        values.update(parse(result.stdout.strip().splitlines()[-1]))
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    gpu_measured = values.get("gpu", "cpu") != "cpu"
    print(f"\nMeasured on {machine()} (load average {os.getloadavg()[0]:.1f} at the end)\n")
    print(table(values, gpu_measured))
    print()
    if not gpu_measured:
        values = {k: val for k, val in values.items() if not k.startswith("gpu")}
        values["gpu"] = "not_measured"
    print(" ".join(f"{k}={val}" for k, val in values.items()))


if __name__ == "__main__":
    main()
