"""Whether an error from the training loop means a data loader worker died.

torch reports a dead worker (killed, out of memory) as ``RuntimeError("DataLoader worker (pid ...)
...")``. A worker killed while it hands a batch's shared memory over (the file descriptor is
passed through ``multiprocessing``'s resource sharer) breaks that connection instead, and the
training process sees ``ConnectionResetError`` or ``EOFError`` raised from the loader's
``__next__``.
"""

import os
import traceback

_LOADER_FILE = os.path.join("torch", "utils", "data", "dataloader.py")


def _raised_in_loader(error: BaseException) -> bool:
    return any(frame.filename.endswith(_LOADER_FILE) for frame in traceback.extract_tb(error.__traceback__))


def is_loader_failure(error: BaseException) -> bool:
    """True for torch's dead-worker error, and for a broken connection raised while fetching a batch."""
    if isinstance(error, RuntimeError):
        return str(error).startswith("DataLoader worker")
    return isinstance(error, (ConnectionError, EOFError)) and _raised_in_loader(error)
