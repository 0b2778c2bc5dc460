"""Joining the process group of a cluster launcher (``torchrun``, ``srun``), as Detectron2's own workers do.

Who this process is comes from ``ctc_plugin.utils.launcher.detect_launcher``.
"""

import datetime
import logging

import torch
import torch.distributed as dist
from detectron2.utils import comm

from ..utils.errors import UserError
from ..utils.launcher import LaunchedProcess

logger = logging.getLogger(__name__)


def join_process_group(process: LaunchedProcess, timeout: datetime.timedelta) -> None:
    """Join the launcher's process group (NCCL with GPUs, else gloo) and Detectron2's local group.

    Raises:
        UserError: the group did not form within ``timeout``.
    """
    if torch.cuda.is_available():
        if process.local_rank >= torch.cuda.device_count():
            raise UserError(
                f"{process.launcher}: local rank {process.local_rank} but {torch.cuda.device_count()} GPUs visible"
            )
        torch.cuda.set_device(process.local_rank)
    logger.info(f"Joining {process.launcher}'s process group: rank {process.rank} of {process.world_size}")
    try:
        dist.init_process_group(
            backend="nccl" if torch.cuda.is_available() else "gloo",
            init_method=process.init_method,
            world_size=process.world_size,
            rank=process.rank,
            timeout=timeout,
        )
    except (RuntimeError, ValueError) as e:  # a store that never saw every process
        raise UserError(
            f"{process.launcher}: the {process.world_size} processes did not meet at {process.init_method} "
            f"({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})"
        ) from None
    comm.create_local_process_group(process.local_size)
    comm.synchronize()
