"""ctc-demo: the whole pipeline on real data, with a report (the README's first command).

    ctc-demo                                                      # Fashion-MNIST on 2 CPU cores
    ctc-demo --config-file configs/demo/paper.yaml               # the paper's scale, real datasets

Steps, each through the tool a user would run, in its own process, for every seed of
``SEEDS``: pretrain a baseline and a CTC network (ctc-pretrain --resume), temporal
transferability (ctc-temporal-transfer) and the information plane (ctc-estimate-mi) of both,
conversion of both networks to Detectron2 and timm with verification (ctc-convert), then a
short Mask R-CNN run with evaluation (ctc-train-net) and a fine-grained fine-tune
(ctc-finetune-fgvc) from each initialisation of ``DOWNSTREAM.INITS``: the CTC weights, the
baseline's and a random one, same recipe and seed. Each step's progress and ETA show here; its
whole output is in OUTPUT_DIR/logs/. Writes OUTPUT_DIR/report.md beside the PNG plots (over
several seeds: means, standard deviations and bands) and OUTPUT_DIR/results.json with every
number by seed; every number is read from what the steps wrote. A rerun continues.
``--report-only`` rebuilds the report and plots from results.json without running anything.
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
from .demo_report import build_report, write_plots

TOOL = "demo"
NETWORKS = ("baseline", "ctc")  # the pretraining runs, compared throughout
# What of a step's output is progress: Detectron2's periodic line and the analyses' ETA lines.
_PROGRESS = (re.compile(r"eta: (\S+)\s+iter: (\d+)"), re.compile(r"\]:? (.+: \d+/\d+, eta \S+)$"))
_RESULT = re.compile(r"\]:? (Epoch \d+: .*)$")


def get_demo_cfg() -> CN:
    """The demo pipeline's configuration: which run, transfer and analysis each step makes."""
    cfg = CN()
    # Everything the pipeline writes (runs, converted weights, datasets it makes, report.md).
    cfg.OUTPUT_DIR = "demo_output"
    # Every seed runs the whole pipeline (pretraining, probes, MINE, downstream); with several the
    # report gives mean +- standard deviation and says whether each difference exceeds that spread.
    cfg.SEEDS = [0]
    cfg.DOWNSTREAM = CN()
    # Initialisations of the Mask R-CNN and fine-grained runs: "ctc" and "baseline" (their converted
    # pretrained networks) and "random" (the same architecture, randomly initialised).
    cfg.DOWNSTREAM.INITS = ["ctc", "baseline", "random"]
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


def git_commit() -> str:
    """The checkout's commit (with "-dirty" for uncommitted changes), or "unknown" outside a git checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=here, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"


def check_demo_config(cfg) -> None:
    """Refuse, with one line, seeds and initialisations the pipeline cannot run."""
    seeds = list(cfg.SEEDS)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise UserError(f"SEEDS must be distinct integers of 0 or more, got {seeds}")
    unknown = [name for name in cfg.DOWNSTREAM.INITS if name not in (*NETWORKS, "random")]
    if unknown or not cfg.DOWNSTREAM.INITS:
        raise UserError(f"DOWNSTREAM.INITS must name ctc, baseline or random, got {list(cfg.DOWNSTREAM.INITS)}")


def prepare_datasets(cfg, out: str) -> Dict[str, str]:
    """The detection and fine-grained datasets (written once for every seed) and their notes for the report."""
    detectron2_root = cfg.DETECTION.DATASETS
    detection_note = f"COCO from `{detectron2_root}`."
    if not detectron2_root:
        detectron2_root = os.path.join(out, "datasets", "shapes")
        write_shapes_coco(detectron2_root, *cfg.DETECTION.SHAPES_IMAGES)
        detection_note = (
            f"No real annotated images can be had offline: a synthetic set of {cfg.DETECTION.SHAPES_IMAGES[0]} "
            f"training and {cfg.DETECTION.SHAPES_IMAGES[1]} validation images of filled polygons (triangles, "
            "quadrilaterals, discs; exact polygon masks) written in the builtin `coco/` layout "
            "(`coco_2017_train` / `coco_2017_val`)."
        )
    fgvc_root = cfg.FGVC.ROOT
    fgvc_note = f"The fine-grained set at `{fgvc_root}`."
    if not fgvc_root:
        fgvc_root = os.path.join(out, "datasets", "fashion_cub")
        train, test = cfg.FGVC.IMAGES_PER_CLASS
        write_fashion_cub(cfg.FGVC.FASHION_ROOT, fgvc_root, cfg.FGVC.CLASSES, train, test)
        fgvc_note = (
            f"Real Fashion-MNIST images of the classes held out of pretraining ({list(cfg.FGVC.CLASSES)}), "
            f"{train} training and {test} test images per class, written in the CUB-200-2011 layout and read "
            "by the CUB reader."
        )
    return {"detectron2_root": detectron2_root, "detection_note": detection_note, "fgvc_root": fgvc_root,
            "fgvc_note": fgvc_note}  # fmt: skip


def run_seed(cfg, pipeline: Pipeline, out: str, seed: int, datasets: Dict[str, str]) -> Dict[str, Any]:
    """Every step for one seed; returns that seed's numbers."""
    here = os.path.join(out, f"seed_{seed}")
    tag = f"seed{seed}"
    runs: Dict[str, Dict[str, Any]] = {}
    root = ["DATASETS.ROOT", cfg.PRETRAIN.DATASETS_ROOT] if cfg.PRETRAIN.DATASETS_ROOT else []
    for name, config in zip(NETWORKS, (cfg.PRETRAIN.BASELINE, cfg.PRETRAIN.CTC)):
        run_dir = os.path.join(here, "pretrain", name)
        pipeline.tool(f"{tag}_pretrain_{name}", "pretrain", "--resume", "--config-file", config_path(config),
                      "OUTPUT_DIR", run_dir, *root, *cfg.PRETRAIN.OPTS, "SEED", seed)  # fmt: skip
        runs[name] = pretrain_summary(run_dir, config, pipeline.steps[-1]["seconds"])
    run_flags = [flag for name in runs for flag in ("--run", runs[name]["output_dir"], "--label", name)]
    pipeline.tool(f"{tag}_temporal_transfer", "temporal_transfer", *run_flags, "--format", "json", "--seed", seed,
                  "--output-dir", os.path.join(here, "temporal_transfer"), *cfg.TRANSFER.ARGS)  # fmt: skip
    pipeline.tool(f"{tag}_information_plane", "estimate_mi", *run_flags, "--format", "json", "--seed", seed,
                  "--output-dir", os.path.join(here, "mutual_information"), *cfg.MI.ARGS)  # fmt: skip

    weights: Dict[str, Dict[str, str]] = {}
    conversion: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name in NETWORKS:
        if name not in cfg.DOWNSTREAM.INITS:
            continue
        source = os.path.join(runs[name]["output_dir"], "model_final.pth")
        weights[name], conversion[name] = {}, {}
        for target, suffix in (("detectron2", "pkl"), ("timm", "pth")):
            path = os.path.join(here, "weights", f"{name}_{target}.{suffix}")
            summary = os.path.join(here, "weights", f"{name}_{target}.json")
            pipeline.tool(f"{tag}_convert_{name}_{target}", "convert_weights", source, path, "--to", target,
                          "--json", summary)  # fmt: skip
            weights[name][target] = path
            conversion[name][target] = read_json(summary)["differences"]

    depth, stem = runs["ctc"]["model"]
    coco = {"DETECTRON2_DATASETS": datasets["detectron2_root"]}
    detection, fgvc, detection_iters = {}, {}, 0
    for init in cfg.DOWNSTREAM.INITS:
        if init == "random":  # the same ResNet, from scratch
            detection_weights = ["MODEL.WEIGHTS", "", "MODEL.RESNETS.DEPTH", depth, "MODEL.CTC.STEM", stem]
            fgvc_weights = ["MODEL.WEIGHTS", ""]
        else:
            detection_weights = ["MODEL.WEIGHTS", weights[init]["detectron2"]]
            fgvc_weights = ["MODEL.WEIGHTS", weights[init]["timm"]]
        detection_dir = os.path.join(here, "detection", init)
        pipeline.tool(f"{tag}_mask_rcnn_{init}", "train_net", "--resume", "--config-file",
                      config_path(cfg.DETECTION.CONFIG), "OUTPUT_DIR", detection_dir, *cfg.DETECTION.OPTS,
                      *detection_weights, "SEED", seed, env=coco)  # fmt: skip
        found = last_metrics(os.path.join(detection_dir, "metrics.json"), ("bbox/AP", "segm/AP"))
        # Per-category APs of the 77 COCO categories the shapes do not use are NaN: not kept.
        detection[init] = {k: v for k, v in found.items() if v == v or "-" not in k}
        with open(os.path.join(detection_dir, "config.yaml")) as f:
            detection_iters = yaml.safe_load(f)["SOLVER"]["MAX_ITER"]

        fgvc_dir = os.path.join(here, "fgvc", init)
        pipeline.tool(f"{tag}_finetune_fgvc_{init}", "finetune_fgvc", "--resume", "--config-file",
                      config_path(cfg.FGVC.CONFIG), "DATASETS.ROOT", datasets["fgvc_root"], "OUTPUT_DIR", fgvc_dir,
                      *cfg.FGVC.OPTS, *fgvc_weights, "SEED", seed)  # fmt: skip
        fgvc[init] = {
            k: v
            for k, v in read_json(os.path.join(fgvc_dir, "results.json")).items()
            if k in ("top1", "top5", "epoch", "num_images", "num_classes")
        }
    return {
        "runs": runs,
        "transfer": read_json(os.path.join(here, "temporal_transfer", "temporal_transfer.json")),
        "mi": read_json(os.path.join(here, "mutual_information", "mutual_information.json")),
        "conversion": conversion,
        "detection": detection,
        "fgvc": fgvc,
        "detection_iters": detection_iters,
    }


def run_demo(config_file: str, opts: List[str]) -> None:
    cfg = merge_config(get_demo_cfg(), config_path(config_file), opts)
    check_demo_config(cfg)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    pipeline = Pipeline(out)
    start = time.perf_counter()
    datasets = prepare_datasets(cfg, out)
    per_seed = {seed: run_seed(cfg, pipeline, out, seed, datasets) for seed in cfg.SEEDS}

    results = {
        "config": config_file,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
        "seeds": list(cfg.SEEDS),
        "inits": list(cfg.DOWNSTREAM.INITS),
        "total_seconds": time.perf_counter() - start,
        "steps": pipeline.steps,
        "pretrain_settings": " ".join(cfg.PRETRAIN.OPTS) or "the configs as they are",
        "per_seed": per_seed,
        "detection_note": datasets["detection_note"],
        "fgvc_note": datasets["fgvc_note"],
    }
    atomic_write_json(os.path.join(out, "results.json"), results)
    write_report(results, out)
    print(f"\ndemo: done in {results['total_seconds']:.0f} s. Report: {os.path.join(out, 'report.md')}")
    for seed in cfg.SEEDS:
        for name, summary in per_seed[seed]["runs"].items():
            print(
                f"demo: seed {seed} {name} checkpoints: {summary['output_dir']} (model_epoch_XXXX.pth, model_final.pth)"
            )


def write_report(results: Dict[str, Any], out: str) -> None:
    write_plots(results, out)
    atomic_write_text(os.path.join(out, "report.md"), build_report(results))


def rebuild_report(config_file: str, opts: List[str]) -> None:
    """report.md and the plots again from OUTPUT_DIR/results.json, with this checkout's report code."""
    cfg = merge_config(get_demo_cfg(), config_path(config_file), opts)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    path = os.path.join(out, "results.json")
    try:
        results = read_json(path)
    except FileNotFoundError:
        raise UserError(f"no results to report: {path} does not exist (run the demo first)") from None
    except ValueError as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not isinstance(results, dict) or "per_seed" not in results:
        raise UserError(f"{path} is not a demo's results.json (it has no per_seed)")
    results["report_commit"] = git_commit()
    write_report(results, out)
    print(f"demo: report rebuilt from {path}: {os.path.join(out, 'report.md')}")


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        parser = ArgumentParser(__doc__)
        parser.add_argument("--config-file", default="configs/demo/default.yaml", metavar="FILE")
        parser.add_argument(
            "--report-only", action="store_true", help="rebuild report.md and the plots from OUTPUT_DIR/results.json"
        )
        parser.add_argument("opts", nargs="*", help="KEY VALUE overrides of the demo config")
        args = parser.parse_args(argv)
        (rebuild_report if args.report_only else run_demo)(args.config_file, args.opts)

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
