"""Atomic writes of checkpoints and result files, and the check that a folder can take them."""

import json
import os
import tempfile
from typing import IO, Any, Callable, Optional

import torch

from .errors import UserError


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it.

    A reader (or a job killed mid-write) sees either the old file or the whole new one.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


class _KeepWriteError:
    """A file whose failed write (a full disk, a file-size limit) is kept: torch's zip writer
    reports it only as "unexpected pos 704 vs 598"."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` through ``atomic_write``; a write that fails raises its ``OSError``."""

    def write(f: IO[bytes]) -> None:
        stream = _KeepWriteError(f)
        try:
            torch.save(obj, stream)
        except RuntimeError:
            if stream.error is None:
                raise
            raise stream.error from None

    atomic_write(path, write)


def atomic_write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def check_writable_folder(folder: str, what: str = "OUTPUT_DIR") -> None:
    """Raise ``UserError`` unless ``folder`` exists as a writable folder or can be created.

    Nothing is created: the nearest existing ancestor must be a folder this process may write in.
    """
    path = os.path.abspath(folder or ".")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{what} {folder} cannot be written: it is a file, not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UserError(f"{what} {folder} cannot be written: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder} cannot be written: permission denied on {existing}")
