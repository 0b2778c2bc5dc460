"""SyncBN that still runs in a single process."""

import logging

from detectron2.utils import comm

logger = logging.getLogger(__name__)

SYNC_NORMS = ("SyncBN", "nnSyncBN", "naiveSyncBN", "naiveSyncBN_N")


def resolve_norm(norm: str, config_key: str, device: str = "cuda") -> str:
    """``norm``, with synchronised BN replaced where it cannot run.

    Synchronised BN needs a process group ("Default process group has not been
    initialized" otherwise). Over one process it computes the same as BN, so BN is an
    exact substitute there; the statistics are still those of that process's batch only.

    On several CPU processes (gloo), ``torch.nn.SyncBatchNorm`` refuses CPU tensors, so
    Detectron2's ``NaiveSyncBatchNorm`` (all-reduce of the moments) takes its place.

    Args:
        norm: a ``detectron2.layers.get_norm`` name.
        config_key: the key it came from, for the log line.
        device: ``MODEL.DEVICE``.
    """
    if norm in SYNC_NORMS and comm.get_world_size() == 1:
        logger.warning(
            f"{config_key} is {norm} but this is a single process: using BN instead (batch statistics of "
            f"this process's images only, exactly what {norm} computes over one process)"
        )
        return "BN"
    if norm in ("SyncBN", "nnSyncBN") and device.startswith("cpu"):
        logger.warning(f"{config_key} is {norm}, which torch runs on GPUs only: using naiveSyncBN on the CPU")
        return "naiveSyncBN"
    return norm
