"""FGVCTrainer: fine-tuning on the epoch trainer with timm's model, optimizer, scheduler and transforms."""

from typing import Any, Dict, Optional, Tuple

from detectron2.engine import HookBase
from detectron2.utils.env import seed_all_rng
from torch import nn

from ..backbones.records import timm_record
from ..config.checks import check_values
from ..data import ClassificationDataset, build_dataset
from ..engine import EpochTrainer
from ..utils.errors import UserError, first_line
from .config import FGVC_RULES
from .model import ClassifierWithLoss, build_fgvc_model, read_fgvc_weights
from .transforms import build_fgvc_transforms


class TimmSchedulerHook(HookBase):
    """Sets the learning rate of each iteration from a timm scheduler built with ``step_on_epochs=False``.

    The rate is a function of the iteration alone (``step_update(num_updates=iter)``), so a
    resumed run continues the schedule exactly. Records ``lr`` in the event storage.
    """

    def __init__(self, scheduler: Any, optimizer: Any) -> None:
        self._scheduler = scheduler
        self._optimizer = optimizer

    def before_step(self) -> None:
        self._scheduler.step_update(num_updates=self.trainer.iter)
        lr = max(group["lr"] for group in self._optimizer.param_groups)
        self.trainer.storage.put_scalar("lr", lr, smoothing_hint=False)


class FGVCTrainer(EpochTrainer):
    """Fine-tunes timm's ``MODEL.NAME`` on ``DATASETS.TRAIN`` for ``SOLVER.EPOCHS`` epochs.

    Checkpoints hold timm's keys under ``"model"``, so timm reads them back itself:
    ``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file="model_final.pth"))``,
    and the network's record (timm ``MODEL.NAME``, a ``MODEL.NUM_CLASSES`` head), so every tool of
    ours reads them too (``ctc-convert``, ``ctc-train-net``, a further fine-tune).
    """

    @classmethod
    def build_datasets(cls, cfg) -> Tuple[ClassificationDataset, Optional[ClassificationDataset]]:
        train = build_dataset(cfg.DATASETS.TRAIN, cfg.DATASETS.ROOT)
        return train, build_dataset(cfg.DATASETS.TEST, cfg.DATASETS.ROOT) if cfg.DATASETS.TEST else None

    @classmethod
    def complete_config(cls, cfg, train_set: ClassificationDataset):
        if cfg.MODEL.NUM_CLASSES:
            return cfg
        cfg = cfg.clone()
        cfg.defrost()
        cfg.MODEL.NUM_CLASSES = train_set.num_classes
        cfg.freeze()
        return cfg

    @classmethod
    def num_epochs(cls, cfg) -> int:
        return cfg.SOLVER.EPOCHS

    @classmethod
    def checkpoint_metadata(cls, cfg) -> Dict[str, Any]:
        """The fine-tuned network is timm ``MODEL.NAME``: its record, and the training set a resume must keep."""
        record = timm_record(cfg.MODEL.NAME, cfg.MODEL.NUM_CLASSES)
        return {"backbone": record, "resume_settings": {"DATASETS.TRAIN": cfg.DATASETS.TRAIN}}

    @classmethod
    def check_values(cls, cfg, train_set: ClassificationDataset) -> None:
        """``FGVC_RULES``, then timm's own verdict on the optimizer and scheduler settings."""
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        check_values(cfg, FGVC_RULES)
        if cfg.MODEL.NUM_CLASSES != train_set.num_classes:
            raise UserError(
                f"MODEL.NUM_CLASSES {cfg.MODEL.NUM_CLASSES} but {cfg.DATASETS.TRAIN} has {train_set.num_classes} "
                "classes; leave it 0 to take the training set's"
            )
        if len(cfg.INPUT.SCALE) != 2 or cfg.INPUT.SCALE[0] > cfg.INPUT.SCALE[1]:
            raise UserError(f"INPUT.SCALE {tuple(cfg.INPUT.SCALE)} must be (smallest, largest) area fraction")
        probe = nn.Linear(1, 1)
        solver = cfg.SOLVER
        try:
            optimizer = create_optimizer_v2(
                probe, opt=solver.OPTIMIZER, lr=solver.BASE_LR, weight_decay=solver.WEIGHT_DECAY,
                momentum=solver.MOMENTUM,
            )  # fmt: skip
        except (ValueError, AssertionError, KeyError, TypeError) as e:
            raise UserError(f"SOLVER.OPTIMIZER {solver.OPTIMIZER!r}: timm refuses it ({first_line(e)})") from None
        try:
            create_scheduler_v2(
                optimizer, sched=solver.SCHEDULER, num_epochs=solver.EPOCHS, min_lr=solver.MIN_LR,
                warmup_epochs=solver.WARMUP_EPOCHS, step_on_epochs=False, updates_per_epoch=1,
            )  # fmt: skip
        except (ValueError, AssertionError, KeyError, TypeError) as e:
            raise UserError(f"SOLVER.SCHEDULER {solver.SCHEDULER!r}: timm refuses it ({first_line(e)})") from None

    @classmethod
    def check_model_inputs(cls, cfg) -> None:
        if cfg.MODEL.WEIGHTS:
            read_fgvc_weights(cfg.MODEL.NAME, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX)

    def build_model(self, cfg) -> nn.Module:
        seed_all_rng(cfg.SEED)  # the same new head on every process
        model = build_fgvc_model(cfg.MODEL.NAME, cfg.MODEL.NUM_CLASSES, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX)
        return ClassifierWithLoss(model.to(self.device), cfg.SOLVER.CHANNELS_LAST)

    def build_optimizer(self, cfg, model: nn.Module):
        from timm.optim import create_optimizer_v2

        solver = cfg.SOLVER
        return create_optimizer_v2(
            model.backbone,
            opt=solver.OPTIMIZER,
            lr=solver.BASE_LR,
            weight_decay=solver.WEIGHT_DECAY,
            momentum=solver.MOMENTUM,
        )

    def build_lr_hook(self, cfg) -> HookBase:
        from timm.scheduler import create_scheduler_v2

        scheduler, _ = create_scheduler_v2(
            self.optimizer,
            sched=cfg.SOLVER.SCHEDULER,
            num_epochs=cfg.SOLVER.EPOCHS,
            min_lr=cfg.SOLVER.MIN_LR,
            warmup_epochs=cfg.SOLVER.WARMUP_EPOCHS,
            step_on_epochs=False,
            updates_per_epoch=self.iters_per_epoch,
        )
        return TimmSchedulerHook(scheduler, self.optimizer)

    def build_transforms(self, cfg):
        return build_fgvc_transforms(cfg, self.model.backbone)
