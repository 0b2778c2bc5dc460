"""Fine-tuning on Detectron2's training loop with timm's model, optimizer and scheduler.

One iteration is one global batch; ``SOLVER.EPOCHS x iters_per_epoch`` iterations in all.
After each epoch the test split is evaluated (top-1/top-5 into ``metrics.json``) and a
checkpoint is written atomically; ``resume=True`` restores model, optimizer, scheduler,
grad scaler and epoch from ``OUTPUT_DIR/checkpoint_last.pth``.
"""

import logging
import os
from typing import Any, Dict, List

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer, default_writers, hooks
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..convert.timm import save_timm_weights
from ..data.sampler import EpochBatchSampler
from ..data.samples import IndexedSamples
from ..utils.errors import UserError
from ..utils.io import atomic_write_json
from .checkpoint import check_resume_compatible, load_last_checkpoint
from .datasets import build_fgvc_dataset
from .evaluation import evaluate_topk
from .hooks import EpochCheckpointer, TimmSchedulerHook
from .model import ClassifierWithLoss, build_fgvc_model
from .transforms import build_fgvc_transforms

logger = logging.getLogger(__name__)

FINAL_WEIGHTS = "model_final.pth"
RESULTS_FILE = "results.json"


def resolve_device(name: str) -> torch.device:
    """``MODEL.DEVICE`` as this process's device ("cuda" -> its local GPU)."""
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("MODEL.DEVICE is cuda but no GPU is available; pass MODEL.DEVICE cpu")
        return torch.device("cuda", comm.get_local_rank())
    if name != "cpu":
        raise UserError(f"MODEL.DEVICE must be cuda or cpu, got {name!r}")
    return torch.device("cpu")


class FGVCFineTuner:
    """Everything a fine-tuning run needs, built from a frozen config.

    Args:
        cfg: from ``get_fgvc_cfg()`` merged with the user's file and overrides.
        resume: continue from ``OUTPUT_DIR/checkpoint_last.pth`` when it exists.
    """

    def __init__(self, cfg, resume: bool = False) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.MODEL.DEVICE)
        self.amp = bool(cfg.SOLVER.AMP.ENABLED) and self.device.type == "cuda"
        world_size, rank = comm.get_world_size(), comm.get_rank()
        if cfg.SOLVER.IMS_PER_BATCH % world_size:
            raise UserError(
                f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} is not divisible by {world_size} processes"
            )

        train_set = build_fgvc_dataset(cfg.DATASETS.NAME, cfg.DATASETS.ROOT, "train")
        test_set = build_fgvc_dataset(cfg.DATASETS.NAME, cfg.DATASETS.ROOT, "test")
        self.num_classes = train_set.num_classes
        self.iters_per_epoch = len(train_set) // cfg.SOLVER.IMS_PER_BATCH
        if self.iters_per_epoch == 0:
            raise UserError(
                f"{len(train_set)} training images cannot fill one batch of "
                f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH}"
            )
        self.max_iter = self.iters_per_epoch * cfg.SOLVER.EPOCHS
        logger.info(
            "%s: %d train / %d test images, %d classes; %d iterations per epoch, %d epochs",
            cfg.DATASETS.NAME,
            len(train_set),
            len(test_set),
            self.num_classes,
            self.iters_per_epoch,
            cfg.SOLVER.EPOCHS,
        )

        seed_all_rng(cfg.SEED)  # the same new head on every process
        self.model = build_fgvc_model(cfg.MODEL.NAME, self.num_classes, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX).to(
            self.device
        )
        self.optimizer, self.scheduler = self._build_solver()
        checkpoint = load_last_checkpoint(cfg.OUTPUT_DIR) if resume else None
        self.start_iter = 0
        if checkpoint is not None:
            check_resume_compatible(checkpoint, cfg.OUTPUT_DIR, cfg.MODEL.NAME, self.num_classes)
            self.model.load_state_dict(checkpoint["model"])
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            self.start_iter = int(checkpoint["iteration"])
            logger.info("Resuming after epoch %d (iteration %d)", checkpoint["epoch"], self.start_iter)

        train_view, test_view = build_fgvc_transforms(cfg, self.model)
        sampler = EpochBatchSampler(
            len(train_set),
            cfg.SOLVER.IMS_PER_BATCH // world_size,
            world_size,
            rank,
            cfg.SEED,
            self.start_iter,
            self.max_iter,
        )
        workers = cfg.DATALOADER.NUM_WORKERS
        pin = self.device.type == "cuda"
        train_loader = DataLoader(
            IndexedSamples(train_set, train_view, seed=cfg.SEED),
            batch_sampler=sampler,
            num_workers=workers,
            pin_memory=pin,
        )
        self.test_loader = DataLoader(
            IndexedSamples(test_set, test_view, seed=cfg.SEED),
            batch_size=cfg.TEST.IMS_PER_BATCH,
            sampler=list(range(rank, len(test_set), world_size)),
            num_workers=workers,
            pin_memory=pin,
        )

        trained: nn.Module = ClassifierWithLoss(self.model)
        if world_size > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            trained = DistributedDataParallel(trained, device_ids=device_ids)
        trainer_class = AMPTrainer if self.amp else SimpleTrainer
        self.trainer = trainer_class(trained, train_loader, self.optimizer)
        self.trainer.register_hooks(self._build_hooks())
        if checkpoint is not None:
            state = dict(checkpoint["trainer"])
            if self.amp:
                state.setdefault("grad_scaler", self.trainer.grad_scaler.state_dict())
            self.trainer.load_state_dict(state)
        self.results: Dict[str, float] = {}
        self._training = False

    def _build_solver(self):
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        solver = self.cfg.SOLVER
        optimizer = create_optimizer_v2(
            self.model,
            opt=solver.OPTIMIZER,
            lr=solver.BASE_LR,
            weight_decay=solver.WEIGHT_DECAY,
            momentum=solver.MOMENTUM,
        )
        scheduler, _ = create_scheduler_v2(
            optimizer,
            sched=solver.SCHEDULER,
            num_epochs=solver.EPOCHS,
            min_lr=solver.MIN_LR,
            warmup_epochs=solver.WARMUP_EPOCHS,
            step_on_epochs=False,
            updates_per_epoch=self.iters_per_epoch,
        )
        return optimizer, scheduler

    def _build_hooks(self) -> List[Any]:
        cfg = self.cfg
        built = [
            hooks.IterationTimer(),
            TimmSchedulerHook(self.scheduler, self.optimizer),
            hooks.EvalHook(self.iters_per_epoch, self.evaluate),
            EpochCheckpointer(
                cfg.OUTPUT_DIR, self.iters_per_epoch, cfg.SOLVER.CHECKPOINT_PERIOD, self.checkpoint_state
            ),
        ]
        if comm.is_main_process():  # writers last: they see this iteration's evaluation
            period = max(1, min(cfg.LOG_PERIOD, self.iters_per_epoch))
            built.append(hooks.PeriodicWriter(default_writers(cfg.OUTPUT_DIR, self.max_iter), period=period))
        return built

    def checkpoint_state(self, epoch: int) -> Dict[str, Any]:
        """What ``checkpoint_last.pth`` holds after ``epoch`` completed epochs."""
        return {
            "model": self.model.state_dict(),
            "trainer": self.trainer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,
            "iteration": epoch * self.iters_per_epoch,
            "timm_model": self.cfg.MODEL.NAME,
            "num_classes": self.num_classes,
            "cfg": self.cfg.dump(),
        }

    def evaluate(self) -> Dict[str, float]:
        """Top-1/top-5 (percent) on the test split, over all processes."""
        results = evaluate_topk(self.model, self.test_loader, self.device, self.amp)
        completed = self.trainer.iter + 1 if self._training else self.start_iter
        results["epoch"] = float(completed // self.iters_per_epoch)
        logger.info(
            "Epoch %d: top-1 %.2f, top-5 %.2f on %d test images",
            results["epoch"],
            results["top1"],
            results["top5"],
            results["num_images"],
        )
        self.results = results
        return results

    def train(self) -> Dict[str, float]:
        """Fine-tune to ``SOLVER.EPOCHS``; write ``model_final.pth`` and ``results.json``."""
        if self.start_iter >= self.max_iter:
            logger.info("Already trained for %d epochs; evaluating only", self.cfg.SOLVER.EPOCHS)
            return self.evaluate_and_save()
        self._training = True
        try:
            self.trainer.train(self.start_iter, self.max_iter)
        finally:
            self._training = False
        self._save_final()
        return self.results

    def evaluate_and_save(self) -> Dict[str, float]:
        """Evaluate the current weights and write ``results.json`` (``--eval-only``)."""
        self.evaluate()
        self._save_results()
        return self.results

    def _save_final(self) -> None:
        if comm.is_main_process():
            metadata = {
                "timm_model": self.cfg.MODEL.NAME,
                "num_classes": self.num_classes,
                "dataset": self.cfg.DATASETS.NAME,
                "initial_weights": self.cfg.MODEL.WEIGHTS,
            }
            save_timm_weights(self.model.state_dict(), os.path.join(self.cfg.OUTPUT_DIR, FINAL_WEIGHTS), metadata)
        self._save_results()

    def _save_results(self) -> None:
        if comm.is_main_process():
            atomic_write_json(os.path.join(self.cfg.OUTPUT_DIR, RESULTS_FILE), self.results)
        comm.synchronize()
