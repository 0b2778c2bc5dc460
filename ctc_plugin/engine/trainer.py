"""EpochTrainer: Detectron2's TrainerBase around a SimpleTrainer (or AMPTrainer), counted in epochs.

Both trainers of the plugin are subclasses: ``CTCTrainer`` (pretraining) and
``ctc_plugin.fgvc.FGVCTrainer`` (fine-grained fine-tuning). Like Detectron2's
``DefaultTrainer``, a subclass overrides only the ``build_*`` seams that differ; the epoch
arithmetic, the sampler, devices, AMP, DistributedDataParallel, the checks of every loss
term, checkpoints, resume, evaluation and the writers are shared.
"""

import logging
import os
import weakref
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from detectron2.engine import AMPTrainer, HookBase, SimpleTrainer, TrainerBase, create_ddp_model, hooks
from detectron2.engine.defaults import default_writers
from detectron2.utils import comm
from fvcore.common.config import CfgNode
from torch import nn
from torch.utils.data import DataLoader

from ..checkpoint import find_resume_checkpoint, load_file, resume_candidates
from ..config.checks import ENGINE_RULES, check_batch_split, check_values
from ..data import ClassificationDataset, EpochBatchSampler, build_test_loader, build_train_loader, shard_indices
from ..data.worker_failure import is_loader_failure
from ..registry import HOOK_REGISTRY
from ..utils.device import resolve_device
from ..utils.errors import UserError, first_line
from ..utils.io import atomic_write_json, atomic_write_text, check_writable_folder
from ..utils.provenance import collect_provenance
from .checkpointer import AtomicCheckpointer, EpochCheckpointer, check_same_run
from .evaluation import classification_accuracy
from .user_errors import quiet_user_errors_in_training_loop

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
CONFIG_FILE = "config.yaml"


class NonFiniteLossError(FloatingPointError):
    """A loss term is NaN or infinite; raised before the optimizer step, so the weights are the last good ones."""

    def __init__(self, iteration: int, losses: Mapping[str, float]) -> None:
        terms = ", ".join(f"{name}={value:.4g}" for name, value in losses.items())
        super().__init__(f"loss is not finite at iteration {iteration}: {terms}")


class FiniteLosses(nn.Module):
    """The model as Detectron2's trainer calls it: the same loss dict, every term checked.

    Detectron2 checks only the sum, only on rank 0, after the backward pass, in a private method
    it may run in a thread pool (``async_write_metrics``). Here each term is checked in the
    forward pass, on every rank, so ``NonFiniteLossError`` (naming the iteration and each term)
    is raised before ``optimizer.step()``.

    Args:
        model: ``forward(batch)`` returns a dict of scalar losses; the batch is the engine's
            ``(images, labels, indices, iterations)`` (``build_train_loader``), which names its iteration.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        losses = self.model(batch)
        values = torch.stack([loss.detach().float() for loss in losses.values()])
        if not bool(torch.isfinite(values).all()):  # one synchronisation, whatever the number of terms
            raise NonFiniteLossError(int(batch[3][0]), dict(zip(losses, values.tolist())))
        return losses


@dataclass(frozen=True)
class Plan:
    """What a run is made of before any network: its datasets and its completed, frozen config."""

    cfg: CfgNode
    train_set: ClassificationDataset
    test_set: Optional[ClassificationDataset]


class EpochTrainer(TrainerBase):
    """Trains a classifier-with-losses from a config, in epochs; see the module docstring.

    One iteration is one global batch (``SOLVER.IMS_PER_BATCH`` over all processes);
    ``iters_per_epoch`` = training images // global batch (the rest of an epoch is dropped).
    Data order and augmentation are functions of (seed, epoch, image index), so a resumed run
    sees exactly the images an uninterrupted one would.

    The constructor starts from ``plan(cfg)``, as the pre-flight ``check_inputs`` does, and
    records the completed config in ``OUTPUT_DIR/config.yaml``: the file holds the config the
    run trains with, every value that follows from the data included.

    Seams (override in a subclass): ``build_datasets``, ``complete_config``, ``num_epochs``,
    ``build_model`` (a module whose ``forward(batch)`` returns a dict of losses and whose
    ``backbone`` is the network checkpointed and, unless ``evaluated_network`` says otherwise,
    evaluated), ``build_optimizer``,
    ``build_lr_hook``, ``build_transforms``, ``build_hooks``, ``checkpointables``,
    ``evaluated_network``, ``checkpoint_metadata`` and ``check_model_inputs``.
    """

    def __init__(self, cfg) -> None:
        super().__init__()
        self.device = resolve_device(cfg.MODEL.DEVICE, comm.get_local_rank())
        world_size = comm.get_world_size()
        plan = self.plan(cfg, world_size)
        self.cfg = cfg = plan.cfg
        self.train_set, self.test_set = plan.train_set, plan.test_set
        self.record_config()
        self.sampler = EpochBatchSampler(
            len(self.train_set), cfg.SOLVER.IMS_PER_BATCH // world_size, world_size, comm.get_rank(), cfg.SEED
        )
        self.iters_per_epoch = self.sampler.iters_per_epoch
        self.max_iter = self.sampler.max_iter = self.num_epochs(cfg) * self.iters_per_epoch
        self.start_iter = 0
        # Times this run was resumed from a checkpoint: kept in the trainer's state, so in every checkpoint.
        self.resumptions = 0
        self.resumed = False
        logger.info(
            f"{cfg.DATASETS.TRAIN}: {len(self.train_set)} training images of {self.train_set.num_classes} classes, "
            f"{self.iters_per_epoch} iterations per epoch, {self.max_iter} in all"
        )
        self.amp = bool(cfg.SOLVER.AMP) and self.device.type == "cuda"
        self.model = self.build_model(cfg)
        if cfg.SOLVER.CHANNELS_LAST:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = self.build_optimizer(cfg, self.model)
        self.train_transform, self.test_transform = self.build_transforms(cfg)
        pin = self.device.type == "cuda"
        loader = build_train_loader(
            self.train_set, self.train_transform, self.sampler, cfg.SEED, cfg.DATALOADER.NUM_WORKERS, pin
        )
        self._trainer = (AMPTrainer if self.amp else SimpleTrainer)(FiniteLosses(self.model), loader, self.optimizer)
        self.checkpointer = AtomicCheckpointer(
            self.model.backbone,
            cfg.OUTPUT_DIR,
            metadata=self.checkpoint_metadata(cfg),
            save_to_disk=comm.is_main_process(),
            trainer=weakref.proxy(self),
            **self.checkpointables(),
        )
        self.results: Dict[str, Any] = {}
        self.register_hooks(self.build_hooks())
        self.wrap_model()

    # ---- the seams ---------------------------------------------------------------------------
    @classmethod
    def build_datasets(cls, cfg) -> Tuple[ClassificationDataset, Optional[ClassificationDataset]]:
        """(training set, test set or None)."""
        raise NotImplementedError

    @classmethod
    def complete_config(cls, cfg, train_set: ClassificationDataset):
        """The config with what follows from the data filled in (e.g. the number of classes);
        ``cfg`` itself is left as it is."""
        return cfg

    @classmethod
    def num_epochs(cls, cfg) -> int:
        raise NotImplementedError

    @classmethod
    def checkpoint_metadata(cls, cfg) -> Dict[str, Any]:
        """Entries of every checkpoint, compared on resume (``check_same_run``): ``"backbone"``, the record
        of the network checkpointed, and ``"resume_settings"``, flat config values a resume must keep."""
        return {"resume_settings": {}}

    @classmethod
    def check_model_inputs(cls, cfg) -> None:
        """Refuse, with one line, initial weights that cannot fit (before any process starts)."""

    @classmethod
    def check_values(cls, cfg, train_set: ClassificationDataset) -> None:
        """Refuse, with one line, values that cannot work (``ctc_plugin.config.checks``)."""
        check_values(cfg, ENGINE_RULES)

    def build_model(self, cfg) -> nn.Module:
        raise NotImplementedError

    def build_optimizer(self, cfg, model: nn.Module) -> torch.optim.Optimizer:
        raise NotImplementedError

    def build_lr_hook(self, cfg) -> HookBase:
        raise NotImplementedError

    def build_transforms(self, cfg) -> Tuple[Any, Any]:
        """(training transform, test transform) of a PIL image."""
        raise NotImplementedError

    def checkpointables(self) -> Dict[str, Any]:
        """Objects saved beside the network, each with ``state_dict`` / ``load_state_dict``."""
        return {}

    def evaluated_network(self) -> nn.Module:
        """What ``evaluate`` classifies the test images with (images -> logits): the model's ``backbone``."""
        return self.model.backbone

    def build_hooks(self) -> List[HookBase]:
        cfg, per_epoch = self.cfg, self.iters_per_epoch
        solver = cfg.SOLVER
        self.periodic_checkpointer = EpochCheckpointer(
            self.checkpointer,
            solver.CHECKPOINT_PERIOD_EPOCHS,
            per_epoch,
            solver.MAX_CHECKPOINTS,
            period_iters=solver.CHECKPOINT_PERIOD_ITERS,
        )
        built = [hooks.IterationTimer(), self.build_lr_hook(cfg), self.periodic_checkpointer]
        if self.test_set is not None:
            built.append(hooks.EvalHook(cfg.TEST.EVAL_PERIOD_EPOCHS * per_epoch, self.evaluate))
        built += [HOOK_REGISTRY.get(name)(cfg, self) for name in cfg.TRAINER.EXTRA_HOOKS]
        if comm.is_main_process():  # writers last: they see this iteration's evaluation
            period = max(1, min(cfg.TRAINER.LOG_PERIOD, per_epoch))
            built.append(hooks.PeriodicWriter(default_writers(cfg.OUTPUT_DIR, self.max_iter), period=period))
        return built

    # ---- the plan, and what is checked before any process starts ----------------------------
    @classmethod
    def plan(cls, cfg, world_size: int = 1) -> Plan:
        """The datasets and the completed, frozen config, checked: the one path by which both the
        pre-flight (``check_inputs``) and the constructor reach what the run trains with.

        Raises:
            UserError: a dataset that cannot be read, values that cannot work, a batch that does
                not split over ``world_size`` processes or fill once, unknown extra hooks.
        """
        train_set, test_set = cls.build_datasets(cfg)
        cfg = cls.complete_config(cfg, train_set).clone()
        cfg.freeze()
        cls.check_values(cfg, train_set)
        check_batch_split(cfg, world_size)
        if cfg.SOLVER.IMS_PER_BATCH > len(train_set):
            raise UserError(
                f"{len(train_set)} training images cannot fill one batch of "
                f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH}"
            )
        unknown = [name for name in cfg.TRAINER.EXTRA_HOOKS if name not in HOOK_REGISTRY]
        if unknown:
            known = ", ".join(sorted(name for name, _ in HOOK_REGISTRY)) or "none"
            raise UserError(f"TRAINER.EXTRA_HOOKS: {', '.join(unknown)} not in HOOK_REGISTRY (registered: {known})")
        return Plan(cfg, train_set, test_set)

    @classmethod
    def check_inputs(cls, cfg, resume: bool = False, world_size: int = 1) -> Plan:
        """Refuse bad input up front, naming it: OUTPUT_DIR, then the ``plan`` (the datasets, values
        that cannot work, the batch, the extra hooks), the initial weights and, with ``resume``,
        the checkpoint resume would take. Returns the plan.

        Raises:
            UserError: naming the problem; nothing has been written.
        """
        check_writable_folder(cfg.OUTPUT_DIR)
        plan = cls.plan(cfg, world_size)
        cls.check_model_inputs(plan.cfg)
        path = find_resume_checkpoint(cfg.OUTPUT_DIR) if resume else None
        if path is not None:
            saved = load_file(path, mmap=True)
            check_same_run(path, saved, cls.checkpoint_metadata(plan.cfg))
        return plan

    def record_config(self) -> None:
        """Write the completed config to ``OUTPUT_DIR/config.yaml`` (the first process only)."""
        if comm.is_main_process():
            atomic_write_text(os.path.join(self.cfg.OUTPUT_DIR, CONFIG_FILE), self.cfg.dump())

    # ---- what the hooks call -----------------------------------------------------------------
    def wrap_model(self) -> None:
        """(Re)build DistributedDataParallel over the parameters that currently require grad."""
        if comm.get_world_size() == 1:
            return
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        self._trainer.model = FiniteLosses(create_ddp_model(self.model, device_ids=device_ids))

    def test_loader(
        self, dataset: ClassificationDataset, pad: bool = False, transform=None, stream: int = 0
    ) -> DataLoader:
        """This process's share of ``dataset``, in order, with the test transform (or ``transform``).

        ``pad``: the same number of batches on every rank. ``stream``: the random stream of a
        random ``transform`` (with the run's seed; see ``IndexedSamples``).
        """
        shard = shard_indices(len(dataset), comm.get_rank(), comm.get_world_size(), pad=pad)
        transform = transform or self.test_transform
        workers, pin = self.cfg.DATALOADER.NUM_WORKERS, self.device.type == "cuda"
        return build_test_loader(
            dataset, transform, self.cfg.TEST.IMS_PER_BATCH, workers, shard, pin, seed=self.cfg.SEED, stream=stream
        )

    def evaluate(self) -> Dict[str, float]:
        """Top-1/top-5 on the test set over all processes; kept for ``results.json``."""
        results = classification_accuracy(
            self.evaluated_network(), self.test_loader(self.test_set), self.device, amp=self.amp
        )
        epoch = self.completed_iterations // self.iters_per_epoch
        logger.info(f"Epoch {epoch}: test top-1 {results['top1']:.2f}%, top-5 {results['top5']:.2f}%")
        self.results = {**results, "epoch": epoch}
        return {f"test/{name}": value for name, value in self.results.items()}

    @property
    def completed_iterations(self) -> int:
        """Iterations done: during a step the current one counts; after training ``iter`` is ``max_iter``."""
        return min(self.iter + 1, self.max_iter)

    # ---- running -----------------------------------------------------------------------------
    def resume_or_load(self, resume: bool = True) -> None:
        """With ``resume``, continue from OUTPUT_DIR's newest complete checkpoint, if any."""
        if resume and self.checkpointer.has_checkpoint():
            path = self.checkpointer.get_checkpoint_file()
            try:
                self.checkpointer.load(path)
            except (RuntimeError, KeyError, ValueError) as e:
                raise UserError(f"cannot resume from {path}: {first_line(e)}") from None
            self.start_iter = self.iter + 1
            self.resumptions += 1  # the checkpoint's count (0 in one written before the count) and this one
            self.resumed = True
            logger.info(f"Resuming from {path} at iteration {self.start_iter}")
            self.wrap_model()  # the method's state may have changed what requires grad
        self.sampler.start_iter = self.start_iter

    def train(self) -> Dict[str, Any]:
        """Train to the last iteration, then write ``results.json``; returns the last evaluation."""
        self.train_loop(self.start_iter, self.max_iter)
        self.write_results()
        return self.results

    def test(self) -> Dict[str, Any]:
        """Evaluate the current weights and write ``results.json`` (``--eval-only``)."""
        self.evaluate()
        # Evaluating is no resumption of training: the count stays the evaluated checkpoint's.
        self.write_results(resumptions=self.resumptions - int(self.resumed))
        return self.results

    def write_results(self, resumptions: Optional[int] = None) -> None:
        """Write ``results.json``: the last evaluation, ``iterations``, ``train_images`` and ``provenance``
        (``ctc_plugin.utils.provenance``; ``resumptions`` defaults to this run's count)."""
        if comm.is_main_process():
            resumptions = self.resumptions if resumptions is None else resumptions
            results = {**self.results, "iterations": self.completed_iterations, "train_images": len(self.train_set)}
            results["provenance"] = collect_provenance(self.device, comm.get_world_size(), resumptions)
            atomic_write_json(os.path.join(self.cfg.OUTPUT_DIR, RESULTS_FILE), results)
        comm.synchronize()

    def train_loop(self, start_iter: int, max_iter: int) -> None:
        quiet_user_errors_in_training_loop()
        try:
            super().train(start_iter, max_iter)
        except (RuntimeError, ConnectionError, EOFError) as e:
            if not is_loader_failure(e):
                raise
            raise UserError(self._loader_failure(e)) from None

    def run_step(self) -> None:
        self._trainer.iter = self.iter
        try:
            self._trainer.run_step()
        except NonFiniteLossError as e:
            raise UserError(f"{e}; stopped before the update. {self._last_good_checkpoint()}") from None
        except (RuntimeError, ConnectionError, EOFError) as e:  # before TrainerBase logs it with a traceback
            if not is_loader_failure(e):
                raise
            raise UserError(self._loader_failure(e)) from None

    def _loader_failure(self, error: Exception) -> str:
        reason = first_line(error).rstrip(". ")
        if not isinstance(error, RuntimeError):  # the worker died while it handed a batch over
            reason = f"{type(error).__name__} while fetching a batch: {reason}"
        return f"a data loader worker died at iteration {self.iter} ({reason}). {self._last_good_checkpoint()}"

    def _last_good_checkpoint(self) -> str:
        saved = [p for p in resume_candidates(self.cfg.OUTPUT_DIR) if os.path.isfile(p)]
        if not saved:
            return "No checkpoint was written yet"
        return f"The last good checkpoint is {saved[0]} (--resume continues from it)"

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["_trainer"] = self._trainer.state_dict()
        state["resumptions"] = self.resumptions
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._trainer.load_state_dict(state_dict["_trainer"])
        self.resumptions = int(state_dict.get("resumptions", 0))  # a checkpoint from before the count: 0
