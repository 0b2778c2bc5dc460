"""Which checkpoint a resumed run continues from: the newest complete one."""

import glob
import logging
import os
from typing import List, Optional

from .errors import UserError
from .io import describe_load_error, load_checkpoint

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

