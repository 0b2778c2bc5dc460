"""Where a run's numbers were computed: threads, library versions, device, processes, resumptions.

Two runs of one config on one machine give bitwise the same numbers; what can still change their
last bits is written beside the numbers (``results.json``'s ``provenance``): the thread counts,
the library versions, the device and the number of processes, and whether the run was stopped
and resumed from a checkpoint.
"""

import os
import platform
from importlib import metadata
from typing import Any, Dict, Optional, Union

import torch

__all__ = ["collect_provenance", "device_name", "package_version"]


def package_version(name: str) -> Optional[str]:
    """The installed version of distribution ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def device_name(device: Union[str, torch.device]) -> str:
    """The GPU's model for a CUDA device; the processor (or the machine type) otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def collect_provenance(device: Union[str, torch.device], world_size: int, resumptions: int) -> Dict[str, Any]:
    """What a run's results depend on beyond its config, as plain JSON values.

    Args:
        device: the device the run used (this process's).
        world_size: the number of processes of the run.
        resumptions: how many times the run was resumed from a checkpoint (0: never interrupted).

    Returns:
        ``torch_threads`` and ``torch_interop_threads`` (``torch.get_num_threads()`` and
        ``torch.get_num_interop_threads()``), ``omp_num_threads`` and ``mkl_num_threads`` (the
        environment's ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, None when unset), ``torch``,
        ``numpy`` and ``python`` (versions), ``device``, ``device_name``, ``world_size``, ``resumptions``.
    """
    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "mkl_num_threads": os.environ.get("MKL_NUM_THREADS"),
        "torch": str(torch.__version__),
        "numpy": package_version("numpy"),
        "python": platform.python_version(),
        "device": str(device),
        "device_name": device_name(device),
        "world_size": int(world_size),
        "resumptions": int(resumptions),
    }
