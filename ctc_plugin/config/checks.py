"""Values that cannot work, refused with one line before any process starts.

A ``Rule`` names a key and what its value must be; ``check_values`` applies a table of them to
a config. The tools check their numeric flags with the same rules (``ctc_plugin.cli.common.check_flags``).
The engine's and pretraining's own tables are here; each owner of keys registers its rules with
them (``adders.py``), and fine-tuning's and detection's sit beside their defaults. A key that a
config does not have is skipped, so one table serves related configs. An enum key takes its
choices from its owner's constant.
"""

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..data.transforms import AUTO_AUGMENT_POLICIES
from ..registry import CLASSIFIER_HEAD_REGISTRY, CONFIG_REGISTRY
from ..utils.errors import UserError
from .defaults import WARMUP_SHAPES


@dataclass(frozen=True)
class Rule:
    key: str
    holds: Callable[[Any], bool]
    requirement: str  # completes "KEY VALUE must ..."

    def check(self, value: Any, name: str = "") -> None:
        """Raise ``UserError`` ("NAME VALUE must ...", NAME the key by default) when ``value``, or
        any item of a list, breaks the rule."""
        values = value if isinstance(value, (list, tuple)) else [value]
        if not all(self.holds(v) for v in values):
            raise UserError(f"{name or self.key} {value!r} must {self.requirement}")


def positive(key: str) -> Rule:
    return Rule(key, lambda v: v > 0, "be positive")


def at_least(key: str, least: int) -> Rule:
    return Rule(key, lambda v: v >= least, f"be {least} or more")


def non_negative(key: str) -> Rule:
    return at_least(key, 0)


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
        rule.check(value)


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
    positive("INPUT.SIZE"),
    non_negative("DATALOADER.NUM_WORKERS"),
    non_negative("TEST.EVAL_PERIOD_EPOCHS"),
    positive("TEST.IMS_PER_BATCH"),
    positive("TRAINER.LOG_PERIOD"),
)

# Pretraining's own keys (``add_pretrain_config``).
PRETRAIN_RULES = (
    non_negative("SOLVER.IAS_EPOCHS"),
    non_negative("SOLVER.IRS_EPOCHS"),
    positive("SOLVER.IRS_LR_FACTOR"),
    non_negative("SOLVER.IAS_WEIGHT_DECAY_COEF"),
    one_of("SOLVER.WARMUP_SHAPE", WARMUP_SHAPES),
    fraction("SOLVER.COSINE_FLOOR"),
    non_negative("MODEL.NUM_CLASSES"),
    non_negative("DATASETS.IMAGES_PER_CLASS"),
    non_negative("DATASETS.CLASSES"),
    non_negative("INPUT.CUTOUT"),
    one_of("INPUT.AUTO_AUGMENT_POLICY", AUTO_AUGMENT_POLICIES),
    positive("INPUT.PIXEL_STD"),
    positive("CTC.EMBED_DIM"),
    Rule("CTC.CLASSIFIER_HEAD", lambda v: v in CLASSIFIER_HEAD_REGISTRY, "name a head in CLASSIFIER_HEAD_REGISTRY"),
)


def check_pretrain_values(cfg, num_train_images: int) -> None:
    """``ENGINE_RULES``, ``PRETRAIN_RULES``, what depends on several keys, then every registered
    owner's rules and checks (``CONFIG_REGISTRY``)."""
    check_values(cfg, ENGINE_RULES + PRETRAIN_RULES)
    solver = cfg.SOLVER
    epochs = solver.IAS_EPOCHS + solver.IRS_EPOCHS
    if epochs < 1:
        raise UserError(f"SOLVER.IAS_EPOCHS + SOLVER.IRS_EPOCHS is {epochs}: there must be at least one epoch")
    owners = [adder for _, adder in CONFIG_REGISTRY]
    for adder in owners:
        check_values(cfg, adder.rules)
    for adder in owners:
        if adder.check is not None:
            adder.check(cfg, num_train_images)
