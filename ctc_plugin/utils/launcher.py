"""Processes started by a cluster launcher (``torchrun``, ``srun``): who they are, read from the environment.

Detectron2's ``launch`` starts one process per GPU itself; under ``torchrun`` or ``srun`` the
processes already exist, one per GPU, and each only has to join the process group they
describe in their environment (``ctc_plugin.engine.launch.join_process_group``). Reading who
they are needs nothing but the environment, so every tool can tell before it imports Detectron2.
"""

import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional

from .errors import UserError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
SLURM_VARIABLES = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")


@dataclass(frozen=True)
class LaunchedProcess:
    """This process's place in a job that a launcher started."""

    launcher: str  # "torchrun" or "srun"
    rank: int
    world_size: int
    local_rank: int
    local_size: int
    init_method: str  # "env://" or "tcp://HOST:PORT"


def _int(environ: Mapping[str, str], name: str) -> int:
    try:
        return int(environ[name])
    except ValueError:
        raise UserError(f"environment variable {name}={environ[name]!r} is not an integer") from None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM host list: "gpu[003-004,010]-ib,cpu1" -> "gpu003-ib"."""
    match = re.match(r"^([^,\[]*)(?:\[([^\]]*)\]([^,]*))?", nodelist.strip())
    prefix, ranges, suffix = match.group(1), match.group(2), match.group(3) or ""
    if ranges is None:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0] + suffix


def _tasks_per_node(text: str) -> list:
    """SLURM's "2(x3),1" -> [2, 2, 2, 1]."""
    counts = []
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:\(x(\d+)\))?", part.strip())
        if not match:
            raise UserError(f"cannot read the tasks per node {text!r}")
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def _slurm_local_size(environ: Mapping[str, str], world_size: int) -> int:
    for name in ("SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE", "SLURM_NTASKS_PER_NODE"):
        if environ.get(name):
            counts = set(_tasks_per_node(environ[name]))
            if len(counts) > 1:
                raise UserError(f"{name}={environ[name]}: every node must run the same number of tasks")
            return counts.pop()
    nodes = _int(environ, "SLURM_NNODES") if environ.get("SLURM_NNODES") else 1
    return world_size // nodes if world_size % nodes == 0 else world_size


def detect_launcher(environ: Mapping[str, str] = os.environ) -> Optional[LaunchedProcess]:
    """This process's place when ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) or ``srun``
    with several tasks (``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``) started it; None
    otherwise. torchrun's variables win when both are set (torchrun inside an srun step).

    Under srun the group meets at ``MASTER_ADDR`` (default: the first host of
    ``SLURM_JOB_NODELIST``) and ``MASTER_PORT`` (default: 15000 + the job id modulo 20000).

    Raises:
        UserError: variables that contradict each other or cannot be read.
    """
    if all(name in environ for name in TORCHRUN_VARIABLES):
        world_size = _int(environ, "WORLD_SIZE")
        local_size = _int(environ, "LOCAL_WORLD_SIZE") if environ.get("LOCAL_WORLD_SIZE") else world_size
        process = LaunchedProcess(
            "torchrun", _int(environ, "RANK"), world_size, _int(environ, "LOCAL_RANK"), local_size, "env://"
        )
    elif all(name in environ for name in SLURM_VARIABLES):
        world_size = _int(environ, "SLURM_STEP_NUM_TASKS" if "SLURM_STEP_NUM_TASKS" in environ else "SLURM_NTASKS")
        if world_size < 2:
            return None  # one task: it may start its own processes (--num-gpus)
        host = environ.get("MASTER_ADDR") or first_host(
            environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_NODELIST", "")
        )
        if not host:
            raise UserError("srun started this process but neither MASTER_ADDR nor SLURM_JOB_NODELIST is set")
        if environ.get("MASTER_PORT"):
            port = _int(environ, "MASTER_PORT")
        elif environ.get("SLURM_JOB_ID"):
            port = 15000 + _int(environ, "SLURM_JOB_ID") % 20000
        else:
            raise UserError("srun started this process but neither MASTER_PORT nor SLURM_JOB_ID is set")
        local_size = _slurm_local_size(environ, world_size)
        process = LaunchedProcess(
            "srun", _int(environ, "SLURM_PROCID"), world_size, _int(environ, "SLURM_LOCALID"), local_size,
            f"tcp://{host}:{port}",
        )  # fmt: skip
    else:
        return None
    if not (0 <= process.rank < process.world_size and 0 <= process.local_rank < process.local_size):
        raise UserError(
            f"{process.launcher}: rank {process.rank} of {process.world_size}, local rank {process.local_rank} "
            f"of {process.local_size} cannot all hold"
        )
    if process.world_size % process.local_size:
        raise UserError(
            f"{process.launcher}: {process.world_size} processes do not split into machines of {process.local_size}"
        )
    return process
