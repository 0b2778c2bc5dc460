"""Values that cannot work, refused with one line before any process starts.

A ``Rule`` names a key and what its value must be; ``check_values`` applies a table of them.
The tables of the plugin's configs are here; fine-tuning's and detection's sit beside their
defaults. A key that a config does not have is skipped, so one table serves related configs.
"""

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..utils.errors import UserError


@dataclass(frozen=True)
class Rule:
    key: str
    holds: Callable[[Any], bool]
    requirement: str  # completes "KEY VALUE must ..."


def positive(key: str) -> Rule:
    return Rule(key, lambda v: v > 0, "be positive")


def non_negative(key: str) -> Rule:
    return Rule(key, lambda v: v >= 0, "be 0 or more")


def fraction(key: str) -> Rule:
    """A momentum or a floor: in [0, 1)."""
    return Rule(key, lambda v: 0 <= v < 1, "be in [0, 1)")


def one_of(key: str, choices: Iterable[str]) -> Rule:
    choices = tuple(choices)
    return Rule(key, lambda v: v in choices, f"be one of {', '.join(choices)}")


def _lookup(cfg, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        if part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def check_values(cfg, rules: Iterable[Rule]) -> None:
    """Raise ``UserError`` for the first rule whose key holds a value that breaks it."""
    for rule in rules:
        try:
            value = _lookup(cfg, rule.key)
        except KeyError:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if not all(rule.holds(v) for v in values):
            raise UserError(f"{rule.key} {value!r} must {rule.requirement}")


def check_batch_split(cfg, world_size: int) -> None:
    """``SOLVER.IMS_PER_BATCH`` is the global batch: every process takes an equal share."""
    if cfg.SOLVER.IMS_PER_BATCH % world_size:
        raise UserError(f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} is not divisible by {world_size} processes")


# What every epoch trainer reads (pretraining and fine-tuning).
ENGINE_RULES = (
    positive("SOLVER.IMS_PER_BATCH"),
    positive("SOLVER.BASE_LR"),
    fraction("SOLVER.MOMENTUM"),
    non_negative("SOLVER.WEIGHT_DECAY"),
    positive("SOLVER.CHECKPOINT_PERIOD_EPOCHS"),
    non_negative("SOLVER.CHECKPOINT_PERIOD_ITERS"),
    non_negative("SOLVER.MAX_CHECKPOINTS"),
    non_negative("SOLVER.WARMUP_EPOCHS"),
    one_of("SOLVER.WARMUP_SHAPE", ("linear_iter", "release_epoch")),
    positive("INPUT.SIZE"),
    non_negative("DATALOADER.NUM_WORKERS"),
    non_negative("TEST.EVAL_PERIOD_EPOCHS"),
    positive("TEST.IMS_PER_BATCH"),
    positive("TRAINER.LOG_PERIOD"),
)

# CTC pretraining's own keys.
PRETRAIN_RULES = (
    non_negative("SOLVER.IAS_EPOCHS"),
    non_negative("SOLVER.IRS_EPOCHS"),
    positive("SOLVER.IRS_LR_FACTOR"),
    non_negative("SOLVER.IAS_WEIGHT_DECAY_COEF"),
    fraction("SOLVER.COSINE_FLOOR"),
    non_negative("MODEL.NUM_CLASSES"),
    non_negative("DATASETS.IMAGES_PER_CLASS"),
    non_negative("DATASETS.CLASSES"),
    non_negative("INPUT.CUTOUT"),
    one_of("INPUT.AUTO_AUGMENT_POLICY", ("torchvision", "release")),
    positive("INPUT.PIXEL_STD"),
    non_negative("CTC.ALPHA"),
    non_negative("CTC.BETA"),
    positive("CTC.EMBED_DIM"),
    positive("CTC.IAS.TEMPERATURE"),
    fraction("CTC.IAS.MOMENTUM"),
    non_negative("CTC.IAS.NUM_NEGATIVES"),
    positive("CTC.IRS.TEMPERATURE"),
    fraction("CTC.IRS.MOMENTUM"),
    positive("CTC.IRS.NUM_NEGATIVES"),
    one_of("CTC.IRS.NEGATIVES", ("other_classes", "relax", "uniform")),
    non_negative("TEMPORAL_TRANSFER.PERIOD_EPOCHS"),
    one_of("TEMPORAL_TRANSFER.PROTOCOL", ("appendix", "release")),
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


def check_pretrain_values(cfg, num_train_images: int) -> None:
    """``ENGINE_RULES``, ``PRETRAIN_RULES`` and what depends on several keys or on the data."""
    check_values(cfg, ENGINE_RULES + PRETRAIN_RULES)
    solver = cfg.SOLVER
    epochs = solver.IAS_EPOCHS + solver.IRS_EPOCHS
    if epochs < 1:
        raise UserError(f"SOLVER.IAS_EPOCHS + SOLVER.IRS_EPOCHS is {epochs}: there must be at least one epoch")
    negatives = cfg.CTC.IAS.NUM_NEGATIVES
    if cfg.CTC.ALPHA > 0 and negatives >= num_train_images:
        raise UserError(
            f"CTC.IAS.NUM_NEGATIVES {negatives} must be below the {num_train_images} training images "
            "(0: the full softmax over every memory slot)"
        )
