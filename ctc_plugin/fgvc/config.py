"""Defaults of fine-grained fine-tuning (``tools/finetune_fgvc.py``): the appendix's A.3 recipe.

Appendix A.3 (Sec. 5.3, FGVC): 100 epochs, lr 5e-3 with cosine decay, batch 64 (CUB-200,
Aircraft) or 256 (iNaturalist-18), SGD. What it leaves open (momentum, weight decay,
resolution, augmentation) is set here and argued in docs/fgvc.md.
"""

from fvcore.common.config import CfgNode


def get_fgvc_cfg() -> CfgNode:
    """A fresh config with every fine-tuning key and its default."""
    cfg = CfgNode()

    cfg.MODEL = CfgNode()
    # timm architecture for timm.create_model: resnet18/34/50/101 take our weights.
    cfg.MODEL.NAME = "resnet50"
    # Initial weights: a converted timm file (.pth/.safetensors), a raw pretraining checkpoint
    # (converted on the fly) or an ImageNet torchvision/timm checkpoint; "" = random init.
    cfg.MODEL.WEIGHTS = ""
    # Sub-module of MODEL.WEIGHTS that holds the ResNet (e.g. MoCo's "module.encoder_q.").
    cfg.MODEL.WEIGHTS_PREFIX = ""
    # "cuda" or "cpu"; each process of a multi-GPU run takes its local GPU.
    cfg.MODEL.DEVICE = "cuda"

    cfg.DATASETS = CfgNode()
    # "cub200", "aircraft" or "inat2018".
    cfg.DATASETS.NAME = "cub200"
    # Folder that holds what the official archive extracts to (see docs/fgvc.md).
    cfg.DATASETS.ROOT = "datasets"

    cfg.INPUT = CfgNode()
    # Side of the square training crop and test centre crop.
    cfg.INPUT.SIZE = 448
    # Test view: resize the short side to SIZE / CROP_PCT, then centre-crop SIZE (512 -> 448).
    cfg.INPUT.CROP_PCT = 0.875
    # Training view: random-resized crop over this range of image area, then a flip.
    cfg.INPUT.SCALE = (0.08, 1.0)
    cfg.INPUT.HFLIP = 0.5
    # Colour is a class cue for birds and liveries: no colour jitter by default.
    cfg.INPUT.COLOR_JITTER = 0.0
    cfg.INPUT.INTERPOLATION = "bilinear"

    cfg.SOLVER = CfgNode()
    cfg.SOLVER.EPOCHS = 100
    # Images per iteration over all processes.
    cfg.SOLVER.IMS_PER_BATCH = 64
    cfg.SOLVER.BASE_LR = 5e-3
    # timm optimizer name: "momentum" is SGD with (non-Nesterov) momentum.
    cfg.SOLVER.OPTIMIZER = "momentum"
    cfg.SOLVER.MOMENTUM = 0.9
    # Not given by the appendix; 1e-4 is the usual fine-tuning value (bias and BN excluded).
    cfg.SOLVER.WEIGHT_DECAY = 1e-4
    # timm scheduler name; updated every iteration.
    cfg.SOLVER.SCHEDULER = "cosine"
    cfg.SOLVER.MIN_LR = 0.0
    cfg.SOLVER.WARMUP_EPOCHS = 0
    # Keep a numbered checkpoint every this many epochs (checkpoint_last.pth is every epoch).
    cfg.SOLVER.CHECKPOINT_PERIOD = 10
    cfg.SOLVER.AMP = CfgNode()
    # Mixed precision; only on GPU.
    cfg.SOLVER.AMP.ENABLED = True

    cfg.TEST = CfgNode()
    # Test images per process and batch.
    cfg.TEST.IMS_PER_BATCH = 64

    cfg.DATALOADER = CfgNode()
    cfg.DATALOADER.NUM_WORKERS = 4

    # Iterations between progress lines and metrics.json writes.
    cfg.LOG_PERIOD = 20
    cfg.OUTPUT_DIR = "./output/fgvc"
    # Seeds the data order, the augmentation and the new head.
    cfg.SEED = 0
    return cfg
