"""The fine-grained task of a study: ``ctc-finetune-fgvc`` (timm) from each initialisation."""

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from fvcore.common.config import CfgNode as CN

from ..model_zoo import config_path
from .datasets import write_fashion_cub
from .task import Command, DownstreamTask, register_task

# What the report keeps of a fine-tune's results.json.
_KEPT = ("top1", "top5", "epoch", "num_images", "num_classes", "provenance")


@register_task
class FineGrainedTask(DownstreamTask):
    """A fine-tune on CUB-200-2011 (``FGVC.ROOT``), or offline on held-out Fashion-MNIST classes in its layout."""

    name = "fgvc"
    target = "timm"
    title = "timm: fine-grained fine-tuning"
    metrics = {"top1": ("fgvc_top1", "test top-1 (%)"), "top5": (None, "test top-5 (%)")}

    def add_config(self, cfg: CN) -> None:
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

    def prepare(self, cfg: CN, out: str) -> Dict[str, str]:
        if cfg.FGVC.ROOT:
            return {"root": os.path.abspath(cfg.FGVC.ROOT), "note": f"The fine-grained set at `{cfg.FGVC.ROOT}`."}
        root = os.path.join(out, "datasets", "fashion_cub")
        train, test = cfg.FGVC.IMAGES_PER_CLASS
        write_fashion_cub(cfg.FGVC.FASHION_ROOT, root, cfg.FGVC.CLASSES, train, test)
        note = (
            f"Real Fashion-MNIST images of the classes held out of pretraining ({list(cfg.FGVC.CLASSES)}), {train} "
            f"training and {test} test images per class, written in the CUB-200-2011 layout and read by the CUB reader."
        )
        return {"root": root, "note": note}

    def command(self, cfg: CN, init: Optional[str], seed: int, record: Mapping[str, Any], run_dir: str,
                prepared: Mapping[str, str]) -> Command:  # fmt: skip
        weights = ["MODEL.WEIGHTS", init or ""]
        if init is None and record["builder"] == "build_timm_backbone":  # the same timm model, from scratch
            weights += ["MODEL.NAME", str(record["model"]["TIMM"]["NAME"])]
        args = ["--resume", "--config-file", config_path(cfg.FGVC.CONFIG), "DATASETS.ROOT", prepared["root"],
                "OUTPUT_DIR", run_dir, *cfg.FGVC.OPTS, *weights, "SEED", seed]  # fmt: skip
        return Command("finetune_fgvc", tuple(map(str, args)))

    def read(self, run_dir: str) -> Dict[str, Any]:
        with open(os.path.join(run_dir, "results.json")) as f:
            return {k: v for k, v in json.load(f).items() if k in _KEPT}

    def shown_metrics(self, rows: List[Mapping[str, Any]]) -> Tuple[List[str], str]:
        classes = [r.get("num_classes", 0) for r in rows]
        if classes and 0 < min(classes) <= 5:  # top-5 of five classes or fewer is 100% by construction
            return ["top1"], f"Top-5 is not shown: with {min(classes)} classes it is 100% whatever the network."
        return list(self.metrics), ""

    def scale(self, rows: List[Mapping[str, Any]]) -> str:
        images = sorted({r["num_images"] for r in rows if "num_images" in r})
        return f"the fine-tunes are scored on {', '.join(map(str, images))} test images" if images else ""
