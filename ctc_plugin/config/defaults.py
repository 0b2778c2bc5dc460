"""The engine's and pretraining's own keys, a comment above each; defaults are the paper's CIFAR-100 values.

``add_engine_config`` holds what every epoch-based training run reads (pretraining and
fine-grained fine-tuning alike); ``add_pretrain_config`` what pretraining itself reads. A loss
term, a backbone builder and a hook declare their own keys beside their code (``adders.py``):
``modeling/ias.py`` CTC.ALPHA and CTC.IAS, ``modeling/irs.py`` CTC.BETA and CTC.IRS,
``backbones/build.py`` MODEL.RESNEXT and MODEL.TIMM, ``analysis/config.py`` TEMPORAL_TRANSFER.
``get_cfg()`` is the pretraining config with all of them; ``ctc_plugin.fgvc.get_fgvc_cfg()`` the
fine-tuning one.
"""

from fvcore.common.config import CfgNode as CN

from ..registry import CONFIG_REGISTRY

# SOLVER.WARMUP_SHAPE's choices (engine/stages.py:build_lr_multiplier builds each).
WARMUP_SHAPES = ("linear_iter", "release_epoch")


def add_engine_config(cfg: CN) -> CN:
    """The keys of ``ctc_plugin.engine.EpochTrainer`` (in place); returns ``cfg``."""
    # Version of this config layout.
    cfg.VERSION = 2
    cfg.MODEL = CN()
    # "auto" (cuda when available), "cpu", "cuda" or "cuda:N"; each process takes its local GPU.
    cfg.MODEL.DEVICE = "auto"
    # Checkpoint to initialise the network from (ours, torchvision's, timm's, another method's).
    cfg.MODEL.WEIGHTS = ""
    # Sub-network of MODEL.WEIGHTS that holds the backbone, e.g. MoCo's "module.encoder_q.".
    cfg.MODEL.WEIGHTS_PREFIX = ""

    cfg.DATASETS = CN()
    # Registered name (ctc_plugin.DATASET_REGISTRY) of the training split.
    cfg.DATASETS.TRAIN = "cifar100_train"
    # Registered name of the split evaluated after each epoch; empty skips evaluation.
    cfg.DATASETS.TEST = "cifar100_test"
    # Folder holding the datasets in their official layouts (cifar-100-python/, CUB_200_2011/, ...).
    cfg.DATASETS.ROOT = "datasets"

    cfg.INPUT = CN()
    # Side of the square training and test crops.
    cfg.INPUT.SIZE = 32

    cfg.DATALOADER = CN()
    # Loader worker processes per training process.
    cfg.DATALOADER.NUM_WORKERS = 4

    cfg.SOLVER = CN()
    # Images per iteration summed over all processes.
    cfg.SOLVER.IMS_PER_BATCH = 64
    # Initial learning rate.
    cfg.SOLVER.BASE_LR = 0.05
    # SGD momentum and Nesterov switch.
    cfg.SOLVER.MOMENTUM = 0.9
    cfg.SOLVER.NESTEROV = False
    # Weight decay.
    cfg.SOLVER.WEIGHT_DECAY = 5e-4
    # Mixed precision (CUDA only; CTC's contrastive losses stay in float32).
    cfg.SOLVER.AMP = False
    # channels_last memory format for the network and its inputs.
    cfg.SOLVER.CHANNELS_LAST = False
    # Save OUTPUT_DIR/model_epoch_XXXX.pth every this many epochs (the analyses read every one).
    cfg.SOLVER.CHECKPOINT_PERIOD_EPOCHS = 1
    # Also save OUTPUT_DIR/model_iter_XXXXXXX.pth every this many iterations within an epoch, for
    # resume only (each replaces the previous one; the next epoch checkpoint replaces them); 0: never.
    # A preemption signal writes the same file after the current iteration.
    cfg.SOLVER.CHECKPOINT_PERIOD_ITERS = 0
    # Keep only the newest this many epoch checkpoints (model_final.pth is always kept); 0 keeps all.
    cfg.SOLVER.MAX_CHECKPOINTS = 0

    cfg.TEST = CN()
    # Evaluate top-1/top-5 on DATASETS.TEST every this many epochs (0: only at the end).
    cfg.TEST.EVAL_PERIOD_EPOCHS = 1
    # Test images per batch and process.
    cfg.TEST.IMS_PER_BATCH = 256

    cfg.TRAINER = CN()
    # Log to the console, metrics.json and TensorBoard every this many iterations.
    cfg.TRAINER.LOG_PERIOD = 20
    # Names of extra hooks in ctc_plugin.HOOK_REGISTRY, built as cls(cfg, trainer).
    cfg.TRAINER.EXTRA_HOOKS = []

    # Where checkpoints, config.yaml, metrics.json, results.json and TensorBoard events go.
    cfg.OUTPUT_DIR = "output/pretrain"
    # Seed of initialisation, data order, augmentation and negative sampling.
    cfg.SEED = 0
    # cudnn.benchmark for fixed-size inputs on GPU.
    cfg.CUDNN_BENCHMARK = False
    return cfg


def add_pretrain_config(cfg: CN) -> CN:
    """What pretraining itself reads (in place); returns ``cfg``.

    The keys of a loss term, of a backbone builder other than ``build_resnet`` and of a hook are
    their owner's (``register_config``).
    """
    # Name of the network builder in ctc_plugin.BACKBONE_REGISTRY.
    cfg.MODEL.BACKBONE = "build_resnet"
    # ResNet depth: 18, 34, 50 or 101 (build_resnet); CIFAR ResNeXt depth 6n + 2, e.g. 32 (build_cifar_resnext).
    cfg.MODEL.DEPTH = 18
    # "cifar" (3x3 stride-1 conv, no max-pool) or "imagenet" (7x7 stride-2 conv + max-pool).
    cfg.MODEL.STEM = "cifar"
    # Classifier width; 0 takes the number of classes of DATASETS.TRAIN.
    cfg.MODEL.NUM_CLASSES = 0
    # Keep only these class indices (relabelled 0..k-1 in this order); empty keeps all.
    cfg.DATASETS.CLASSES = []
    # Keep only the first this many training images of each class (0 keeps all).
    cfg.DATASETS.IMAGES_PER_CLASS = 0
    # Random crop (padded; RandomResizedCrop for ImageNet-style images) and horizontal flip of every
    # training image (the CRD/CTC recipe); False trains on the test view of each image.
    cfg.INPUT.CROP_AND_FLIP = True
    # AutoAugment (torchvision's: CIFAR10 policy for small images, IMAGENET for large ones; or the
    # release's, INPUT.AUTO_AUGMENT_POLICY).
    cfg.INPUT.AUTO_AUGMENT = False
    # Whose AutoAugment: "torchvision" (its policy for the style, black fill) or "release" (the
    # authors' CIFAR10Policy: its own magnitudes and probabilities, grey fill; docs/fidelity.md).
    cfg.INPUT.AUTO_AUGMENT_POLICY = "torchvision"
    # Zero one square of this side of every training image after AutoAugment (Cutout); 0: none.
    # The release's "auto" augmentation is INPUT.AUTO_AUGMENT True, INPUT.AUTO_AUGMENT_POLICY
    # "release" and INPUT.CUTOUT 16.
    cfg.INPUT.CUTOUT = 0
    # Per-channel mean and std (0-1 scale) the images are normalised with; empty: the training
    # set's own statistics, written here when the run starts so that config.yaml, and every
    # analysis that feeds the network other images, uses what the network was trained with.
    cfg.INPUT.PIXEL_MEAN = []
    cfg.INPUT.PIXEL_STD = []

    # Epochs of the information aggregation stage (CE + alpha * L_IAS); the baseline's whole schedule.
    cfg.SOLVER.IAS_EPOCHS = 200
    # Epochs of the information revitalization stage (CE + beta * L_IRS); 0 for the baseline.
    cfg.SOLVER.IRS_EPOCHS = 100
    # Stage 2 restarts at IRS_LR_FACTOR * BASE_LR with its own cosine to 0 (appendix: 5e-3 = 0.1 x 0.05).
    cfg.SOLVER.IRS_LR_FACTOR = 0.1
    # Stage-1 weight decay is WEIGHT_DECAY * IAS_WEIGHT_DECAY_COEF (the release's weight_decay_coef).
    cfg.SOLVER.IAS_WEIGHT_DECAY_COEF = 1.0
    # Linear warm-up over this many epochs at the start of training, per iteration (the release's
    # baseline: 5); 0: none.
    cfg.SOLVER.WARMUP_EPOCHS = 0
    # Shape of the warm-up (WARMUP_SHAPES): "linear_iter", a ramp per iteration from 1 / warm-up
    # iterations; "release_epoch", the release's steps per epoch, (e + 1) / WARMUP_EPOCHS through epoch e.
    cfg.SOLVER.WARMUP_SHAPE = "linear_iter"
    # The cosines end at this fraction of their start instead of 0 (the release's baseline: 0.1).
    cfg.SOLVER.COSINE_FLOOR = 0.0

    cfg.CTC = CN()
    # Builders in ctc_plugin.LOSS_TERM_REGISTRY of the contrastive terms, in order (each returns
    # None when its weight is 0); add a registered term of your own here.
    cfg.CTC.LOSS_TERMS = ["build_aggregation_term", "build_revitalization_term"]
    # Builder in ctc_plugin.CLASSIFIER_HEAD_REGISTRY of what classifies the pooled features for the
    # cross-entropy: "build_linear_head", the backbone's own fc; "build_projector_head", t-ReX*'s
    # expendable projector and cosine classifier (CTC.PROJECTOR), discarded after pretraining.
    cfg.CTC.CLASSIFIER_HEAD = "build_linear_head"
    # Width of the L2-normalised embeddings of both contrastive heads.
    cfg.CTC.EMBED_DIM = 128
    return cfg


def get_cfg() -> CN:
    """A fresh pretraining config with every key at its default: the engine's, pretraining's and
    every registered owner's (``CONFIG_REGISTRY``)."""
    cfg = add_pretrain_config(add_engine_config(CN()))
    for _, add_owner_config in CONFIG_REGISTRY:  # in registration order
        add_owner_config(cfg)
    return cfg
