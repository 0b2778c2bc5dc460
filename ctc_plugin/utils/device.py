"""``MODEL.DEVICE``: one rule for every tool."""

import torch

from .errors import UserError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device of this process: "auto" is CUDA when available, else the CPU.

    Args:
        name: "auto", "cpu", "cuda" or "cuda:N".
        local_rank: this process's rank on its machine; a plain "cuda" takes that GPU.

    Raises:
        UserError: CUDA is asked for and not available, or the name is none of the above.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"MODEL.DEVICE is {name} but CUDA is not available; use MODEL.DEVICE cpu or auto")
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    if name != "cpu":
        raise UserError(f"MODEL.DEVICE must be auto, cpu, cuda or cuda:N, got {name!r}")
    return torch.device("cpu")
