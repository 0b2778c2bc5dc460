"""One checkpointer for every trainer: atomic files, the newest readable one on resume, exact RNG.

A checkpoint holds ``"model"`` (the network's own state_dict, e.g. torchvision's keys), its
``"backbone"`` record (the one description of the network: every reader rebuilds it from the record,
and resume compares records), the ``"resume_settings"`` a resume must keep, ``"epoch"``,
``"iteration"``, the trainer's and the method's state, and the RNG state. It contains only
tensors and plain containers, so it loads with ``weights_only=True``.
"""

import glob
import os
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from detectron2.engine import hooks
from fvcore.common.checkpoint import Checkpointer

from ..backbones.records import network_differences, network_keys
from ..checkpoint import FINAL_CHECKPOINT, LAST_CHECKPOINT, find_resume_checkpoint, load_file, resume_candidates
from ..utils.errors import UserError, first_line
from ..utils.io import atomic_torch_save, atomic_write_text


class AtomicCheckpointMixin:
    """For fvcore ``Checkpointer`` subclasses: atomic files, and resume from the newest complete one.

    Every checkpoint and ``last_checkpoint`` is written to a temporary name and renamed;
    ``has_checkpoint`` / ``get_checkpoint_file`` use ``find_resume_checkpoint``. Subclasses
    add entries to every file through ``extra_state()``.
    """

    def extra_state(self) -> Dict[str, Any]:
        return {}

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict(), **self.extra_state()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {save_file}")
        try:
            atomic_torch_save(data, save_file)
            self.tag_last_checkpoint(basename)
        except OSError as e:  # a full disk, a file-size limit, a lost mount: nothing half-written stays
            previous = find_resume_checkpoint(self.save_dir)
            kept = f"the newest complete checkpoint, {previous}, is intact" if previous else "no checkpoint was written"
            raise UserError(f"cannot write checkpoint {save_file}: {e.strerror or first_line(e)}; {kept}") from None

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        atomic_write_text(os.path.join(self.save_dir, LAST_CHECKPOINT), last_filename_basename)

    def has_checkpoint(self) -> bool:
        return bool(self.save_dir) and any(os.path.isfile(p) for p in resume_candidates(self.save_dir))

    def get_checkpoint_file(self) -> str:
        return find_resume_checkpoint(self.save_dir) or ""


def check_same_run(path: str, saved: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Raise ``UserError`` when the checkpoint ``saved`` (read from ``path``) is not of the run ``expected`` describes.

    Two entries are compared: ``"backbone"``, the network's record (``network_differences``), and
    ``"resume_settings"``, config values besides the network that a resume must keep (e.g.
    ``CTC.CLASSIFIER_HEAD``, whose state resumes with the backbone). A checkpoint written before
    records replaced the flat ``"network"`` entry is compared by the keys that entry holds.
    """
    legacy = saved.get("network") if isinstance(saved.get("network"), Mapping) else {}
    record = expected.get("backbone")
    if isinstance(saved.get("backbone"), Mapping) and record is not None:
        differ = network_differences(saved["backbone"], record)
    elif legacy and record is not None:
        own = network_keys(record)
        differ = {k: (v, own[k]) for k, v in legacy.items() if k in own and own[k] != v}
    else:
        differ = {}
    if differ:
        raise UserError(f"cannot resume from {path}: it holds a network with {_both(differ)}")
    if "resume_settings" in saved:
        settings = saved["resume_settings"]
    else:
        settings = {k: v for k, v in legacy.items() if not k.startswith("MODEL.")}
    wanted = expected.get("resume_settings", {})
    differ = {k: (settings.get(k), wanted.get(k)) for k in sorted(set(settings) | set(wanted))}
    differ = {k: pair for k, pair in differ.items() if pair[0] != pair[1]}
    if differ:
        raise UserError(f"cannot resume from {path}: it was trained with {_both(differ, 'sets')}")


def _both(differ: Mapping[str, Tuple[Any, Any]], verb: str = "builds") -> str:
    """'K=saved, ... but the config builds K=wanted, ...'."""
    found = ", ".join(f"{key}={old!r}" for key, (old, _) in differ.items())
    wanted = ", ".join(f"{key}={new!r}" for key, (_, new) in differ.items())
    return f"{found} but the config {verb} {wanted}"


class AtomicCheckpointer(AtomicCheckpointMixin, Checkpointer):
    """fvcore's ``Checkpointer`` for the epoch trainers.

    Args:
        model: the network saved under ``"model"`` and loaded strictly.
        save_dir: the run's folder.
        metadata: entries written into every checkpoint (``"backbone"`` and ``"resume_settings"``,
            checked on load by ``check_same_run``).
        save_to_disk: False on every process but the first.
        checkpointables: objects with ``state_dict`` / ``load_state_dict`` saved under their name.
    """

    def __init__(
        self, model, save_dir: str, *, metadata: Mapping[str, Any], save_to_disk: bool = True, **checkpointables
    ):
        super().__init__(model, save_dir, save_to_disk=save_to_disk, **checkpointables)
        self.metadata = dict(metadata)

    def extra_state(self) -> Dict[str, Any]:
        # The global RNG: nothing of ours draws from it, but a user's hook or network may.
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {**self.metadata, "rng": rng}

    def _load_file(self, f: str) -> Dict[str, Any]:
        checkpoint = load_file(f)
        if not isinstance(checkpoint, dict) or "model" not in checkpoint:
            raise UserError(f"cannot resume from {f}: it is not a checkpoint of this trainer (no 'model')")
        check_same_run(f, checkpoint, self.metadata)
        return checkpoint

    def _load_model(self, checkpoint: Any):
        # Resume feeds the exact same network back: anything but a perfect match is an error.
        self.model.load_state_dict(checkpoint.pop("model"), strict=True)
        return None

    def load(self, path: str, checkpointables=None) -> Dict[str, Any]:
        checkpoint = super().load(path, checkpointables)
        rng = checkpoint.pop("rng", None)
        if rng is not None:
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
        return checkpoint


class IterationCheckpointer(hooks.PeriodicCheckpointer):
    """Detectron2's periodic checkpointer hook that also writes a checkpoint after any iteration on
    request (``save_iteration``): what a preemption saves, for every trainer.

    Every ``period`` iterations and after the last it writes Detectron2's files
    (``model_0004999.pth`` after iteration 4999, counted from 0, and ``model_final.pth``); it
    keeps them all (fvcore's ``max_to_keep`` is not used). ``EpochCheckpointer`` names the
    periodic files by epoch and the others by the iterations done.
    """

    def __init__(self, checkpointer, period: int, max_iter: Optional[int] = None) -> None:
        super().__init__(checkpointer, period, max_iter=max_iter)
        self._saved = (-1, "")  # (iteration, path) of the newest checkpoint written

    def step(self, iteration: int, **kwargs: Any) -> None:
        iteration = int(iteration)
        self.save_periodic(iteration)
        if self.max_iter is not None and iteration >= self.max_iter - 1:
            self._save(os.path.splitext(FINAL_CHECKPOINT)[0], iteration)

    def save_periodic(self, iteration: int) -> None:
        """What the schedule writes after ``iteration``."""
        if (iteration + 1) % self.period == 0:
            self.save_iteration(iteration)

    def iteration_name(self, iteration: int) -> str:
        """The name (without ``.pth``) of the checkpoint ``save_iteration`` writes after ``iteration``."""
        return f"{self.file_prefix}_{iteration:07d}"

    def save_iteration(self, iteration: int) -> str:
        """Write the checkpoint after ``iteration`` (atomically) and return its path; when this
        iteration's checkpoint is already written (a periodic or final one), return that one.
        Every process calls it; the checkpointer's first process writes."""
        if self._saved[0] != iteration:
            self._save(self.iteration_name(iteration), iteration)
        return self._saved[1]

    def state_at(self, iteration: int) -> Dict[str, Any]:
        """What every checkpoint holds beside the checkpointer's state."""
        return {"iteration": iteration}

    def _save(self, name: str, iteration: int) -> str:
        self.checkpointer.save(name, **self.state_at(iteration))
        self._saved = (iteration, os.path.join(self.checkpointer.save_dir, f"{name}.pth"))
        return self._saved[1]


class EpochCheckpointer(IterationCheckpointer):
    """The epoch trainers' periodic checkpointer, naming files by epoch: ``model_epoch_0007.pth``.

    Saves every ``period_epochs`` epochs and ``model_final.pth`` after the last step; with
    ``max_to_keep`` the oldest epoch files of this run are deleted. Mid-epoch it writes
    ``model_iter_0001234.pth`` (after 1234 iterations) every ``period_iters`` iterations and when
    a run is preempted (``save_iteration``): each replaces the previous one, and the next epoch
    checkpoint replaces them all, so they serve resume only.
    """

    def __init__(
        self, checkpointer, period_epochs: int, iters_per_epoch: int, max_to_keep: int = 0, period_iters: int = 0
    ) -> None:
        super().__init__(checkpointer, max(1, period_epochs) * iters_per_epoch)
        self.iters_per_epoch = iters_per_epoch
        self.max_to_keep = max_to_keep
        self.period_iters = period_iters

    def save_periodic(self, iteration: int) -> None:
        if (iteration + 1) % self.period == 0:
            name = f"{self.file_prefix}_epoch_{(iteration + 1) // self.iters_per_epoch:04d}"
            self._save(name, iteration)
            self._forget_iteration_checkpoints()
            if self.checkpointer.save_to_disk:
                self._forget_old(os.path.join(self.checkpointer.save_dir, f"{name}.pth"))
        elif self.period_iters and (iteration + 1) % self.period_iters == 0:
            self.save_iteration(iteration)

    def iteration_name(self, iteration: int) -> str:
        return f"{self.file_prefix}_iter_{iteration + 1:07d}"

    def save_iteration(self, iteration: int) -> str:
        """``model_iter_XXXXXXX.pth`` after ``iteration``; the previous one is dropped."""
        path = super().save_iteration(iteration)
        self._forget_iteration_checkpoints(keep=path)
        return path

    def state_at(self, iteration: int) -> Dict[str, Any]:
        return {"iteration": iteration, "epoch": (iteration + 1) // self.iters_per_epoch}

    def _forget_iteration_checkpoints(self, keep: str = "") -> None:
        if not self.checkpointer.save_to_disk:
            return
        for old in glob.glob(os.path.join(self.checkpointer.save_dir, f"{self.file_prefix}_iter_*.pth")):
            if old != keep:
                os.remove(old)

    def _forget_old(self, newest: str) -> None:
        if not self.max_to_keep:
            return
        self.recent_checkpoints.append(newest)
        while len(self.recent_checkpoints) > self.max_to_keep:
            old = self.recent_checkpoints.pop(0)
            if os.path.isfile(old) and old != newest:
                os.remove(old)
