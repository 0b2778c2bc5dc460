"""TEMPORAL_TRANSFER: the keys of the temporal-transfer probe, declared beside the analyses that read them.

``TemporalTransferHook`` (``hook.py``, which imports Detectron2) runs the probe during
pretraining, and ``ctc-temporal-transfer`` takes its schedule's defaults from the same keys
(``ProbeSchedule.from_config``). They are declared here, free of Detectron2, so that every
pretraining config has them and a run's ``config.yaml`` merges where Detectron2 is not installed.
"""

from fvcore.common.config import CfgNode as CN

from ..config import register_config
from ..config.checks import fraction, non_negative, one_of, positive
from .targets import PROTOCOLS

TEMPORAL_TRANSFER_RULES = (
    non_negative("TEMPORAL_TRANSFER.PERIOD_EPOCHS"),
    one_of("TEMPORAL_TRANSFER.PROTOCOL", PROTOCOLS),
    non_negative("TEMPORAL_TRANSFER.IMAGE_SIZE"),
    non_negative("TEMPORAL_TRANSFER.MAX_TRAIN_SAMPLES"),
    non_negative("TEMPORAL_TRANSFER.MAX_TEST_SAMPLES"),
    positive("TEMPORAL_TRANSFER.DRAWS"),
    positive("TEMPORAL_TRANSFER.STEPS"),
    positive("TEMPORAL_TRANSFER.BATCH_SIZE"),
    positive("TEMPORAL_TRANSFER.LR"),
    non_negative("TEMPORAL_TRANSFER.MILESTONES"),
    positive("TEMPORAL_TRANSFER.GAMMA"),
    fraction("TEMPORAL_TRANSFER.MOMENTUM"),
    non_negative("TEMPORAL_TRANSFER.WEIGHT_DECAY"),
    positive("TEMPORAL_TRANSFER.FEATURE_BATCH_SIZE"),
)


@register_config(rules=TEMPORAL_TRANSFER_RULES)
def add_temporal_transfer_config(cfg: CN) -> None:
    """The probe's keys: TEMPORAL_TRANSFER (in place)."""
    tt = cfg.TEMPORAL_TRANSFER = CN()
    # TemporalTransferHook: probe every this many epochs during pretraining (and after the last); 0 = off.
    tt.PERIOD_EPOCHS = 0
    # "appendix": cached eval-mode features, the appendix's schedule (the keys below), the final
    # accuracy. "release": the authors' transfer.py (train-mode BatchNorm, 32 px, 30 epochs of
    # cosine, the best epoch; CINIC-10's valid split with its own statistics). See docs/analyses.md.
    tt.PROTOCOL = "appendix"
    # Base name of the target's registered splits ("stl10" -> stl10_train / stl10_test);
    # "" = the classes of DATASETS.TRAIN that DATASETS.CLASSES held out.
    tt.DATASET = ""
    # Folder of the target dataset; "" = DATASETS.ROOT.
    tt.ROOT = ""
    # Target class indices to keep (empty: all); unused for the held-out default.
    tt.CLASSES = []
    # Square side of the target images; 0 = their own size (STL-10 96, CINIC-10 32).
    tt.IMAGE_SIZE = 0
    # Use at most this many target training images per draw / test images (0 = all), drawn with SEED.
    tt.MAX_TRAIN_SAMPLES = 0
    tt.MAX_TEST_SAMPLES = 0
    # Probes per measurement, each with its own training images, initialisation and batch order;
    # temporal_transfer/top1 is their mean.
    tt.DRAWS = 3
    # The probe's SGD schedule (appendix A.3: 15k steps, batch 512, lr 0.4, x0.1 at 5k and 10k;
    # momentum and weight decay are not given there: 0.9 and 0, as in common linear evaluation).
    tt.STEPS = 15000
    tt.BATCH_SIZE = 512
    tt.LR = 0.4
    tt.MILESTONES = [5000, 10000]
    tt.GAMMA = 0.1
    tt.MOMENTUM = 0.9
    tt.WEIGHT_DECAY = 0.0
    # Images per batch when extracting features (no_grad, backbone in eval mode).
    tt.FEATURE_BATCH_SIZE = 256
    # The probe seed (not the run's SEED): each draw's training images, the test images, each
    # draw's initialisation and batch order.
    tt.SEED = 0
