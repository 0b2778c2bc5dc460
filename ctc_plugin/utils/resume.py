"""Which checkpoint a resumed run continues from: the newest complete one."""

import glob
import logging
import os
from typing import Any, Dict, List, Optional

from .errors import UserError
from .io import atomic_torch_save, atomic_write_text, describe_load_error, load_checkpoint

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last_checkpoint"


def checkpoint_candidates(save_dir: str) -> List[str]:
    """Checkpoints of ``save_dir`` to resume from, best first.

    The file ``last_checkpoint`` names comes first; then every ``*.pth`` (temporary files of
    an interrupted write start with "." and are never candidates), newest first.
    """
    found = sorted(glob.glob(os.path.join(save_dir, "*.pth")), key=lambda p: (os.path.getmtime(p), p), reverse=True)
    tag = os.path.join(save_dir, LAST_CHECKPOINT)
    named: Optional[str] = None
    if os.path.isfile(tag):
        with open(tag) as f:
            name = f.read().strip()
        named = os.path.join(save_dir, name) if name else None
    return ([named] if named else []) + [path for path in found if path != named]


def find_resume_checkpoint(save_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``save_dir``, or None when it holds none.

    ``last_checkpoint`` is trusted when the file it names loads; when it is missing, stale or
    names an unreadable file, the newest readable ``*.pth`` is taken instead (with a warning).

    Raises:
        UserError: there are checkpoints, but none of them can be read.
    """
    candidates = checkpoint_candidates(save_dir)
    problems = []
    for path in candidates:
        if not os.path.isfile(path):
            problems.append(f"{os.path.basename(path)}: missing")
            continue
        try:
            load_checkpoint(path, mmap=True)
        except Exception as e:  # truncated, corrupt, not ours
            problems.append(f"{os.path.basename(path)}: {describe_load_error(e)}")
            continue
        if problems:
            logger.warning(f"Skipped unreadable checkpoints ({'; '.join(problems)}); resuming from {path}")
        return path
    if problems and any(os.path.isfile(path) for path in candidates):
        raise UserError(f"cannot resume: no checkpoint in {save_dir} can be read ({'; '.join(problems)})")
    return None


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
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        atomic_write_text(os.path.join(self.save_dir, LAST_CHECKPOINT), last_filename_basename)

    def has_checkpoint(self) -> bool:
        return bool(self.save_dir) and any(os.path.isfile(p) for p in checkpoint_candidates(self.save_dir))

    def get_checkpoint_file(self) -> str:
        return find_resume_checkpoint(self.save_dir) or ""
