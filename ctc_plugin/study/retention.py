"""Which checkpoints a study keeps: every one (``PRETRAIN.KEEP_CHECKPOINTS all``), or only each arm's
final network once every step that reads its epoch checkpoints has finished (``final``).

A 40-epoch CTC run with a checkpoint every 3rd epoch writes about 1.3 GB (each checkpoint holds
the memories and the information bank); a study of 6 arms over 8 seeds would hold some 60 GB.
``model_final.pth`` is always kept.
"""

import logging
import os
from typing import Any, Iterable, Mapping, Sequence

from ..checkpoint import intermediate_checkpoints

logger = logging.getLogger(__name__)

# What a study may keep of its pretraining runs.
KEEP_CHOICES = ("all", "final")
# The tools that read a run's epoch checkpoints (the others read model_final.pth).
CHECKPOINT_READERS = ("temporal_transfer", "estimate_mi")


def prune_checkpoints(steps: Sequence[Any], finished: Iterable[str]) -> int:
    """Delete the intermediate checkpoints of every finished pretraining step whose readers all finished.

    Args:
        steps: the study's ``graph.Step``s (name, tool, output, needs); the graph's config imports
            this module's choices, so the type is not imported here.

    Returns:
        The bytes freed.
    """
    done = set(finished)
    freed = 0
    for step in steps:
        if step.tool != "pretrain" or not step.output or step.name not in done:
            continue
        readers = [s.name for s in steps if step.name in s.needs and s.tool in CHECKPOINT_READERS]
        if all(name in done for name in readers):
            for path in intermediate_checkpoints(step.output):
                freed += os.path.getsize(path)
                os.remove(path)
    if freed:
        logger.info("kept only the final networks of finished arms: %.1f GB freed", freed / 1e9)
    return freed


def finished_names(ledger: Iterable[Mapping]) -> set:
    return {step["name"] for step in ledger if step.get("finished", True)}
