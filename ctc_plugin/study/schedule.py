"""Runs a study's steps as their dependencies allow, up to N at a time on this machine (``--jobs N``).

Every step is its own process, so N steps at once use N processes; each has the study's thread count.
Ready steps start in the study's order (seed by seed), so the seeds finish one after another and a
report of the first ones can be read while the rest run. When a step fails no new step starts, the
running ones finish, and the failure is raised. An interruption (Ctrl-C, SIGTERM) stops every running
step; each trainer saves a checkpoint, and the next run continues from them.
"""

import logging
import queue
import threading
from typing import Callable, List, Optional, Sequence

from ..utils.errors import UserError
from .graph import Step
from .steps import StepRunner, ready, unknown_needs

logger = logging.getLogger(__name__)


def run_steps(steps: Sequence[Step], runner: StepRunner, jobs: int = 1,
              on_done: Optional[Callable[[Step], None]] = None) -> None:  # fmt: skip
    """Run every step of ``steps`` whose needs are met, ``jobs`` at a time.

    Args:
        on_done: called in this thread after each step that finished (ran now or before).

    Raises:
        UserError: a step failed (the first failure; the steps that need it did not run).
        KeyboardInterrupt: interrupted; the running steps were stopped first.
    """
    missing = unknown_needs(steps)
    if missing:
        raise ValueError(f"a step needs {missing!r}, which is no step of the study")
    done: set = set()
    started: set = set()
    events: queue.Queue = queue.Queue()
    running: List[threading.Thread] = []
    failures: List[UserError] = []

    def work(step: Step) -> None:
        try:
            runner.run(step)
            events.put((step, None))
        except BaseException as e:  # noqa: BLE001  (handed to the scheduling thread)
            events.put((step, e))

    try:
        while True:
            if not failures:
                for step in ready(steps, done, started)[: max(0, jobs - len(running))]:
                    started.add(step.name)
                    thread = threading.Thread(target=work, args=(step,), name=step.name, daemon=True)
                    running.append(thread)
                    thread.start()
            if not running:
                break
            step, error = events.get()
            running = [t for t in running if t.name != step.name]
            if error is None:
                done.add(step.name)
                if on_done is not None:
                    on_done(step)
            elif isinstance(error, UserError):
                failures.append(error)
            else:
                raise error
    except BaseException:
        runner.stop_all()  # each step records itself as unfinished; its trainer saves a checkpoint
        for thread in running:
            thread.join()
        raise
    if failures:
        raise failures[0]
    blocked = [s.name for s in steps if s.name not in done]
    if blocked:  # cannot happen for a graph without cycles
        raise ValueError(f"steps never became ready: {blocked}")
