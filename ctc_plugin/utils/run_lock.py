"""One run per output folder: ``OUTPUT_DIR/.lock``, held while a tool trains there.

The lock is a file created atomically (``O_CREAT | O_EXCL``, atomic on local and shared
filesystems alike) that names its holder as JSON: host, process id and start time. A holder
that is gone does not keep it:

- on the same host, a holder whose process no longer exists has left it;
- the holder refreshes the file's modification time every ``HEARTBEAT_S`` seconds, and a
  lock not refreshed for ``STALE_AFTER_S`` seconds is stale: a job killed on another node
  (whose process cannot be seen from here) frees its folder then.

A stale lock is replaced; a live one refuses the second run with one line naming its holder.
"""

import datetime
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Dict, Optional

from .errors import UserError

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"
HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class RunLock:
    """``OUTPUT_DIR/.lock`` for as long as a run trains in ``folder`` (a context manager).

    Args:
        folder: the run's output folder (created when missing).
        heartbeat_s: seconds between refreshes of the file's modification time.
        stale_after_s: a lock of another host not refreshed for this long is stale.
    """

    def __init__(self, folder: str, heartbeat_s: float = HEARTBEAT_S, stale_after_s: float = STALE_AFTER_S) -> None:
        self.folder = os.path.abspath(folder or ".")
        self.path = os.path.join(self.folder, LOCK_FILE)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.holder: Dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def acquire(self) -> None:
        """Take the lock, replacing a stale one.

        Raises:
            UserError: another live run holds the folder (the line names it), or the lock cannot be written.
        """
        os.makedirs(self.folder, exist_ok=True)
        for _ in range(2):
            if self._create():
                self._start_heartbeat()
                return
            held = self._read()
            reason = self._stale(held)
            if reason is None:
                raise UserError(f"OUTPUT_DIR {self.folder} is in use by another run: {self._describe(held)}")
            logger.warning(f"Replacing the stale lock {self.path} ({reason})")
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        raise UserError(f"OUTPUT_DIR {self.folder} is in use by another run: {self._describe(self._read())}")

    def release(self) -> None:
        """Stop the heartbeat and remove the lock, if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.holder and self._read() == self.holder:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self.holder = {}

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _create(self) -> bool:
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise UserError(f"cannot create the lock {self.path}: {e.strerror or e}") from None
        with os.fdopen(descriptor, "w") as f:
            json.dump(holder, f)
        self.holder = holder
        return True

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            with open(self.path) as f:
                held = json.load(f)
        except (OSError, ValueError):
            return None
        return held if isinstance(held, dict) else None

    def _stale(self, held: Optional[Dict[str, Any]]) -> Optional[str]:
        """Why the lock no longer holds (None: it holds)."""
        try:
            age = time.time() - os.path.getmtime(self.path)
        except FileNotFoundError:
            return "it was removed"
        if held is not None and held.get("host") == socket.gethostname() and isinstance(held.get("pid"), int):
            if not _process_exists(held["pid"]):
                return f"process {held['pid']} on this host is gone"
        if age > self.stale_after_s:  # another host's holder, or a reused process id
            return f"not refreshed for {age:.0f} s"
        return None

    def _describe(self, held: Optional[Dict[str, Any]]) -> str:
        if held is None:
            return f"the lock {self.path} cannot be read (stale after {self.stale_after_s:.0f} s without a refresh)"
        return (
            f"process {held.get('pid')} on {held.get('host')}, started {held.get('started')} "
            f"(lock {self.path}; stale after {self.stale_after_s:.0f} s without a refresh or when that process is gone)"
        )

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except OSError as e:
                logger.warning(f"cannot refresh the lock {self.path}: {e}")
