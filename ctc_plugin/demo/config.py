"""The demo pipeline's configuration: which run, transfer and analysis each step makes."""

from fvcore.common.config import CfgNode as CN

_C = CN()
# Everything the pipeline writes (runs, converted weights, datasets it makes, report.md).
_C.OUTPUT_DIR = "demo_output"

_C.PRETRAIN = CN()
# tools/pretrain.py configs of the two runs compared throughout the report.
_C.PRETRAIN.BASELINE = "configs/pretrain/fashion_mnist_r18_baseline.yaml"
_C.PRETRAIN.CTC = "configs/pretrain/fashion_mnist_r18_ctc.yaml"
# KEY VALUE overrides applied to both runs.
_C.PRETRAIN.OPTS = []
# DATASETS.ROOT of both runs; empty keeps the configs' own.
_C.PRETRAIN.DATASETS_ROOT = ""

_C.TRANSFER = CN()
# Flags of tools/temporal_transfer.py after --run (target dataset, probe schedule).
_C.TRANSFER.ARGS = []

_C.MI = CN()
# Flags of tools/estimate_mi.py after --run (MINE steps, samples).
_C.MI.ARGS = []

_C.DETECTION = CN()
# tools/train_net.py config and KEY VALUE overrides (sizes, iterations).
_C.DETECTION.CONFIG = "configs/coco_maskrcnn_ctc.yaml"
_C.DETECTION.OPTS = []
# Folder that DETECTRON2_DATASETS names (holding coco/); empty: synthetic shapes are written.
_C.DETECTION.DATASETS = ""
# Images of the synthetic shapes set (train, val).
_C.DETECTION.SHAPES_IMAGES = [64, 16]

_C.FGVC = CN()
# tools/finetune_fgvc.py config and KEY VALUE overrides.
_C.FGVC.CONFIG = "configs/fgvc/cub200_r50.yaml"
_C.FGVC.OPTS = []
# Folder holding CUB_200_2011/; empty: Fashion-MNIST's held-out classes are written in that layout.
_C.FGVC.ROOT = ""
# Where Fashion-MNIST is, which classes make the fine-grained set, and how many images per class.
_C.FGVC.FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
_C.FGVC.CLASSES = [5, 6, 7, 8, 9]
_C.FGVC.IMAGES_PER_CLASS = [60, 40]


def get_demo_cfg() -> CN:
    return _C.clone()
