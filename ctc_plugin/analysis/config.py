"""The ``TEMPORAL_TRANSFER`` config node: the probe run by the temporal-transfer hook.

``ctc_plugin.config.get_cfg()`` calls ``add_temporal_transfer_config``; the same settings
are the defaults of ``tools/temporal_transfer.py``.
"""

from .linear_probe import ProbeSchedule

_DEFAULT = ProbeSchedule()


def add_temporal_transfer_config(cfg) -> None:
    """Add ``cfg.TEMPORAL_TRANSFER`` (the appendix's probe schedule; off by default)."""
    node = type(cfg)()  # the caller's CfgNode class: no import of fvcore/detectron2 here
    # Probe every this many epochs during pretraining (and after the last one); 0 = off.
    node.PERIOD_EPOCHS = 0
    # Base name of the target's registered splits ("stl10" -> stl10_train / stl10_test);
    # "" = the classes of DATASETS.TRAIN that DATASETS.CLASSES held out.
    node.DATASET = ""
    # Folder of the target dataset; "" = DATASETS.ROOT.
    node.ROOT = ""
    # Target class indices to keep (empty: all); unused for the held-out default.
    node.CLASSES = []
    # Square side of the target images; 0 = their own size (STL-10 96, CINIC-10 32).
    node.IMAGE_SIZE = 0
    # Use at most this many target training / test images (0 = all), drawn with SEED.
    node.MAX_TRAIN_SAMPLES = 0
    node.MAX_TEST_SAMPLES = 0
    # The probe's SGD schedule (appendix A.3: 15k steps, batch 512, lr 0.4, x0.1 at 5k and 10k).
    node.STEPS = _DEFAULT.steps
    node.BATCH_SIZE = _DEFAULT.batch_size
    node.LR = _DEFAULT.lr
    node.MILESTONES = list(_DEFAULT.milestones)
    node.GAMMA = _DEFAULT.gamma
    node.MOMENTUM = _DEFAULT.momentum
    node.WEIGHT_DECAY = _DEFAULT.weight_decay
    # Images per batch when extracting features (no_grad, backbone in eval mode).
    node.FEATURE_BATCH_SIZE = 256
    # Seed of the sample limits, the probe's initialisation and its batch order.
    node.SEED = 0
    cfg.TEMPORAL_TRANSFER = node


def probe_schedule_from_config(node) -> ProbeSchedule:
    """The ``ProbeSchedule`` of a ``TEMPORAL_TRANSFER`` node."""
    return ProbeSchedule(
        steps=int(node.STEPS),
        batch_size=int(node.BATCH_SIZE),
        lr=float(node.LR),
        milestones=tuple(int(m) for m in node.MILESTONES),
        gamma=float(node.GAMMA),
        momentum=float(node.MOMENTUM),
        weight_decay=float(node.WEIGHT_DECAY),
        seed=int(node.SEED),
    )
