"""A study's numbers, read from what its finished steps wrote: the ``per_seed`` part of ``results.json``.

Only steps the ledger records as finished are read, so the results of a study that is still running
(or whose jobs run on a cluster) hold exactly the numbers that exist, and the report can be rebuilt
whenever a step ends. Each arm is described by its network's record, as ``ctc-convert`` describes it.
"""

import json
import os
from typing import Any, Dict, List, Mapping, Sequence

from ..analysis.runs import load_run_config
from ..backbones import backbone_record
from ..convert.source import SourceWeights
from .config import Arm
from .graph import mine_dir, pretrain_dir, probe_dir, task_dir, weights_path
from .task import DownstreamTask

# What a study keeps of each training run's own results.json about how it ran.
PROVENANCE = "provenance"


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def describe_network(record: Mapping[str, Any]) -> str:
    """'ResNet-18 (CIFAR stem)', 'timm mobilenetv3_small_050': a network as its record describes it."""
    return SourceWeights({}, dict(record), "").describe()


def pretrain_summary(run_dir: str, arm: Arm, seconds: float, study_dir: str) -> Dict[str, Any]:
    """Per-epoch source test top-1 (metrics.json), the network and schedule (config.yaml) and results.json of a run."""
    with open(os.path.join(run_dir, "metrics.json")) as f:
        rows = [json.loads(line) for line in f]
    top1 = {int(r["test/epoch"]): r["test/top1"] for r in rows if "test/top1" in r}
    loss = [r["total_loss"] for r in rows if "total_loss" in r]
    cfg = load_run_config(run_dir)
    results = read_json(os.path.join(run_dir, "results.json"))
    record = backbone_record(cfg)
    return {
        "network": describe_network(record),
        "backbone": record,
        "images": results["train_images"],
        "input_size": cfg.INPUT.SIZE,
        "total_epochs": cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS,
        "ias_epochs": cfg.SOLVER.IAS_EPOCHS,
        "irs_epochs": cfg.SOLVER.IRS_EPOCHS,
        "config": arm.config,
        "opts": list(arm.opts),
        "output_dir": os.path.relpath(run_dir, study_dir),
        "epochs": f"{cfg.SOLVER.IAS_EPOCHS} + {cfg.SOLVER.IRS_EPOCHS}",
        "final_top1": results.get("top1", float("nan")),
        "final_loss": loss[-1] if loss else float("nan"),
        "top1_per_epoch": top1,
        "seconds": seconds,
        PROVENANCE: results.get(PROVENANCE, {}),
    }


def relative_rows(rows: List[Dict[str, Any]], out: str) -> List[Dict[str, Any]]:
    """An analysis table's rows with their checkpoint paths relative to the study's folder."""
    for row in rows:
        if os.path.isabs(str(row.get("checkpoint", ""))):
            row["checkpoint"] = os.path.relpath(row["checkpoint"], out)
    return rows


def collect_results(cfg, arms: Sequence[Arm], out: str, tasks: Sequence[DownstreamTask],
                    ledger: Sequence[Mapping[str, Any]]) -> Dict[int, Dict[str, Any]]:  # fmt: skip
    """seed -> that seed's numbers, for the seeds where at least one arm finished pretraining."""
    finished = {step["name"]: step for step in ledger if step.get("finished", True)}
    per_seed: Dict[int, Dict[str, Any]] = {}
    for seed in cfg.SEEDS:
        tag = f"seed{seed}"
        runs, transfer, mi, conversion = {}, [], [], {}
        for arm in arms:
            pretrain = finished.get(f"{tag}_pretrain_{arm.name}")
            if pretrain is None:
                continue
            runs[arm.name] = pretrain_summary(pretrain_dir(out, seed, arm.name), arm, pretrain["seconds"], out)
            if f"{tag}_probe_{arm.name}" in finished:
                transfer += read_json(os.path.join(probe_dir(out, seed, arm.name), "temporal_transfer.json"))
            if f"{tag}_mine_{arm.name}" in finished:
                mi += read_json(os.path.join(mine_dir(out, seed, arm.name), "mutual_information.json"))
            for task in tasks:
                if f"{tag}_convert_{arm.name}_{task.target}" in finished:
                    summary = os.path.splitext(weights_path(out, seed, arm.name, task.target))[0] + ".json"
                    conversion.setdefault(arm.name, {})[task.target] = read_json(summary)["differences"]
        if not runs:
            continue
        numbers: Dict[str, Any] = {
            "runs": runs,
            "transfer": relative_rows(transfer, out),
            "mi": relative_rows(mi, out),
            "conversion": conversion,
        }
        for task in tasks:
            numbers[task.name] = {
                init: task.read(task_dir(out, seed, task.name, init))
                for init in cfg.DOWNSTREAM.INITS
                if f"{tag}_{task.name}_{init}" in finished
            }
        per_seed[seed] = numbers
    return per_seed
