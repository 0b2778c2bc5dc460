"""A study end to end: every arm pretrained and analysed for every seed, then the downstream runs.

For each seed: pretrain every arm (ctc-pretrain --resume), measure the temporal transferability
of all arms (ctc-temporal-transfer) and their information plane (ctc-estimate-mi), convert the
arms that ``DOWNSTREAM.INITS`` names to Detectron2 and timm with verification (ctc-convert), then
train Mask R-CNN (ctc-train-net) and fine-tune (ctc-finetune-fgvc) from each initialisation, the
same recipe and seed for all. Every number is read from what the steps wrote; ``results.json``,
``report.md`` and the plots are rewritten after every seed, so a study cut short has a report of
the seeds it finished. A rerun skips finished steps (``steps.StepRunner``).
"""

import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import replace
from typing import Any, Dict, List

import yaml

from ..analysis.runs import load_run_config
from ..config import merge_config
from ..model_zoo import config_path
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, atomic_write_text
from .config import RANDOM_INIT, Arm, check_study_config, get_study_cfg, reference_arm
from .datasets import write_fashion_cub, write_shapes_coco
from .endpoints import AnalysisPlan
from .findings import write_findings
from .report import build_report, write_plots
from .steps import StepRunner

logger = logging.getLogger(__name__)
RESULTS = "results.json"
# What a study's provenance records of each pretraining and fine-tuning run's own results.json.
_RUN_PROVENANCE = "provenance"


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def pretrain_summary(output_dir: str, arm: Arm, seconds: float, study_dir: str) -> Dict[str, Any]:
    """Per-epoch source test top-1 (metrics.json), the schedule (config.yaml) and results.json of a run."""
    with open(os.path.join(output_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f]
    top1 = {int(r["test/epoch"]): r["test/top1"] for r in rows if "test/top1" in r}
    loss = [r["total_loss"] for r in rows if "total_loss" in r]
    cfg = load_run_config(output_dir)
    results = read_json(os.path.join(output_dir, "results.json"))
    return {
        "model": (str(cfg.MODEL.DEPTH), cfg.MODEL.STEM),
        "images": results["train_images"],
        "input_size": cfg.INPUT.SIZE,
        "total_epochs": cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS,
        "ias_epochs": cfg.SOLVER.IAS_EPOCHS,
        "irs_epochs": cfg.SOLVER.IRS_EPOCHS,
        "config": arm.config,
        "opts": list(arm.opts),
        "output_dir": os.path.relpath(output_dir, study_dir),
        "epochs": f"{cfg.SOLVER.IAS_EPOCHS} + {cfg.SOLVER.IRS_EPOCHS}",
        "final_top1": results.get("top1", float("nan")),
        "final_loss": loss[-1] if loss else float("nan"),
        "top1_per_epoch": top1,
        "seconds": seconds,
        "provenance": results.get(_RUN_PROVENANCE, {}),
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


def prepare_datasets(cfg, out: str) -> Dict[str, str]:
    """The detection and fine-grained datasets (written once for every seed) and their notes for the report."""
    notes = {"detectron2_root": "", "detection_note": "", "fgvc_root": "", "fgvc_note": ""}
    if not cfg.DOWNSTREAM.INITS:
        return notes
    if cfg.DOWNSTREAM.DETECTION:
        root = cfg.DETECTION.DATASETS
        notes["detection_note"] = f"COCO from `{root}`."
        if not root:
            root = os.path.join(out, "datasets", "shapes")
            write_shapes_coco(root, *cfg.DETECTION.SHAPES_IMAGES)
            notes["detection_note"] = (
                f"No real annotated images can be had offline: a synthetic set of {cfg.DETECTION.SHAPES_IMAGES[0]} "
                f"training and {cfg.DETECTION.SHAPES_IMAGES[1]} validation images of filled polygons (triangles, "
                "quadrilaterals, discs; exact polygon masks) written in the builtin `coco/` layout "
                "(`coco_2017_train` / `coco_2017_val`)."
            )
        notes["detectron2_root"] = root
    if cfg.DOWNSTREAM.FGVC:
        root = cfg.FGVC.ROOT
        notes["fgvc_note"] = f"The fine-grained set at `{root}`."
        if not root:
            root = os.path.join(out, "datasets", "fashion_cub")
            train, test = cfg.FGVC.IMAGES_PER_CLASS
            write_fashion_cub(cfg.FGVC.FASHION_ROOT, root, cfg.FGVC.CLASSES, train, test)
            notes["fgvc_note"] = (
                f"Real Fashion-MNIST images of the classes held out of pretraining ({list(cfg.FGVC.CLASSES)}), "
                f"{train} training and {test} test images per class, written in the CUB-200-2011 layout and read "
                "by the CUB reader."
            )
        notes["fgvc_root"] = root
    return notes


def run_seed(cfg, arms: List[Arm], steps: StepRunner, out: str, seed: int, datasets: Dict[str, str]) -> Dict[str, Any]:
    """Every step for one seed; returns that seed's numbers."""
    here = os.path.join(out, f"seed_{seed}")
    tag = f"seed{seed}"
    runs: Dict[str, Dict[str, Any]] = {}
    root = ["DATASETS.ROOT", cfg.PRETRAIN.DATASETS_ROOT] if cfg.PRETRAIN.DATASETS_ROOT else []
    for arm in arms:
        run_dir = os.path.join(here, "pretrain", arm.name)
        name = f"{tag}_pretrain_{arm.name}"
        steps.tool(name, "pretrain", "--resume", "--config-file", config_path(arm.config), "OUTPUT_DIR", run_dir,
                   *root, *cfg.PRETRAIN.OPTS, *arm.opts, "SEED", seed)  # fmt: skip
        runs[arm.name] = pretrain_summary(run_dir, arm, steps.seconds_of(name), out)
    run_flags = [f for name in runs for f in ("--run", os.path.join(out, runs[name]["output_dir"]), "--label", name)]
    # One probe seed for every training seed: probe noise and training noise stay apart.
    steps.tool(f"{tag}_temporal_transfer", "temporal_transfer", *run_flags, "--format", "json", "--seed",
               cfg.TRANSFER.PROBE_SEED, "--draws", cfg.TRANSFER.DRAWS, "--resume", "--output-dir",
               os.path.join(here, "temporal_transfer"), *cfg.TRANSFER.ARGS)  # fmt: skip
    mi: List[Dict[str, Any]] = []
    if cfg.MI.ENABLED:
        steps.tool(f"{tag}_information_plane", "estimate_mi", *run_flags, "--format", "json", "--seed", seed,
                   "--resume", "--output-dir", os.path.join(here, "mutual_information"), *cfg.MI.ARGS)  # fmt: skip
        mi = relative_rows(read_json(os.path.join(here, "mutual_information", "mutual_information.json")), out)

    targets = [t for t, on in (("detectron2", cfg.DOWNSTREAM.DETECTION), ("timm", cfg.DOWNSTREAM.FGVC)) if on]
    weights: Dict[str, Dict[str, str]] = {}
    conversion: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name in runs:
        if name not in cfg.DOWNSTREAM.INITS or not targets:
            continue
        source = os.path.join(out, runs[name]["output_dir"], "model_final.pth")
        weights[name], conversion[name] = {}, {}
        for target in targets:
            path = os.path.join(here, "weights", f"{name}_{target}.{'pkl' if target == 'detectron2' else 'pth'}")
            summary = os.path.join(here, "weights", f"{name}_{target}.json")
            steps.tool(f"{tag}_convert_{name}_{target}", "convert_weights", source, path, "--to", target,
                       "--json", summary)  # fmt: skip
            weights[name][target] = path
            conversion[name][target] = read_json(summary)["differences"]

    pretrained = [name for name in cfg.DOWNSTREAM.INITS if name != RANDOM_INIT]
    depth, stem = runs[pretrained[0] if pretrained else reference_arm(cfg, arms)]["model"]
    detection, fgvc, detection_iters = {}, {}, 0
    coco = {"DETECTRON2_DATASETS": datasets["detectron2_root"]}
    for init in cfg.DOWNSTREAM.INITS:
        if cfg.DOWNSTREAM.DETECTION:
            if init == RANDOM_INIT:  # the same ResNet, from scratch
                init_weights = ["MODEL.WEIGHTS", "", "MODEL.RESNETS.DEPTH", depth, "MODEL.CTC.STEM", stem]
            else:
                init_weights = ["MODEL.WEIGHTS", weights[init]["detectron2"]]
            detection_dir = os.path.join(here, "detection", init)
            steps.tool(f"{tag}_mask_rcnn_{init}", "train_net", "--resume", "--config-file",
                       config_path(cfg.DETECTION.CONFIG), "OUTPUT_DIR", detection_dir, *cfg.DETECTION.OPTS,
                       *init_weights, "SEED", seed, env=coco)  # fmt: skip
            found = last_metrics(os.path.join(detection_dir, "metrics.json"), ("bbox/AP", "segm/AP"))
            # Per-category APs of the 77 COCO categories the shapes do not use are NaN: not kept.
            detection[init] = {k: v for k, v in found.items() if v == v or "-" not in k}
            with open(os.path.join(detection_dir, "config.yaml")) as f:
                detection_iters = yaml.safe_load(f)["SOLVER"]["MAX_ITER"]
        if cfg.DOWNSTREAM.FGVC:
            init_weights = ["MODEL.WEIGHTS", "" if init == RANDOM_INIT else weights[init]["timm"]]
            fgvc_dir = os.path.join(here, "fgvc", init)
            steps.tool(f"{tag}_finetune_fgvc_{init}", "finetune_fgvc", "--resume", "--config-file",
                       config_path(cfg.FGVC.CONFIG), "DATASETS.ROOT", datasets["fgvc_root"], "OUTPUT_DIR", fgvc_dir,
                       *cfg.FGVC.OPTS, *init_weights, "SEED", seed)  # fmt: skip
            fgvc[init] = {
                k: v
                for k, v in read_json(os.path.join(fgvc_dir, "results.json")).items()
                if k in ("top1", "top5", "epoch", "num_images", "num_classes", _RUN_PROVENANCE)
            }
    return {
        "runs": runs,
        "transfer": relative_rows(read_json(os.path.join(here, "temporal_transfer", "temporal_transfer.json")), out),
        "mi": mi,
        "conversion": conversion,
        "detection": detection,
        "fgvc": fgvc,
        "detection_iters": detection_iters,
    }


def relative_rows(rows: List[Dict[str, Any]], out: str) -> List[Dict[str, Any]]:
    """An analysis table's rows with their checkpoint paths relative to the study's folder."""
    for row in rows:
        if os.path.isabs(str(row.get("checkpoint", ""))):
            row["checkpoint"] = os.path.relpath(row["checkpoint"], out)
    return rows


def recorded_plan(cfg, out: str) -> AnalysisPlan:
    """The analysis plan of the study in ``out``: the config's, fixed when its first seed ran.

    A plan is pre-registered only when it was in the config before any seed ran; a study that
    continues results from before plans were recorded is analysed post hoc.

    Raises:
        UserError: the config's plan differs from the one the study recorded.
    """
    plan = AnalysisPlan.from_config(cfg.ANALYSIS)
    path = os.path.join(out, RESULTS)
    if not os.path.exists(path):
        return plan
    try:
        previous = read_json(path)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not previous.get("analysis"):
        return replace(plan, registered=not previous.get("seeds"))
    recorded = AnalysisPlan.from_dict(previous["analysis"])
    if replace(recorded, registered=True) != plan:
        raise UserError(
            f"ANALYSIS differs from the plan this study recorded before its seeds ran ({recorded.to_dict()}); "
            "a pre-registered plan cannot change: use a new OUTPUT_DIR for another analysis"
        )
    return recorded


def run_study(config_file: str, opts: List[str], commands: Dict[str, str]) -> Dict[str, Any]:
    """Run (or continue) the study of ``config_file`` with ``opts``; returns its results.

    Args:
        commands: ``ctc_plugin.cli`` module -> console script, as the steps' commands are shown.
    """
    cfg = merge_config(get_study_cfg(), config_path(config_file), opts)
    arms = check_study_config(cfg)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    plan = recorded_plan(cfg, out)
    threads = cfg.THREADS or os.cpu_count() or 1
    steps = StepRunner(out, commands, threads)
    datasets = prepare_datasets(cfg, out)
    results = {
        "config": config_file,
        "opts": list(opts),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
        "threads": threads,
        "analysis": plan.to_dict(),
        "seeds": [],
        "arms": [{"name": a.name, "config": a.config, "opts": list(a.opts)} for a in arms],
        "reference": reference_arm(cfg, arms),
        "inits": list(cfg.DOWNSTREAM.INITS),
        "pretrain_settings": " ".join(cfg.PRETRAIN.OPTS) or "the configs as they are",
        "per_seed": {},
        "detection_note": datasets["detection_note"],
        "fgvc_note": datasets["fgvc_note"],
    }
    for seed in cfg.SEEDS:
        results["per_seed"][seed] = run_seed(cfg, arms, steps, out, seed, datasets)
        results["seeds"].append(seed)
        results["steps"], results["total_seconds"] = steps.steps, steps.seconds
        atomic_write_json(os.path.join(out, RESULTS), results)
        write_report(results, out)
        logger.info("seed %d done; report of seeds %s: %s", seed, results["seeds"], os.path.join(out, "report.md"))
    for seed in results["seeds"]:
        for name, summary in results["per_seed"][seed]["runs"].items():
            logger.info("seed %d %s checkpoints: %s (model_epoch_XXXX.pth, model_final.pth)", seed, name,
                        os.path.join(out, summary["output_dir"]))  # fmt: skip
    logger.info("done: %.0f s of steps on this machine. Report: %s", steps.seconds, os.path.join(out, "report.md"))
    return results


def write_report(results: Dict[str, Any], out: str) -> None:
    """The plots, findings.json (every judged line) and report.md of ``results``."""
    write_plots(results, out)
    write_findings(results, out)
    atomic_write_text(os.path.join(out, "report.md"), build_report(results))


def rebuild_report(config_file: str, opts: List[str]) -> str:
    """report.md and the plots again from OUTPUT_DIR/results.json, with this checkout's report code."""
    cfg = merge_config(get_study_cfg(), config_path(config_file), opts)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    path = os.path.join(out, RESULTS)
    try:
        results = read_json(path)
    except FileNotFoundError:
        raise UserError(f"no results to report: {path} does not exist (run the study first)") from None
    except ValueError as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not isinstance(results, dict) or not results.get("per_seed"):
        raise UserError(f"{path} is not a study's results.json (it has no per_seed)")
    results["report_commit"] = git_commit()
    write_report(results, out)
    return os.path.join(out, "report.md")
