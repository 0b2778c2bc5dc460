#!/usr/bin/env python
"""ctc-study --jobs 2 against the same study run serially: wall seconds, and whether the numbers agree.

The tiny study (configs/studies/tiny.yaml: a baseline and a CTC arm, one seed, their probes, MINE,
conversions, Mask R-CNN and the fine-tune from each and from a random initialisation) on the real
Fashion-MNIST, with one thread per step, in a fresh folder each time; the two modes alternate over
``--rounds``. The last line is ``key=value`` pairs: ``study_jobs2_over_serial`` is the ratio of the
median wall seconds, ``study_same_numbers`` whether every run's results.json holds the same numbers.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import key_values, machine

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOLATILE = {"seconds", "last_seconds", "provenance"}


def numbers(path: str):
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        return [strip(v) for v in value] if isinstance(value, list) else value

    with open(os.path.join(path, "results.json")) as f:
        return strip(json.load(f)["per_seed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fashion-root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="ctc_study_bench_")
    seconds = {"serial": [], "jobs2": []}
    results = []
    try:
        for r in range(args.rounds):
            for mode in ["serial", "jobs2"] if r % 2 == 0 else ["jobs2", "serial"]:
                out = os.path.join(root, f"{mode}_{r}")
                config = os.path.join(REPO, "configs", "studies", "tiny.yaml")
                command = [sys.executable, "-m", "ctc_plugin.cli.study", "--config-file", config, "OUTPUT_DIR", out,
                           "THREADS", "1", "PRETRAIN.DATASETS_ROOT", args.fashion_root, "FGVC.FASHION_ROOT",
                           args.fashion_root]  # fmt: skip
                if mode == "jobs2":
                    command[3:3] = ["--jobs", "2"]
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, cwd=REPO)
                seconds[mode].append(time.perf_counter() - start)
                results.append(numbers(out))
                shutil.rmtree(out)
                print(f"round {r} {mode}: {seconds[mode][-1]:.1f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    serial, jobs2 = statistics.median(seconds["serial"]), statistics.median(seconds["jobs2"])
    print(f"# {machine()}; tiny study, one thread per step, median of {args.rounds} rounds each")
    print(f"# serial {serial:.1f} s, --jobs 2 {jobs2:.1f} s")
    same = all(r == results[0] for r in results)
    print(key_values({"study_jobs2_over_serial": jobs2 / serial, "study_same_numbers": int(same)}))


if __name__ == "__main__":
    main()
