#!/usr/bin/env python
"""The README's first command: baseline and CTC pretraining on Fashion-MNIST, on the CPU.

Each run is ``tools/pretrain.py --resume`` on its config, so an interrupted demo continues
where it stopped and a finished one is not redone. Prints where the checkpoints are.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cli import run  # noqa: E402

from ctc_plugin.utils.errors import UserError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = {
    "baseline": "configs/pretrain/fashion_mnist_r18_baseline.yaml",
    "ctc": "configs/pretrain/fashion_mnist_r18_ctc.yaml",
}


def last_top1(output_dir: str) -> float:
    with open(os.path.join(output_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f if "test/top1" in line]
    return rows[-1]["test/top1"] if rows else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="demo_output", help="where the runs are written")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for both runs")
    args = parser.parse_args()
    summary = []
    for name, config in RUNS.items():
        output_dir = os.path.join(args.output_dir, "pretrain", os.path.splitext(os.path.basename(config))[0])
        command = [sys.executable, os.path.join(REPO, "tools", "pretrain.py"), "--resume"]
        command += ["--config-file", os.path.join(REPO, config), "OUTPUT_DIR", output_dir, *args.opts]
        print(f"demo: pretraining {name} ({config}) into {output_dir}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command).returncode != 0:
            raise UserError(f"pretraining {name} failed; its log is {output_dir}/log.txt")
        summary.append((name, output_dir, time.perf_counter() - start, last_top1(output_dir)))
    print("\ndemo: done. Checkpoints (model_epoch_XXXX.pth per epoch, model_final.pth):")
    for name, output_dir, seconds, top1 in summary:
        print(f"  {name:9s} {os.path.abspath(output_dir)}  test top-1 {top1:.2f}%  ({seconds:.0f} s)")


if __name__ == "__main__":
    run(main, "demo")
