"""Reading weight files of any origin, and the files a training run writes."""

from .files import (
    FINAL_CHECKPOINT,
    LAST_CHECKPOINT,
    Checkpoint,
    find_resume_checkpoint,
    intermediate_checkpoints,
    list_checkpoints,
    previous_run_files,
    resume_candidates,
)
from .weights import UnreadableFileError, find_state_dict, load_file, prefix_hint, read_state_dict, sub_networks

__all__ = [
    "FINAL_CHECKPOINT",
    "LAST_CHECKPOINT",
    "Checkpoint",
    "UnreadableFileError",
    "find_resume_checkpoint",
    "intermediate_checkpoints",
    "find_state_dict",
    "list_checkpoints",
    "load_file",
    "prefix_hint",
    "previous_run_files",
    "read_state_dict",
    "resume_candidates",
    "sub_networks",
]
