"""Preemption signals, process-wide: which ones a training process watches, whether one arrived.

A scheduler asks a job to stop with a signal (SLURM and Kubernetes send SIGTERM; SLURM's
``--signal`` can send SIGUSR1 before the time limit), often to every process of the job at
once. The training process records it and stops at the end of its iteration; the helper
processes it forks (data loader workers) must not die of it first, or the iteration fails.
So while signals are watched, every fork blocks them in the child: the worker never receives
them and keeps serving batches until the training process shuts it down. Such a worker no
longer dies of the SIGTERM with which ``multiprocessing`` ends daemonic children at exit, so
at exit the training process kills the ones still alive (SIGKILL; they hold nothing to save).
"""

import atexit
import multiprocessing
import os
import signal
from typing import Dict, Optional, Sequence

from .errors import UserError

DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1")

_watched: Dict[int, str] = {}
_previous: Dict[int, object] = {}
_received: Optional[str] = None
_mask_before_fork: Optional[set] = None
_fork_hooks_registered = False
_forked_while_watching = False


def signal_numbers(names: Sequence[str]) -> Dict[int, str]:
    """{15: "SIGTERM", ...} of signal names ("SIGTERM", "TERM" or "15").

    Raises:
        UserError: a name that is not a signal this system can catch.
    """
    numbers = {}
    for name in names:
        name = name.strip().upper()
        if not name:
            continue
        try:
            full_name = name if name.startswith("SIG") else f"SIG{name}"
            number = int(name) if name.isdigit() else int(getattr(signal, full_name))
            label = signal.Signals(number).name
        except (AttributeError, ValueError):
            raise UserError(f"unknown signal {name!r} (e.g. SIGTERM, SIGUSR1)") from None
        if number in (signal.SIGKILL, signal.SIGSTOP):
            raise UserError(f"{label} cannot be caught: it cannot ask a run to stop with a checkpoint")
        numbers[number] = label
    return numbers


def preemption_signal() -> str:
    """The signal submitit's jobs are asked to stop with: "SIGUSR2" unless $SUBMITIT_PREEMPT_SIGNAL says otherwise."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper()
    return name if name.startswith("SIG") else f"SIG{name}"


def _record(number: int, frame) -> None:
    # Only a flag: a handler that logged could interrupt the main thread inside a write to the same
    # stream ("reentrant call"), which logging prints as a traceback. The trainer says it at its step.
    global _received
    if _received is None:
        _received = signal.Signals(number).name


def watch(names: Sequence[str]) -> None:
    """Record the signals ``names`` instead of dying of them (``received()`` says which came first).

    A signal already received that is watched again stays received: a job runner that watched
    it from the start of the process hands it on to the tool that watches it next.
    """
    global _fork_hooks_registered, _received
    kept = _received
    unwatch()
    for number, label in signal_numbers(names).items():
        _previous[number] = signal.signal(number, _record)
        _watched[number] = label
    if kept in _watched.values():
        _received = kept
    if not _fork_hooks_registered:
        os.register_at_fork(before=_block, after_in_parent=_restore, after_in_child=_forget)
        atexit.register(_kill_blocked_children)  # runs before multiprocessing's own exit handler
        _fork_hooks_registered = True


def unwatch() -> None:
    """Restore the handlers ``watch`` replaced and forget what was received."""
    global _received
    for number, handler in _previous.items():
        signal.signal(number, handler)
    _previous.clear()
    _watched.clear()
    _received = None


def received() -> Optional[str]:
    """The name of the first watched signal that arrived, or None."""
    return _received


def watched() -> Sequence[str]:
    return list(_watched.values())


def _block() -> None:
    global _mask_before_fork, _forked_while_watching
    if _watched:
        _mask_before_fork = signal.pthread_sigmask(signal.SIG_BLOCK, set(_watched))
        _forked_while_watching = True


def _restore() -> None:
    global _mask_before_fork
    if _mask_before_fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork)
        _mask_before_fork = None


def _forget() -> None:
    # The child (a loader worker) keeps the signals blocked: they are its parent's to handle.
    global _mask_before_fork, _received, _forked_while_watching
    _mask_before_fork, _received, _forked_while_watching = None, None, False
    _watched.clear()
    _previous.clear()


def _kill_blocked_children() -> None:
    if not _forked_while_watching:
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's loader would report each as a failure
    for child in multiprocessing.active_children():
        if child.daemon:
            child.kill()


class ForwardToChildren:
    """In a process that only waits for the processes it started: pass the watched signals on
    to them (they stop with a checkpoint) instead of dying and leaving them orphaned."""

    def __init__(self, names: Sequence[str]) -> None:
        self.numbers = signal_numbers(names)
        self.previous: Dict[int, object] = {}

    def _forward(self, number: int, frame) -> None:
        for child in multiprocessing.active_children():
            try:
                os.kill(child.pid, number)
            except ProcessLookupError:
                pass

    def __enter__(self) -> "ForwardToChildren":
        for number in self.numbers:
            self.previous[number] = signal.signal(number, self._forward)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
