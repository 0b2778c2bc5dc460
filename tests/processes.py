"""Test helper: a tool killed with SIGKILL the moment a file of its appears."""

import signal
import subprocess
import time


def kill_when_written(command, path, cwd=None, timeout: float = 300) -> None:
    """Run ``command`` and SIGKILL it as soon as ``path`` exists (or it ends, or ``timeout`` passes)."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not path.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
