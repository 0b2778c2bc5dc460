"""Every configuration key, with a comment above each; defaults are the paper's CIFAR-100 values."""

from fvcore.common.config import CfgNode as CN

from ..analysis.config import add_temporal_transfer_config

_C = CN()
# Version of this config layout.
_C.VERSION = 1

_C.MODEL = CN()
# Name of the network builder in ctc_plugin.BACKBONE_REGISTRY.
_C.MODEL.BACKBONE = "build_resnet"
# ResNet depth: 18, 34, 50 or 101.
_C.MODEL.DEPTH = 18
# "cifar" (3x3 stride-1 conv, no max-pool) or "imagenet" (7x7 stride-2 conv + max-pool).
_C.MODEL.STEM = "cifar"
# Classifier width; 0 takes the number of classes of DATASETS.TRAIN.
_C.MODEL.NUM_CLASSES = 0
# "auto" (cuda when available), "cpu", "cuda".
_C.MODEL.DEVICE = "auto"
# Optional checkpoint to initialise the network from (ours or a torchvision state_dict).
_C.MODEL.WEIGHTS = ""

_C.DATASETS = CN()
# Registered name (ctc_plugin.DATASET_REGISTRY) of the training split.
_C.DATASETS.TRAIN = "cifar100_train"
# Registered name of the split evaluated after each epoch; empty skips evaluation.
_C.DATASETS.TEST = "cifar100_test"
# Folder holding the datasets in their official layouts (cifar-100-python/, train/ + val/, ...).
_C.DATASETS.ROOT = "datasets"
# Keep only these class indices (relabelled 0..k-1 in this order); empty keeps all.
_C.DATASETS.CLASSES = []
# Keep only the first this many training images of each class (0 keeps all).
_C.DATASETS.IMAGES_PER_CLASS = 0

_C.INPUT = CN()
# Side of the square training and test crops.
_C.INPUT.SIZE = 32
# torchvision's AutoAugment (CIFAR10 policy for small images, IMAGENET for large ones).
_C.INPUT.AUTO_AUGMENT = False

_C.DATALOADER = CN()
# Loader worker processes per training process.
_C.DATALOADER.NUM_WORKERS = 4

_C.SOLVER = CN()
# Epochs of the information aggregation stage (CE + alpha * L_IAS); the baseline's whole schedule.
_C.SOLVER.IAS_EPOCHS = 200
# Epochs of the information revitalization stage (CE + beta * L_IRS); 0 for the baseline.
_C.SOLVER.IRS_EPOCHS = 100
# Images per iteration summed over all processes.
_C.SOLVER.IMS_PER_BATCH = 64
# Stage-1 learning rate; cosine-decayed to 0 over the stage.
_C.SOLVER.BASE_LR = 0.05
# Stage 2 restarts at IRS_LR_FACTOR * BASE_LR with its own cosine to 0 (appendix: 5e-3 = 0.1 x 0.05).
_C.SOLVER.IRS_LR_FACTOR = 0.1
# SGD momentum and Nesterov switch.
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.NESTEROV = False
# Weight decay of stage 2 (and of stage 1 times IAS_WEIGHT_DECAY_COEF), on every parameter.
_C.SOLVER.WEIGHT_DECAY = 5e-4
# Stage-1 weight decay is WEIGHT_DECAY * IAS_WEIGHT_DECAY_COEF (the release's weight_decay_coef).
_C.SOLVER.IAS_WEIGHT_DECAY_COEF = 1.0
# Save OUTPUT_DIR/model_epoch_XXXX.pth every this many epochs (the analyses read every one).
_C.SOLVER.CHECKPOINT_PERIOD_EPOCHS = 1
# Mixed precision (CUDA only; the contrastive losses stay in float32).
_C.SOLVER.AMP = False
# channels_last memory format for the network and its inputs.
_C.SOLVER.CHANNELS_LAST = False

_C.CTC = CN()
# Weight of L_IAS in stage 1 (0 switches the loss off).
_C.CTC.ALPHA = 0.01
# Weight of L_IRS in stage 2 (0 switches the loss off).
_C.CTC.BETA = 1.0
# Width of the L2-normalised embeddings of both contrastive heads.
_C.CTC.EMBED_DIM = 128

_C.CTC.IAS = CN()
# Softmax temperature tau_I of instance discrimination (release: 0.1).
_C.CTC.IAS.TEMPERATURE = 0.1
# Memory momentum mu_I (release: 0.5).
_C.CTC.IAS.MOMENTUM = 0.5
# 0: full softmax over all N memory slots (CIFAR); K > 0: NCE with K uniform negatives (ImageNet).
_C.CTC.IAS.NUM_NEGATIVES = 0
# Train the IAS head; False reproduces the release, whose head stays at its random initialisation.
_C.CTC.IAS.TRAIN_HEAD = True

_C.CTC.IRS = CN()
# Temperature tau of CRD's contrastive loss (0.07).
_C.CTC.IRS.TEMPERATURE = 0.07
# Momentum of both IRS memories (0.5).
_C.CTC.IRS.MOMENTUM = 0.5
# Negatives per sample K.
_C.CTC.IRS.NUM_NEGATIVES = 16384
# "other_classes" (the release's "exact" mode) or "uniform" (any image, CRD's "relax").
_C.CTC.IRS.NEGATIVES = "other_classes"
# Refill both memories with the information bank's embeddings of every training image
# before stage 2 (the release's --update_memory_bank).
_C.CTC.IRS.REFILL_MEMORY = False

_C.TEST = CN()
# Evaluate top-1/top-5 on DATASETS.TEST every this many epochs (0: only at the end).
_C.TEST.EVAL_PERIOD_EPOCHS = 1
# Test images per batch and process.
_C.TEST.IMS_PER_BATCH = 256

_C.TRAINER = CN()
# Log to the console, metrics.json and TensorBoard every this many iterations.
_C.TRAINER.LOG_PERIOD = 20
# Names of extra hooks in ctc_plugin.HOOK_REGISTRY, built as cls(cfg, trainer).
_C.TRAINER.EXTRA_HOOKS = []

# Where checkpoints, config.yaml, metrics.json and TensorBoard events go.
_C.OUTPUT_DIR = "output/pretrain"
# Seed of initialisation, data order, augmentation and negative sampling.
_C.SEED = 0
# cudnn.benchmark for fixed-size inputs on GPU.
_C.CUDNN_BENCHMARK = False

# TEMPORAL_TRANSFER.*: the linear probe of TemporalTransferHook (off by default).
add_temporal_transfer_config(_C)


def get_cfg() -> CN:
    """A fresh copy of the defaults (plus the keys of registered extensions)."""
    return _C.clone()
