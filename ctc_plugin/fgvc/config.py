"""Defaults of fine-grained fine-tuning (``ctc-finetune-fgvc``): the appendix's A.3 recipe.

Appendix A.3 (Sec. 5.3, FGVC): 100 epochs, lr 5e-3 with cosine decay, batch 64 (CUB-200,
Aircraft) or 256 (iNaturalist-18). What it leaves open (the optimiser, which it does not name:
SGD with momentum here, as in its pretraining; weight decay, resolution, augmentation) is set
here and argued in docs/fgvc.md. The engine's keys
(``add_engine_config``) are shared with pretraining.
"""

from fvcore.common.config import CfgNode as CN

from ..config import add_engine_config
from ..config.checks import ENGINE_RULES, Rule, fraction, non_negative, positive

# Values of fine-tuning's own keys that cannot work (the names of timm's optimizer and
# scheduler are checked by building them, ``FGVCTrainer.check_values``).
FGVC_RULES = ENGINE_RULES + (
    positive("MODEL.NUM_CLASSES"),
    positive("SOLVER.EPOCHS"),
    non_negative("SOLVER.MIN_LR"),
    Rule("INPUT.CROP_PCT", lambda v: 0 < v <= 1, "be in (0, 1]"),
    Rule("INPUT.SCALE", lambda v: 0 < v <= 1, "be two area fractions in (0, 1]"),
    Rule("INPUT.HFLIP", lambda v: 0 <= v <= 1, "be a probability in [0, 1]"),
    non_negative("INPUT.COLOR_JITTER"),
    fraction("SOLVER.MOMENTUM"),
)


def add_fgvc_config(cfg: CN) -> CN:
    """Fine-tuning's keys and defaults (in place); returns ``cfg``."""
    # timm architecture for timm.create_model: the weights' own (the tool names it when they differ).
    cfg.MODEL.NAME = "resnet50"
    # Classes of the head; 0 takes the training set's (the run records the count in config.yaml).
    cfg.MODEL.NUM_CLASSES = 0
    # Registered splits: cub200_*, aircraft_* or inat2018_* (ctc_plugin.DATASET_REGISTRY).
    cfg.DATASETS.TRAIN = "cub200_train"
    cfg.DATASETS.TEST = "cub200_test"
    # Side of the square training crop and test centre crop.
    cfg.INPUT.SIZE = 448
    # Test view: resize the short side to SIZE / CROP_PCT, then centre-crop SIZE (512 -> 448).
    cfg.INPUT.CROP_PCT = 0.875
    # Training view: random-resized crop over this range of image area, then a flip with this probability.
    cfg.INPUT.SCALE = (0.08, 1.0)
    cfg.INPUT.HFLIP = 0.5
    # Colour jitter strength; colour is a class cue for birds and liveries, so none by default.
    cfg.INPUT.COLOR_JITTER = 0.0
    # Resize interpolation of both views.
    cfg.INPUT.INTERPOLATION = "bilinear"
    # Epochs of fine-tuning.
    cfg.SOLVER.EPOCHS = 100
    # Initial learning rate, decayed by SOLVER.SCHEDULER.
    cfg.SOLVER.BASE_LR = 5e-3
    # timm optimizer name: "momentum" is SGD with (non-Nesterov) momentum.
    cfg.SOLVER.OPTIMIZER = "momentum"
    # Not given by the appendix; 1e-4 is the usual fine-tuning value (bias and BN excluded by timm).
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    # timm scheduler name, updated every iteration; its floor and linear warm-up.
    cfg.SOLVER.SCHEDULER = "cosine"
    cfg.SOLVER.MIN_LR = 0.0
    cfg.SOLVER.WARMUP_EPOCHS = 0
    # Mixed precision on CUDA (a CPU run trains in float32).
    cfg.SOLVER.AMP = True
    # A checkpoint every epoch for --resume; only the newest two are kept.
    cfg.SOLVER.MAX_CHECKPOINTS = 2
    # Test images per batch and process.
    cfg.TEST.IMS_PER_BATCH = 64
    # Where checkpoints, config.yaml, metrics.json and results.json go.
    cfg.OUTPUT_DIR = "output/fgvc"
    return cfg


def get_fgvc_cfg() -> CN:
    """A fresh fine-tuning config with every key at its default."""
    return add_fgvc_config(add_engine_config(CN()))
