"""The detection task of a study: Mask R-CNN FPN through ``ctc-train-net`` from each initialisation."""

import json
import os
from typing import Any, Dict, List, Mapping, Optional

import yaml
from fvcore.common.config import CfgNode as CN

from ..model_zoo import config_path
from ..utils.errors import UserError
from .datasets import write_shapes_coco
from .task import Command, DownstreamTask, register_task

# The builders of pretrained networks this task can train from scratch as well.
_RESNET, _TIMM = "build_resnet", "build_timm_backbone"


@register_task
class DetectionTask(DownstreamTask):
    """Mask R-CNN FPN (``DETECTION.CONFIG``) on COCO, or on a synthetic COCO-layout set offline."""

    name = "detection"
    target = "detectron2"
    title = "Detectron2: Mask R-CNN FPN"
    metrics = {"bbox/AP": ("box_ap", "box AP"), "segm/AP": ("mask_ap", "mask AP")}

    def add_config(self, cfg: CN) -> None:
        cfg.DETECTION = CN()
        # ctc-train-net config and KEY VALUE overrides (sizes, iterations).
        cfg.DETECTION.CONFIG = "configs/coco_maskrcnn_ctc.yaml"
        cfg.DETECTION.OPTS = []
        # Folder that DETECTRON2_DATASETS names (holding coco/); empty: synthetic shapes are written.
        cfg.DETECTION.DATASETS = ""
        # Images of the synthetic shapes set (train, val).
        cfg.DETECTION.SHAPES_IMAGES = [64, 16]

    def prepare(self, cfg: CN, out: str) -> Dict[str, str]:
        root = cfg.DETECTION.DATASETS
        if root:
            return {"root": os.path.abspath(root), "note": f"COCO from `{root}`."}
        root = os.path.join(out, "datasets", "shapes")
        train, val = cfg.DETECTION.SHAPES_IMAGES
        write_shapes_coco(root, train, val)
        note = (
            f"No real annotated images can be had offline: a synthetic set of {train} training and {val} validation "
            "images of filled polygons (triangles, quadrilaterals, discs; exact polygon masks) written in the "
            "builtin `coco/` layout (`coco_2017_train` / `coco_2017_val`)."
        )
        return {"root": root, "note": note}

    def command(self, cfg: CN, init: Optional[str], seed: int, record: Mapping[str, Any], run_dir: str,
                prepared: Mapping[str, str]) -> Command:  # fmt: skip
        weights = ["MODEL.WEIGHTS", init] if init else ["MODEL.WEIGHTS", "", *_random_network(record)]
        args = ["--resume", "--config-file", config_path(cfg.DETECTION.CONFIG), "OUTPUT_DIR", run_dir,
                *cfg.DETECTION.OPTS, *weights, "SEED", seed]  # fmt: skip
        return Command("train_net", tuple(map(str, args)), (("DETECTRON2_DATASETS", prepared["root"]),))

    def read(self, run_dir: str) -> Dict[str, Any]:
        found: Dict[str, Any] = {}
        with open(os.path.join(run_dir, "metrics.json")) as f:
            for line in f:
                found.update({k: v for k, v in json.loads(line).items() if k.startswith(("bbox/AP", "segm/AP"))})
        # Per-category APs of the COCO categories a set does not use are NaN: not kept.
        numbers = {k: v for k, v in found.items() if v == v or "-" not in k}
        with open(os.path.join(run_dir, "config.yaml")) as f:
            numbers["iterations"] = yaml.safe_load(f)["SOLVER"]["MAX_ITER"]
        return numbers

    def scale(self, rows: List[Mapping[str, Any]]) -> str:
        iterations = sorted({r["iterations"] for r in rows if "iterations" in r})
        return f"the Mask R-CNN runs train for {', '.join(map(str, iterations))} iterations" if iterations else ""


def _random_network(record: Mapping[str, Any]) -> List[str]:
    """The overrides that build ``record``'s network under the FPN, randomly initialised."""
    model = record["model"]
    if record["builder"] == _RESNET:
        return ["MODEL.RESNETS.DEPTH", str(model["DEPTH"]), "MODEL.CTC.STEM", str(model["STEM"])]
    if record["builder"] == _TIMM:
        return ["MODEL.BACKBONE.NAME", "build_ctc_timm_fpn_backbone", "MODEL.TIMM.NAME", str(model["TIMM"]["NAME"])]
    raise UserError(f"the detection task cannot build a random {record['builder']} network under the FPN")
