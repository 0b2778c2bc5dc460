"""ctc-demo: the whole pipeline on real data, with a report (the README's first command).

    ctc-demo                                                      # Fashion-MNIST on 2 CPU cores
    ctc-demo --config-file configs/demo/paper.yaml               # the paper's scale, real datasets

Steps, each through the tool a user would run, in its own process: pretrain a baseline and
a CTC network (ctc-pretrain --resume), temporal transferability (ctc-temporal-transfer) and
the information plane (ctc-estimate-mi) of both, conversion of the CTC network to Detectron2
and timm with verification (ctc-convert), a short Mask R-CNN run with evaluation
(ctc-train-net) and a short fine-grained fine-tune (ctc-finetune-fgvc). Each step's progress
and ETA show here; its whole output is in OUTPUT_DIR/logs/. Writes OUTPUT_DIR/report.md
beside the PNG plots; every number in it is read from what the steps wrote.
"""

import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import yaml
from fvcore.common.config import CfgNode as CN

from ..analysis.runs import load_run_config
from ..config import merge_config
from ..model_zoo import config_path
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, atomic_write_text
from . import COMMANDS
from .common import ArgumentParser, run
from .demo_data import write_fashion_cub, write_shapes_coco
from .demo_report import build_report

TOOL = "demo"
CAVEATS = (
    "One seed, a {model}, {epochs} epochs on {images} training images: differences of a point or two between "
    "the runs are within what another seed would change, so this run shows that every part of the pipeline "
    "works end to end on real data, not that CTC transfers better. The appendix's Figures 1-3 (CIFAR-100 to "
    "STL-10, ResNet-18, 300 epochs) show the baseline's transfer accuracy flattening or falling late in "
    "training while its source accuracy keeps rising, and CTC's second stage lifting it again; compare the "
    "shapes of the curves above with that, not their levels. The Mask R-CNN step trains for {detection_iters} "
    "iterations and the fine-tune is scored on {fgvc_images} test images, so their AP and top-1 say that the "
    "converted weights load and train, little about COCO or CUB. `--config-file configs/demo/paper.yaml` runs "
    "the same pipeline at the paper's scale."
)
# What of a step's output is progress: Detectron2's periodic line and the analyses' ETA lines.
_PROGRESS = (re.compile(r"eta: (\S+)\s+iter: (\d+)"), re.compile(r"\]:? (.+: \d+/\d+, eta \S+)$"))
_RESULT = re.compile(r"\]:? (Epoch \d+: .*)$")


def get_demo_cfg() -> CN:
    """The demo pipeline's configuration: which run, transfer and analysis each step makes."""
    cfg = CN()
    # Everything the pipeline writes (runs, converted weights, datasets it makes, report.md).
    cfg.OUTPUT_DIR = "demo_output"
    cfg.PRETRAIN = CN()
    # ctc-pretrain configs of the two runs compared throughout the report.
    cfg.PRETRAIN.BASELINE = "configs/pretrain/fashion_mnist_r18_baseline.yaml"
    cfg.PRETRAIN.CTC = "configs/pretrain/fashion_mnist_r18_ctc.yaml"
    # KEY VALUE overrides applied to both runs.
    cfg.PRETRAIN.OPTS = []
    # DATASETS.ROOT of both runs; empty keeps the configs' own.
    cfg.PRETRAIN.DATASETS_ROOT = ""
    cfg.TRANSFER = CN()
    # Flags of ctc-temporal-transfer after --run (target dataset, probe schedule).
    cfg.TRANSFER.ARGS = []
    cfg.MI = CN()
    # Flags of ctc-estimate-mi after --run (MINE steps, samples).
    cfg.MI.ARGS = []
    cfg.DETECTION = CN()
    # ctc-train-net config and KEY VALUE overrides (sizes, iterations).
    cfg.DETECTION.CONFIG = "configs/coco_maskrcnn_ctc.yaml"
    cfg.DETECTION.OPTS = []
    # Folder that DETECTRON2_DATASETS names (holding coco/); empty: synthetic shapes are written.
    cfg.DETECTION.DATASETS = ""
    # Images of the synthetic shapes set (train, val).
    cfg.DETECTION.SHAPES_IMAGES = [64, 16]
    cfg.FGVC = CN()
    # ctc-finetune-fgvc config and KEY VALUE overrides.
    cfg.FGVC.CONFIG = "configs/fgvc/cub200_r50.yaml"
    cfg.FGVC.OPTS = []
    # Folder holding CUB_200_2011/; empty: Fashion-MNIST's held-out classes are written in that layout.
    cfg.FGVC.ROOT = ""
    # Where Fashion-MNIST is, which classes make the fine-grained set, and how many images per class.
    cfg.FGVC.FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
    cfg.FGVC.CLASSES = [5, 6, 7, 8, 9]
    cfg.FGVC.IMAGES_PER_CLASS = [60, 40]
    return cfg


class Pipeline:
    """Runs the steps' tools, each in its own process, showing their progress and logging their output."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir
        self.steps: List[Dict[str, Any]] = []
        os.makedirs(os.path.join(output_dir, "logs"), exist_ok=True)

    def tool(self, name: str, tool: str, *args: str, env: Optional[Dict[str, str]] = None) -> None:
        command = [sys.executable, "-m", f"ctc_plugin.cli.{tool}", *map(str, args)]
        shown = " ".join(shlex.quote(a) for a in [COMMANDS[tool], *map(str, args)])
        log_path = os.path.join(self.output_dir, "logs", f"{name}.log")
        print(f"demo: {name}: {shown}", flush=True)
        start = time.perf_counter()
        environment = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
            )
            for line in process.stdout:
                log.write(line)
                progress = _progress(line.rstrip())
                if progress:
                    print(f"demo: {name}: {progress}", flush=True)
        seconds = time.perf_counter() - start
        if process.wait() != 0:
            raise UserError(f"step {name} failed (exit {process.returncode}); its output is in {log_path}")
        self.steps.append({"name": name, "command": shown, "seconds": seconds})
        print(f"demo: {name}: done in {seconds:.0f} s", flush=True)


def _progress(line: str) -> str:
    """The part of a step's output line worth showing in the terminal, or ''."""
    match = _PROGRESS[0].search(line)
    if match:
        return f"iteration {int(match.group(2)) + 1}, eta {match.group(1)}"
    match = _PROGRESS[1].search(line) or _RESULT.search(line)
    return match.group(1) if match else ""


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def pretrain_summary(output_dir: str, config: str, seconds: float) -> Dict[str, Any]:
    """Per-epoch source test top-1 (metrics.json), the schedule (config.yaml) and results.json of a run."""
    with open(os.path.join(output_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f]
    top1 = {int(r["test/epoch"]): r["test/top1"] for r in rows if "test/top1" in r}
    cfg = load_run_config(output_dir)
    results = read_json(os.path.join(output_dir, "results.json"))
    return {
        "model": (str(cfg.MODEL.DEPTH), cfg.MODEL.STEM),
        "images": results["train_images"],
        "input_size": cfg.INPUT.SIZE,
        "total_epochs": cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS,
        "config": config,
        "output_dir": output_dir,
        "epochs": f"{cfg.SOLVER.IAS_EPOCHS} + {cfg.SOLVER.IRS_EPOCHS}",
        "final_top1": results.get("top1", float("nan")),
        "top1_per_epoch": top1,
        "seconds": seconds,
    }


def last_metrics(path: str, prefixes: tuple) -> Dict[str, float]:
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    found: Dict[str, float] = {}
    for row in rows:
        found.update({k: v for k, v in row.items() if k.startswith(prefixes)})
    return found


def run_demo(config_file: str, opts: List[str]) -> None:
    cfg = merge_config(get_demo_cfg(), config_path(config_file), opts)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    pipeline = Pipeline(out)
    start = time.perf_counter()

    runs: Dict[str, Dict[str, Any]] = {}
    root = ["DATASETS.ROOT", cfg.PRETRAIN.DATASETS_ROOT] if cfg.PRETRAIN.DATASETS_ROOT else []
    for name, config in (("baseline", cfg.PRETRAIN.BASELINE), ("ctc", cfg.PRETRAIN.CTC)):
        run_dir = os.path.join(out, "pretrain", name)
        pipeline.tool(f"pretrain_{name}", "pretrain", "--resume", "--config-file", config_path(config),
                      "OUTPUT_DIR", run_dir, *root, *cfg.PRETRAIN.OPTS)  # fmt: skip
        runs[name] = pretrain_summary(run_dir, config, pipeline.steps[-1]["seconds"])
    run_flags = [flag for name in runs for flag in ("--run", runs[name]["output_dir"], "--label", name)]

    pipeline.tool("temporal_transfer", "temporal_transfer", *run_flags, "--format", "json",
                  "--output-dir", os.path.join(out, "temporal_transfer"), *cfg.TRANSFER.ARGS)  # fmt: skip
    pipeline.tool("information_plane", "estimate_mi", *run_flags, "--format", "json",
                  "--output-dir", os.path.join(out, "mutual_information"), *cfg.MI.ARGS)  # fmt: skip

    source = os.path.join(runs["ctc"]["output_dir"], "model_final.pth")
    weights = {"detectron2": os.path.join(out, "weights", "ctc_detectron2.pkl")}
    weights["timm"] = os.path.join(out, "weights", "ctc_timm.pth")
    conversion = {}
    for target, path in weights.items():
        summary = os.path.join(out, "weights", f"{target}.json")
        pipeline.tool(f"convert_{target}", "convert_weights", source, path, "--to", target, "--json", summary)
        conversion[target] = read_json(summary)["differences"]

    detectron2_root = cfg.DETECTION.DATASETS
    dataset_note = f"COCO from `{detectron2_root}`."
    if not detectron2_root:
        detectron2_root = os.path.join(out, "datasets", "shapes")
        write_shapes_coco(detectron2_root, *cfg.DETECTION.SHAPES_IMAGES)
        dataset_note = (
            f"No real annotated images can be had offline: a synthetic set of {cfg.DETECTION.SHAPES_IMAGES[0]} "
            f"training and {cfg.DETECTION.SHAPES_IMAGES[1]} validation images of filled polygons (triangles, "
            "quadrilaterals, discs; exact polygon masks) written in the builtin `coco/` layout "
            "(`coco_2017_train` / `coco_2017_val`), initialised from the converted CTC weights."
        )
    detection_dir = os.path.join(out, "detection")
    pipeline.tool("mask_rcnn", "train_net", "--config-file", config_path(cfg.DETECTION.CONFIG),
                  "MODEL.WEIGHTS", weights["detectron2"], "OUTPUT_DIR", detection_dir, *cfg.DETECTION.OPTS,
                  env={"DETECTRON2_DATASETS": detectron2_root})  # fmt: skip
    found = last_metrics(os.path.join(detection_dir, "metrics.json"), ("bbox/AP", "segm/AP"))
    # Per-category APs of the 77 COCO categories the shapes do not use are NaN: not shown.
    detection = {k: v for k, v in found.items() if v == v or "-" not in k}
    with open(os.path.join(detection_dir, "config.yaml")) as f:
        detection_iters = yaml.safe_load(f)["SOLVER"]["MAX_ITER"]

    fgvc_root = cfg.FGVC.ROOT
    fgvc_note = f"The fine-grained set at `{fgvc_root}`."
    if not fgvc_root:
        fgvc_root = os.path.join(out, "datasets", "fashion_cub")
        train, test = cfg.FGVC.IMAGES_PER_CLASS
        write_fashion_cub(cfg.FGVC.FASHION_ROOT, fgvc_root, cfg.FGVC.CLASSES, train, test)
        fgvc_note = (
            f"Real Fashion-MNIST images of the classes held out of pretraining ({list(cfg.FGVC.CLASSES)}), "
            f"{train} training and {test} test images per class, written in the CUB-200-2011 layout and read "
            "by the CUB reader; initialised from the converted timm weights."
        )
    fgvc_dir = os.path.join(out, "fgvc")
    pipeline.tool("finetune_fgvc", "finetune_fgvc", "--config-file", config_path(cfg.FGVC.CONFIG),
                  "MODEL.WEIGHTS", weights["timm"], "DATASETS.ROOT", fgvc_root, "OUTPUT_DIR", fgvc_dir,
                  *cfg.FGVC.OPTS)  # fmt: skip
    fgvc = {
        k: v
        for k, v in read_json(os.path.join(fgvc_dir, "results.json")).items()
        if k in ("top1", "top5", "epoch", "num_images")
    }

    results = {
        "config": config_file,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "total_seconds": time.perf_counter() - start,
        "steps": pipeline.steps,
        "pretrain_settings": " ".join(cfg.PRETRAIN.OPTS) or "the configs as they are",
        "runs": runs,
        "transfer": read_json(os.path.join(out, "temporal_transfer", "temporal_transfer.json")),
        "mi": read_json(os.path.join(out, "mutual_information", "mutual_information.json")),
        "conversion": conversion,
        "detection": {"dataset_note": dataset_note, "metrics": detection},
        "fgvc": {"dataset_note": fgvc_note, "metrics": fgvc},
        "caveats": CAVEATS.format(
            model=f"ResNet-{runs['ctc']['model'][0]} ({runs['ctc']['model'][1]} stem) "
            f"on {runs['ctc']['input_size']}x{runs['ctc']['input_size']} inputs",
            epochs=runs["ctc"]["total_epochs"],
            images=runs["ctc"]["images"],
            detection_iters=detection_iters,
            fgvc_images=fgvc.get("num_images", "a few"),
        ),
    }
    atomic_write_json(os.path.join(out, "results.json"), results)
    atomic_write_text(os.path.join(out, "report.md"), build_report(results))
    print(f"\ndemo: done in {results['total_seconds']:.0f} s. Report: {os.path.join(out, 'report.md')}")
    for name, summary in runs.items():
        print(f"demo: {name} checkpoints: {summary['output_dir']} (model_epoch_XXXX.pth, model_final.pth)")


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        parser = ArgumentParser(__doc__)
        parser.add_argument("--config-file", default="configs/demo/default.yaml", metavar="FILE")
        parser.add_argument("opts", nargs="*", help="KEY VALUE overrides of the demo config")
        args = parser.parse_args(argv)
        run_demo(args.config_file, args.opts)

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
