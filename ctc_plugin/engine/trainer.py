"""CTCTrainer: Detectron2's TrainerBase around a SimpleTrainer (or AMPTrainer), like DefaultTrainer."""

import logging
import math
import os
import weakref
from typing import Dict, List, Mapping

import torch
from detectron2.engine import AMPTrainer, HookBase, SimpleTrainer, TrainerBase, create_ddp_model, hooks
from detectron2.utils import comm
from detectron2.utils.events import CommonMetricPrinter, JSONWriter, TensorboardXWriter

from ..data import EpochBatchSampler, build_dataset, build_test_loader, build_train_loader
from ..data.build import shard_indices
from ..evaluation import classification_accuracy
from ..modeling import build_ctc
from ..models import build_backbone
from ..models.weights import load_backbone_weights
from ..registry import HOOK_REGISTRY
from ..solver import build_lr_multiplier, build_optimizer
from ..utils.errors import UserError
from .checkpointer import AtomicCheckpointer, MethodState, checkpoint_candidates
from .hooks import CTCStageHook, EpochCheckpointer

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``MODEL.DEVICE``: "auto" is cuda when available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"MODEL.DEVICE is {name} but CUDA is not available; use MODEL.DEVICE cpu")
    if name.startswith("cuda") and comm.get_world_size() > 1:
        return torch.device("cuda", comm.get_local_rank())
    return torch.device(name)


class NonFiniteLossError(FloatingPointError):
    """A loss term is NaN or infinite; raised before the optimizer step, so the weights are the last good ones."""

    def __init__(self, iteration: int, losses: Mapping[str, float]) -> None:
        self.iteration = iteration
        self.losses = dict(losses)
        terms = ", ".join(f"{name}={value:.4g}" for name, value in self.losses.items())
        super().__init__(f"loss is not finite at iteration {iteration}: {terms}")


class _FiniteLosses:
    """Mixed into Detectron2's trainers: check every loss term on every rank before the step.

    Detectron2 checks only the sum, only on rank 0, and says so in two lines; this names the
    iteration and each term, and is raised before ``optimizer.step()``.
    """

    def _write_metrics(self, loss_dict, data_time, prefix="", iter=None) -> None:  # noqa: A002 (Detectron2's name)
        values = {name: float(value.detach()) for name, value in loss_dict.items()}
        if not all(math.isfinite(value) for value in values.values()):
            raise NonFiniteLossError(self.iter if iter is None else iter, values)
        super()._write_metrics(loss_dict, data_time, prefix=prefix, iter=iter)


class _SimpleTrainer(_FiniteLosses, SimpleTrainer):
    pass


class _AMPTrainer(_FiniteLosses, AMPTrainer):
    pass


class CTCTrainer(TrainerBase):
    """Pretrains a backbone with CTC (or the plain baseline) from a config.

    Epochs are turned into iterations (``iters_per_epoch`` = training images // global
    batch); stage changes, checkpoints and evaluation happen at epoch boundaries.
    """

    def __init__(self, cfg) -> None:
        super().__init__()
        logging.getLogger("ctc_plugin").setLevel(logging.INFO)
        self.device = resolve_device(cfg.MODEL.DEVICE)
        train_set = build_dataset(
            cfg.DATASETS.TRAIN, cfg.DATASETS.ROOT, cfg.DATASETS.CLASSES, cfg.DATASETS.IMAGES_PER_CLASS
        )
        self.test_set = (
            build_dataset(cfg.DATASETS.TEST, cfg.DATASETS.ROOT, cfg.DATASETS.CLASSES) if cfg.DATASETS.TEST else None
        )
        self.train_set = train_set
        cfg = cfg.clone()
        cfg.defrost()
        cfg.MODEL.NUM_CLASSES = cfg.MODEL.NUM_CLASSES or train_set.num_classes
        cfg.freeze()
        self.cfg = cfg
        if comm.is_main_process():
            os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)

        world_size = comm.get_world_size()
        if cfg.SOLVER.IMS_PER_BATCH % world_size:
            raise UserError(
                f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} is not divisible by {world_size} processes"
            )
        if cfg.CTC.BETA > 0 and cfg.SOLVER.IRS_EPOCHS > 0 and cfg.SOLVER.IAS_EPOCHS == 0:
            raise UserError("CTC's stage 2 needs an information bank: SOLVER.IAS_EPOCHS must be at least 1")
        self.sampler = EpochBatchSampler(
            len(train_set), cfg.SOLVER.IMS_PER_BATCH // world_size, world_size, comm.get_rank(), cfg.SEED
        )
        self.iters_per_epoch = self.sampler.iters_per_epoch
        self.max_iter = self.sampler.max_iter = (cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS) * self.iters_per_epoch
        self.start_iter = 0
        logger.info(
            f"{cfg.DATASETS.TRAIN}: {len(train_set)} training images of {cfg.MODEL.NUM_CLASSES} classes, "
            f"{self.iters_per_epoch} iterations per epoch, {self.max_iter} in all"
        )

        self.backbone = build_backbone(cfg)
        if cfg.MODEL.WEIGHTS:
            load_backbone_weights(self.backbone, cfg.MODEL.WEIGHTS)
        self.backbone.to(self.device)
        self.ctc = build_ctc(cfg, self.backbone, torch.tensor(train_set.targets), self.device)
        if cfg.SOLVER.CHANNELS_LAST:
            self.ctc.to(memory_format=torch.channels_last)
            self.ctc.channels_last = True
        self.optimizer = build_optimizer(cfg, self.ctc)
        trainer_cls = _AMPTrainer if cfg.SOLVER.AMP and self.device.type == "cuda" else _SimpleTrainer
        self._trainer = trainer_cls(self.ctc, build_train_loader(cfg, train_set, self.sampler), self.optimizer)
        self.scheduler = build_lr_multiplier(cfg)
        self.checkpointer = AtomicCheckpointer(
            self.backbone,
            cfg.OUTPUT_DIR,
            save_to_disk=comm.is_main_process(),
            ctc=MethodState(self.ctc),
            trainer=weakref.proxy(self),
        )
        self.register_hooks(self.build_hooks())

    def build_hooks(self) -> List[HookBase]:
        cfg, ipe = self.cfg, self.iters_per_epoch
        hook_list = [hooks.IterationTimer(), CTCStageHook(cfg, self), hooks.LRScheduler(self.optimizer, self.scheduler)]
        hook_list.append(EpochCheckpointer(self.checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD_EPOCHS, ipe))
        if self.test_set is not None:
            hook_list.append(hooks.EvalHook(cfg.TEST.EVAL_PERIOD_EPOCHS * ipe, self.evaluate))
        hook_list += [HOOK_REGISTRY.get(name)(cfg, self) for name in cfg.TRAINER.EXTRA_HOOKS]
        if comm.is_main_process():
            writers = [
                CommonMetricPrinter(self.max_iter),
                JSONWriter(f"{cfg.OUTPUT_DIR}/metrics.json"),
                TensorboardXWriter(cfg.OUTPUT_DIR),
            ]
            hook_list.append(hooks.PeriodicWriter(writers, period=cfg.TRAINER.LOG_PERIOD))
        return hook_list

    # ---- what the hooks call --------------------------------------------------------------
    def wrap_model(self) -> None:
        """(Re)build DistributedDataParallel over the parameters the current stage trains."""
        if comm.get_world_size() == 1:
            return
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        # Buffers (BatchNorm statistics) follow rank 0 by DDP's default; the memories are not
        # buffers, so they are not broadcast: every rank applies the same gathered update.
        self._trainer.model = create_ddp_model(self.ctc, device_ids=device_ids)

    def evaluate(self) -> Dict[str, float]:
        shard = shard_indices(len(self.test_set), comm.get_rank(), comm.get_world_size())
        loader = build_test_loader(self.cfg, self.test_set, shard)
        results = classification_accuracy(self.backbone, loader, self.device)
        epoch = (self.iter + 1) // self.iters_per_epoch
        logger.info(f"Epoch {epoch}: test top-1 {results['top1']:.2f}%")
        return {**{f"test/{name}": value for name, value in results.items()}, "test/epoch": epoch}

    def build_refill_loader(self):
        """Every training image with the test transform; every rank gets the same batch count."""
        shard = shard_indices(len(self.train_set), comm.get_rank(), comm.get_world_size(), pad=True)
        return build_test_loader(self.cfg, self.train_set, shard)

    # ---- running ---------------------------------------------------------------------------
    def resume_or_load(self, resume: bool = True) -> None:
        """With ``resume``, continue from OUTPUT_DIR's last complete checkpoint, if any."""
        if resume and self.checkpointer.has_checkpoint():
            path = self.checkpointer.get_checkpoint_file()
            try:
                self.checkpointer.load(path)
            except (RuntimeError, KeyError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise UserError(f"cannot resume from {path}: {first}") from None
            self.start_iter = self.iter + 1
            logger.info(f"Resuming from {path} at iteration {self.start_iter}")
        self.sampler.start_iter = self.start_iter

    def train(self) -> None:
        super().train(self.start_iter, self.max_iter)

    def run_step(self) -> None:
        self._trainer.iter = self.iter
        try:
            self._trainer.run_step()
        except NonFiniteLossError as e:
            raise UserError(f"{e}; stopped before the update. {self._last_good_checkpoint()}") from None

    def _last_good_checkpoint(self) -> str:
        saved = [p for p in checkpoint_candidates(self.cfg.OUTPUT_DIR) if os.path.isfile(p)]
        if not saved:
            return "No checkpoint was written yet"
        return f"The last good checkpoint is {saved[0]} (--resume continues from it)"

    def state_dict(self) -> Dict:
        state = super().state_dict()
        state["_trainer"] = self._trainer.state_dict()
        return state

    def load_state_dict(self, state_dict: Dict) -> None:
        super().load_state_dict(state_dict)
        self._trainer.load_state_dict(state_dict["_trainer"])
