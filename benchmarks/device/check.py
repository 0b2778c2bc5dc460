#!/usr/bin/env python
"""The GPU check: the CUDA path of every tool, run and measured in one go on one GPU.

Run it through ``check.sh`` (which supplies the packages the GPU machine lacks). Sections,
each recorded as passed or failed with its figures, so that one failure does not hide the rest:

- ``gpu_tests``: ``pytest -m gpu`` (losses, gradients and memory updates on the device against
  float64 CPU references, the bank's copy, the negative samplers, AMP keeping NCE in float32);
- ``steps``: CE, IAS and IRS training steps, fp32 against AMP + channels_last, for a CIFAR-stem
  ResNet-18 (32 px, batch 64, N 50k, IAS full softmax) and an ImageNet-stem ResNet-50 (224 px,
  batch 128, N 128k, K 16,384): img/s, IAS/CE and IRS/CE in each precision;
- ``negatives``: one IRS step's other-class negatives (batch x K) drawn on the device against
  drawn on the CPU and copied, each as a fraction of the IRS step;
- ``loader``: the pretraining loader's img/s (CIFAR pickles, ImageNet JPEG folder) against the
  AMP CE step it must feed;
- ``pretrain``: ``tools/pretrain.py`` itself, one IAS and one IRS epoch on synthetic data in the
  official layouts (ResNet-18 on CIFAR-100 pickles, fp32 and AMP + channels_last; ResNet-50 on an
  ImageNet folder, AMP + channels_last): img/s per stage and the loader's share, from metrics.json;
- ``train_net``: ``tools/train_net.py``'s trainer against Detectron2's plain loop, Mask R-CNN
  R50-FPN, s/iter over 20 interleaved iterations (``benchmarks/transfer_tools.py``);
- ``finetune_fgvc``: ``tools/finetune_fgvc.py`` with AMP for 20 iterations on a synthetic
  CUB-200-2011: s/iter.

Writes ``check.json`` and ``check.md`` to the output folder; exits 1 when a section failed.
``--tiny`` runs every section at toy size on a CPU in a minute or two; the test suite runs it with
``--skip gpu_tests``, as it runs tests/test_gpu.py itself.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from datetime import date
from typing import Any, Dict, List

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))  # benchmarks/: the measurements this check reuses

import data_pipeline  # noqa: E402
import gpu_throughput  # noqa: E402

# Step presets: (depth, stem, size, batch, N, IAS K, IRS K); tiny ones prove the code runs.
PRESETS = {
    "r18_cifar": (18, "cifar", 32, 64, 50_000, 0, 16_384),
    "r50_imagenet": (50, "imagenet", 224, 128, 128_000, 16_384, 16_384),
}
SECTIONS = ("gpu_tests", "steps", "negatives", "loader", "pretrain", "train_net", "finetune_fgvc")
TINY_PRESETS = {
    "r18_cifar": (18, "cifar", 16, 4, 256, 0, 32),
    "r50_imagenet": (50, "imagenet", 32, 2, 256, 32, 32),
}


class Report:
    """Sections with their status, figures and time; written as JSON and Markdown."""

    def __init__(self, tiny: bool, device: torch.device, skipped: List[str]) -> None:
        self.sections: Dict[str, Dict[str, Any]] = {}
        gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        self.header = {"gpu": gpu, "torch": torch.__version__, "date": date.today().isoformat(), "tiny": tiny}
        self.header["skipped"] = skipped

    @contextmanager
    def section(self, name: str):
        figures: Dict[str, Any] = {}
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            yield figures
            status, error = "passed", ""
        except Exception as e:  # recorded, and the next section runs
            traceback.print_exc()
            status, error = "failed", f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
        self.sections[name] = {"status": status, "error": error, "seconds": time.perf_counter() - start, **figures}
        print(f"== {name}: {status} {error} {json.dumps(figures)}", flush=True)

    @property
    def failed(self) -> List[str]:
        return [name for name, s in self.sections.items() if s["status"] != "passed"]

    def write(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "check.json"), "w") as f:
            json.dump({**self.header, "sections": self.sections}, f, indent=2)
        h = self.header
        lines = [f"GPU check: {h['gpu']}, torch {h['torch']}, {h['date']}" + (" (--tiny)" if h["tiny"] else ""), ""]
        if h["skipped"]:
            lines[1:1] = ["", f"Not run: {', '.join(h['skipped'])}."]
        lines += ["| section | status | figures |", "|---|---|---|"]
        for name, s in self.sections.items():
            shown = {k: v for k, v in s.items() if k not in ("status", "error")}
            figures = ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items())
            lines.append(f"| {name} | {s['status']}{' (' + s['error'] + ')' if s['error'] else ''} | {figures} |")
        with open(os.path.join(folder, "check.md"), "w") as f:
            f.write("\n".join(lines) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gpu_tests(figures: Dict[str, Any]) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    print(result.stdout[-3000:], result.stderr[-3000:])
    figures["summary"] = summary
    if result.returncode:
        raise RuntimeError(summary)


def steps(figures: Dict[str, Any], presets, device: torch.device, tiny: bool) -> Dict[str, Dict[str, float]]:
    measured = {}
    for name, (depth, stem, size, batch, num_data, ias_k, irs_k) in presets.items():
        args = argparse.Namespace(
            depth=depth, stem=stem, size=size, batch=batch, num_data=num_data, ias_negatives=ias_k,
            negatives=irs_k, steps=1 if tiny else 10, rounds=1 if tiny else 3,
        )  # fmt: skip
        ips = gpu_throughput.measure_steps(args, device)
        measured[name] = ips
        for precision in ("fp32", "amp"):
            figures[f"{name}_ce_{precision}_img_s"] = ips[f"ce_{precision}"]
            figures[f"{name}_ias_over_ce_{precision}"] = ips[f"ce_{precision}"] / ips[f"ias_{precision}"]
            figures[f"{name}_irs_over_ce_{precision}"] = ips[f"ce_{precision}"] / ips[f"irs_{precision}"]
        figures[f"{name}_amp_speedup_ce"] = ips["ce_amp"] / ips["ce_fp32"]
    return measured


def negatives(figures: Dict[str, Any], device: torch.device, irs_step_seconds: float, tiny: bool) -> None:
    from ctc_plugin.modeling import OtherClassNegatives

    num_data, batch, k = (256, 4, 32) if tiny else (50_000, 64, 16_384)
    sampler = OtherClassNegatives(torch.arange(num_data) % 100)
    labels = torch.arange(batch) % 100

    def on_device() -> None:
        sampler.draw(labels.to(device), k, torch.Generator(device).manual_seed(1))

    def on_cpu_then_copied() -> None:
        sampler.draw(labels, k, torch.Generator().manual_seed(1)).to(device)

    seconds = {}
    for name, draw in (("device", on_device), ("cpu_copy", on_cpu_then_copied)):
        times = []
        for _ in range(3 if tiny else 20):
            synchronize(device)
            start = time.perf_counter()
            draw()
            synchronize(device)
            times.append(time.perf_counter() - start)
        seconds[name] = statistics.median(times)
    figures["draw_on_device_ms"] = 1000 * seconds["device"]
    figures["draw_on_cpu_and_copy_ms"] = 1000 * seconds["cpu_copy"]
    figures["draw_on_device_over_irs_step"] = seconds["device"] / irs_step_seconds
    figures["draw_on_cpu_and_copy_over_irs_step"] = seconds["cpu_copy"] / irs_step_seconds


def loader(figures: Dict[str, Any], root: str, device_ips: Dict[str, float], tiny: bool) -> None:
    from ctc_plugin.data import build_dataset

    workers = 0 if tiny else min(8, os.cpu_count() or 1)
    batches = 2 if tiny else 20
    data_pipeline.write_cifar(root, 64 * batches)
    data_pipeline.write_imagenet(root, classes=4, per_class=8 if tiny else 32 * batches // 4)
    for name, split, batch, size in (("cifar", "cifar100_train", 64, 32), ("imagenet", "imagenet_train", 32, 224)):
        read = data_pipeline.loader_pass(build_dataset(split, root), size, batch, workers, batches)
        start = time.perf_counter()
        read()
        ips = batch * batches / (time.perf_counter() - start)
        step = device_ips["r18_cifar" if name == "cifar" else "r50_imagenet"]["ce_amp"]
        figures[f"{name}_loader_img_s"] = ips
        figures[f"{name}_loader_over_amp_step"] = ips / step
    figures["workers"] = workers


def run_tool(tool: str, argv: List[str]) -> None:
    command = [sys.executable, os.path.join(REPO, "tools", f"{tool}.py"), *argv]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise RuntimeError(f"{tool} exited {result.returncode}: {result.stderr.strip().splitlines()[-1:]}")


def iteration_times(output_dir: str, first: int, last: int):
    """Medians of Detectron2's per-iteration ``time`` and ``data_time`` over iterations [first, last)."""
    with open(os.path.join(output_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if first <= r.get("iteration", -1) < last and "time" in r]
    return statistics.median(r["time"] for r in rows), statistics.median(r["data_time"] for r in rows)


def pretrain(figures: Dict[str, Any], root: str, device: torch.device, tiny: bool) -> None:
    workers = "0" if tiny else str(min(8, os.cpu_count() or 1))
    common = ["--config-file", "configs/pretrain/cifar100_r18_ctc.yaml", "MODEL.DEVICE", device.type]
    common += ["DATASETS.TEST", "", "DATASETS.ROOT", root, "SOLVER.IAS_EPOCHS", "1", "SOLVER.IRS_EPOCHS", "1"]
    common += ["TRAINER.LOG_PERIOD", "1", "DATALOADER.NUM_WORKERS", workers]
    k = "32" if tiny else "16384"
    r18 = ["INPUT.SIZE", "16" if tiny else "32", "CTC.IRS.NUM_NEGATIVES", k]
    r50 = ["DATASETS.TRAIN", "imagenet_train", "MODEL.DEPTH", "50", "MODEL.STEM", "imagenet"]
    r50 += ["INPUT.SIZE", "32" if tiny else "224", "CTC.IAS.NUM_NEGATIVES", "4" if tiny else k]
    r50 += ["CTC.IRS.NUM_NEGATIVES", k]
    amp = ["SOLVER.AMP", "True", "SOLVER.CHANNELS_LAST", "True"]
    runs = {  # name: (batch, iterations per epoch, options)
        "r18_fp32": (4 if tiny else 128, 4 if tiny else 60, r18 + ["SOLVER.AMP", "False"]),
        "r18_amp": (4 if tiny else 128, 4 if tiny else 60, r18 + amp),
        "r50_amp": (2 if tiny else 64, 4 if tiny else 20, r50 + amp),
    }
    data_pipeline.write_cifar(root, runs["r18_amp"][0] * runs["r18_amp"][1])
    data_pipeline.write_imagenet(root, classes=4, per_class=runs["r50_amp"][0] * runs["r50_amp"][1] // 4)
    for name, (batch, per_epoch, options) in runs.items():
        output = os.path.join(root, f"run_{name}")
        run_tool("pretrain", [*common, *options, "SOLVER.IMS_PER_BATCH", str(batch), "OUTPUT_DIR", output])
        # The second half of each stage: past cuDNN's autotuning, worker start and the bank's copy.
        half = per_epoch // 2
        for stage, first in (("ias", half), ("irs", per_epoch + half)):
            seconds, data = iteration_times(output, first, first + per_epoch - half)
            figures[f"{name}_{stage}_img_s"] = batch / seconds
            figures[f"{name}_{stage}_loader_share"] = data / seconds


def write_synthetic_cub(root: str, classes: int, per_class: int) -> None:
    """CUB_200_2011/ in its official layout: images.txt, image_class_labels.txt, train_test_split.txt, classes.txt."""
    folder = os.path.join(root, "CUB_200_2011")
    rng = np.random.default_rng(0)
    lines: Dict[str, List[str]] = {"images.txt": [], "image_class_labels.txt": [], "train_test_split.txt": []}
    image_id = 0
    for c in range(classes):
        for i in range(per_class):
            image_id += 1
            relative = f"{c + 1:03d}.Class_{c}/image_{image_id:05d}.jpg"
            os.makedirs(os.path.dirname(os.path.join(folder, "images", relative)), exist_ok=True)
            pixels = rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, "images", relative), quality=85)
            lines["images.txt"].append(f"{image_id} {relative}")
            lines["image_class_labels.txt"].append(f"{image_id} {c + 1}")
            lines["train_test_split.txt"].append(f"{image_id} {int(i % 4 != 0)}")
    lines["classes.txt"] = [f"{c + 1} {c + 1:03d}.Class_{c}" for c in range(classes)]
    for name, content in lines.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write("\n".join(content) + "\n")


def finetune_fgvc(figures: Dict[str, Any], root: str, device: torch.device, tiny: bool) -> None:
    batch, iterations = (2, 6) if tiny else (32, 20)  # Detectron2 times iterations from the third on
    classes = 4
    per_class = -(-batch * iterations * 4 // 3 // classes) + 1  # 3 in 4 images are training images
    write_synthetic_cub(root, classes, per_class)
    output = os.path.join(root, "fgvc")
    argv = ["--config-file", "configs/fgvc/cub200_r50.yaml", "MODEL.DEVICE", device.type, "SOLVER.AMP", "True"]
    argv += ["SOLVER.IMS_PER_BATCH", str(batch), "SOLVER.EPOCHS", "1", "TEST.EVAL_PERIOD_EPOCHS", "0"]
    argv += ["DATASETS.ROOT", root, "TRAINER.LOG_PERIOD", "1", "OUTPUT_DIR", output]
    argv += ["MODEL.NAME", "resnet18", "INPUT.SIZE", "32"] if tiny else ["DATALOADER.NUM_WORKERS", "8"]
    run_tool("finetune_fgvc", argv)
    seconds, data = iteration_times(output, iterations // 2, iterations)
    figures["s_per_iter"] = seconds
    figures["img_s"] = batch / seconds
    figures["loader_share"] = data / seconds


def train_net(figures: Dict[str, Any], device: torch.device, tiny: bool) -> None:
    command = [sys.executable, os.path.join(REPO, "benchmarks", "transfer_tools.py"), "--convert-rounds", "0"]
    command += ["--device", device.type, "--rounds", "2" if tiny else "20"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise RuntimeError(f"transfer_tools.py exited {result.returncode}")
    values = dict(item.split("=", 1) for item in result.stdout.strip().splitlines()[-1].split())
    figures["train_net_over_plain"] = float(values["train_net_over_plain"])
    figures["train_net_s_per_iter"] = float(values["train_net_s_per_iter"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--tiny", action="store_true", help="toy sizes on the CPU: proves every section runs")
    parser.add_argument("--only", default="", help="comma-separated sections (default all)")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    args = parser.parse_args()
    only, skip = (set(filter(None, value.split(","))) for value in (args.only, args.skip))
    if (only | skip) - set(SECTIONS):
        parser.error(f"no section {', '.join(sorted((only | skip) - set(SECTIONS)))}; sections: {', '.join(SECTIONS)}")
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    wanted = lambda name: (not only or name in only) and name not in skip  # noqa: E731
    report = Report(args.tiny, device, [name for name in SECTIONS if not wanted(name)])
    presets = TINY_PRESETS if args.tiny else PRESETS
    measured = {name: {"ce_amp": 1.0, "irs_fp32": 1.0} for name in presets}
    with tempfile.TemporaryDirectory(prefix="ctc_device_check_") as root:
        if wanted("gpu_tests"):
            with report.section("gpu_tests") as figures:
                gpu_tests(figures)
        if wanted("steps"):
            with report.section("steps") as figures:
                measured = steps(figures, presets, device, args.tiny)
        if wanted("negatives"):
            with report.section("negatives") as figures:
                irs_step = presets["r18_cifar"][3] / measured["r18_cifar"]["irs_fp32"]
                negatives(figures, device, irs_step, args.tiny)
        if wanted("loader"):
            with report.section("loader") as figures:
                loader(figures, os.path.join(root, "loader"), measured, args.tiny)
        if wanted("pretrain"):
            with report.section("pretrain") as figures:
                pretrain(figures, os.path.join(root, "pretrain"), device, args.tiny)
        if wanted("train_net"):
            with report.section("train_net") as figures:
                train_net(figures, device, args.tiny)
        if wanted("finetune_fgvc"):
            with report.section("finetune_fgvc") as figures:
                finetune_fgvc(figures, os.path.join(root, "fgvc"), device, args.tiny)
    report.write(args.output_dir)
    print(open(os.path.join(args.output_dir, "check.md")).read())
    if report.failed:
        print(f"check: failed sections: {', '.join(report.failed)}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
