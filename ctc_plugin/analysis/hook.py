"""The temporal-transfer hook: the paper's linear probe on a target dataset during pretraining.

The analyses' one module that bridges to Detectron2's engine; importing ``ctc_plugin``
registers it in ``HOOK_REGISTRY`` when Detectron2 is installed.

Every ``TEMPORAL_TRANSFER.PERIOD_EPOCHS`` epochs (and after the last iteration) the current
backbone is probed on the target under ``TEMPORAL_TRANSFER.PROTOCOL``: "appendix" extracts the
features of the target's train and test images (eval mode, no_grad, modes restored; the images
normalised as the network was trained) and trains a linear classifier on them with the
appendix's schedule; "release" runs the authors' transfer.py on a copy of the network. The
top-1 accuracy goes to the metrics as ``temporal_transfer/top1`` (percent). This is
``ctc-temporal-transfer`` measured live, without keeping every checkpoint.

Enable with ``TRAINER.EXTRA_HOOKS: ["TemporalTransferHook"]`` and
``TEMPORAL_TRANSFER.PERIOD_EPOCHS: k``.
"""

import logging
import time
from typing import Optional

from detectron2.engine import HookBase
from detectron2.utils import comm

from ..registry import HOOK_REGISTRY
from ..utils.errors import UserError
from . import config as _config  # noqa: F401  (registers TEMPORAL_TRANSFER's keys)
from .linear_probe import ProbeSchedule, extract_features, probe_accuracy
from .release_probe import ReleaseProbe, release_probe_accuracy
from .targets import PROTOCOLS, build_target_splits, probe_transform, protocol_target, resolve_target

logger = logging.getLogger(__name__)


@HOOK_REGISTRY.register()
class TemporalTransferHook(HookBase):
    """Probe transferability every ``PERIOD_EPOCHS`` epochs; see the module docstring."""

    def __init__(self, cfg, trainer) -> None:
        node = cfg.TEMPORAL_TRANSFER
        self.period = int(node.PERIOD_EPOCHS) * trainer.iters_per_epoch
        self.protocol = node.PROTOCOL
        if self.protocol not in PROTOCOLS:
            raise UserError(f"TEMPORAL_TRANSFER.PROTOCOL must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        self.schedule = ProbeSchedule.from_config(node)
        self.release = ReleaseProbe(seed=int(node.SEED))
        self.feature_batch_size = int(node.FEATURE_BATCH_SIZE)
        self.num_workers = int(cfg.DATALOADER.NUM_WORKERS)
        self._splits = None
        self._transform = None
        if self.period > 0 and comm.is_main_process():
            # Resolve the target now: a missing dataset fails before training starts.
            target = protocol_target(resolve_target(node.DATASET, node.ROOT, node.CLASSES, cfg), self.protocol)
            train, test = build_target_splits(
                target, int(node.MAX_TRAIN_SAMPLES), int(node.MAX_TEST_SAMPLES), int(node.SEED)
            )
            self._splits = (train, test)
            self._transform, size = probe_transform(target, train, self.protocol, cfg, int(node.IMAGE_SIZE))
            logger.info(
                f"Temporal transfer every {node.PERIOD_EPOCHS} epoch(s) on {target.description} ({self.protocol} "
                f"protocol): {len(train)} train / {len(test)} test images at {size}x{size}"
            )

    def after_step(self) -> None:
        if self.period <= 0:
            return
        next_iter = self.trainer.iter + 1
        if next_iter % self.period == 0 or next_iter == self.trainer.max_iter:
            self.probe(epoch=next_iter // self.trainer.iters_per_epoch)
            comm.synchronize()  # other processes wait here, not inside the next all-reduce

    def probe(self, epoch: int) -> Optional[float]:
        """Run the probe on the current backbone; returns the top-1 accuracy in percent."""
        if self._splits is None:  # not the main process
            return None
        start = time.perf_counter()
        backbone = self.trainer.model.backbone
        device = str(next(backbone.parameters()).device)
        if self.protocol == "release":
            top1 = 100.0 * release_probe_accuracy(
                backbone, *self._splits, self._transform, self._splits[0].num_classes, self.release, device=device
            )
            return self._record(epoch, top1, start)
        train, test = (
            extract_features(
                backbone,
                split,
                self._transform,
                batch_size=self.feature_batch_size,
                num_workers=self.num_workers,
                desc=f"temporal transfer {name} features",
            )
            for name, split in zip(("train", "test"), self._splits)
        )
        top1 = 100.0 * probe_accuracy(train, test, self._splits[0].num_classes, self.schedule, device=device)
        return self._record(epoch, top1, start)

    def _record(self, epoch: int, top1: float, start: float) -> float:
        self.trainer.storage.put_scalar("temporal_transfer/top1", top1, smoothing_hint=False)
        logger.info(f"Epoch {epoch}: temporal transfer top-1 {top1:.2f}% ({time.perf_counter() - start:.1f} s)")
        return top1
