"""The temporal-transfer hook: the paper's linear probe on a target dataset during pretraining.

The analyses' one module that bridges to Detectron2's engine; importing ``ctc_plugin``
registers it in ``HOOK_REGISTRY`` when Detectron2 is installed.

Every ``TEMPORAL_TRANSFER.PERIOD_EPOCHS`` epochs (and after the last iteration) the current
backbone is probed on the target under ``TEMPORAL_TRANSFER.PROTOCOL`` by the tool's own
``TransferProbe`` (``probe.py``): "appendix" extracts the features of the target's images once
(eval mode, no_grad, modes restored; the images normalised as the network was trained) and
trains ``TEMPORAL_TRANSFER.DRAWS`` linear classifiers on them with the appendix's schedule;
"release" runs the authors' transfer.py on a copy of the network, once per draw. The images and
every draw's seeds come from the probe seed ``TEMPORAL_TRANSFER.SEED``, not the run's ``SEED``.
The draws' mean top-1 goes to the metrics as ``temporal_transfer/top1`` (percent). This is
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
from .linear_probe import ProbeSchedule
from .probe import TransferProbe, build_transfer_probe
from .release_probe import ReleaseProbe
from .targets import PROTOCOLS, probe_transform, protocol_target, resolve_target

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
        self.transfer_probe: Optional[TransferProbe] = None  # on the main process only
        self._transform = None
        if self.period > 0 and comm.is_main_process():
            # Resolve the target now: a missing dataset fails before training starts.
            target = protocol_target(resolve_target(node.DATASET, node.ROOT, node.CLASSES, cfg), self.protocol)
            settings = ReleaseProbe() if self.protocol == "release" else ProbeSchedule.from_config(node)
            self.transfer_probe = build_transfer_probe(
                target,
                settings,
                seed=int(node.SEED),
                draws=int(node.DRAWS),
                max_train=int(node.MAX_TRAIN_SAMPLES),
                max_test=int(node.MAX_TEST_SAMPLES),
                feature_batch_size=int(node.FEATURE_BATCH_SIZE),
                num_workers=int(cfg.DATALOADER.NUM_WORKERS),
            )
            samples = self.transfer_probe.samples
            self._transform, size = probe_transform(target, samples.train, self.protocol, cfg, int(node.IMAGE_SIZE))
            logger.info(
                f"Temporal transfer every {node.PERIOD_EPOCHS} epoch(s) on {target.description} ({self.protocol} "
                f"protocol): {len(samples.draws)} draws of {samples.train_images} train / "
                f"{len(samples.test_images)} test images at {size}x{size}, probe seed {samples.seed}"
            )

    def after_step(self) -> None:
        if self.period <= 0:
            return
        next_iter = self.trainer.iter + 1
        if next_iter % self.period == 0 or next_iter == self.trainer.max_iter:
            self.probe(epoch=next_iter // self.trainer.iters_per_epoch)
            comm.synchronize()  # other processes wait here, not inside the next all-reduce

    def probe(self, epoch: int) -> Optional[float]:
        """Run the probe on the current backbone; returns the draws' mean top-1 in percent."""
        if self.transfer_probe is None:  # not the main process
            return None
        start = time.perf_counter()
        result = self.transfer_probe.measure(self.trainer.model.backbone, self._transform, name="temporal transfer")
        self.trainer.storage.put_scalar("temporal_transfer/top1", result.top1, smoothing_hint=False)
        draws = ", ".join(f"{value:.2f}" for value in result.top1_draws)
        logger.info(
            f"Epoch {epoch}: temporal transfer top-1 {result.top1:.2f}% (draws {draws}; "
            f"{time.perf_counter() - start:.1f} s)"
        )
        return result.top1
