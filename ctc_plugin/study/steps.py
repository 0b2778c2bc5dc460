"""The steps of a study: each tool in its own process, its progress logged, its completion remembered.

``OUTPUT_DIR/steps.json`` records every step that ran (name, command, seconds, finished). It is
read and rewritten under a file lock after each step, so the steps of one study may run in several
threads or processes (``--jobs``, cluster jobs) at once. A rerun skips a step whose recorded
command is the same and which finished; any other step runs again with the tool's own resume
(``--resume``), so an interrupted study continues where it stopped, and a study that gains an arm
or a seed runs only what is new. The seconds of every invocation of a step add up: the study's
time is what its steps took.
"""

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..model_zoo import config_name
from ..utils.errors import UserError
from ..utils.io import atomic_write_json
from .graph import Step

logger = logging.getLogger(__name__)

# What of a step's output is progress: Detectron2's periodic line and the analyses' ETA lines.
_PROGRESS = (re.compile(r"eta: (\S+)\s+iter: (\d+)"), re.compile(r"\]:? (.+: \d+/\d+, eta \S+)$"))
_RESULT = re.compile(r"\]:? (Epoch \d+: .*)$")
LEDGER = "steps.json"

# step -> the command line of its process.
CommandFactory = Callable[[Step], List[str]]


def tool_command(step: Step) -> List[str]:
    """The process of a step: ``python -m ctc_plugin.cli.<tool> ARGS``, or ``python -m <tool> ARGS``
    for a tool that is no module of ``ctc_plugin.cli`` (a task defined outside the package)."""
    ours = f"ctc_plugin.cli.{step.tool}"
    module = ours if "." not in step.tool and importlib.util.find_spec(ours) is not None else step.tool
    return [sys.executable, "-m", module, *step.args]


class StepRunner:
    """Runs a study's steps, each in its own process, and remembers which finished.

    Commands are shown, and recorded in the ledger, with the study's own paths relative to
    ``output_dir`` and packaged configs by their name: a study folder can be moved and continued,
    and its commands read the same on every machine.

    Args:
        output_dir: the study's folder; logs go to ``logs/<step>.log``, the ledger to ``steps.json``.
        commands: ``ctc_plugin.cli`` module -> the console script's name, shown in the commands.
        threads: torch, OpenMP and MKL threads of every step (0: the tools' own default).
        command_factory: the process of a step (default ``tool_command``; tests run stand-ins).
    """

    def __init__(self, output_dir: str, commands: Dict[str, str], threads: int = 0,
                 command_factory: CommandFactory = tool_command) -> None:  # fmt: skip
        self.output_dir = output_dir
        self.commands = commands
        self.threads = threads
        self.command_factory = command_factory
        self.ledger_path = os.path.join(output_dir, LEDGER)
        os.makedirs(os.path.join(output_dir, "logs"), exist_ok=True)
        self._processes: Dict[str, subprocess.Popen] = {}
        self._stopped = False  # stop_all was called: no step starts any more
        self._starting = threading.Lock()  # held while a step's process starts and is registered
        self._lock = threading.Lock()
        self.read_ledger()  # a damaged ledger is refused before anything runs

    # ---- the ledger --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _ledger(self) -> Iterator[List[Dict[str, Any]]]:
        """The ledger, read and (when changed) rewritten under a lock held by this thread and process."""
        with self._lock, open(self.ledger_path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                steps = _read_ledger(self.ledger_path)
                before = json.dumps(steps)
                yield steps
                if json.dumps(steps) != before:
                    atomic_write_json(self.ledger_path, steps)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read_ledger(self) -> List[Dict[str, Any]]:
        """Every step the ledger holds, in the order they first ran."""
        with self._ledger() as steps:
            return [dict(step) for step in steps]

    @property
    def seconds(self) -> float:
        """The seconds every step took, summed over every invocation of the study."""
        return sum(step["seconds"] for step in self.read_ledger())

    def finished(self, step: Step) -> bool:
        """Whether ``step`` finished with the same command before."""
        done = next((s for s in self.read_ledger() if s["name"] == step.name), None)
        return done is not None and done["command"] == self.shown(step) and done.get("finished", True)

    def _record(self, name: str, command: str, seconds: float, finished: bool) -> Dict[str, Any]:
        with self._ledger() as steps:
            entry = next((s for s in steps if s["name"] == name), None)
            if entry is None:
                entry = {"name": name, "seconds": 0.0}
                steps.append(entry)
            entry.update(command=command, finished=finished, last_seconds=seconds)
            entry["seconds"] += seconds
            return dict(entry)

    # ---- running -----------------------------------------------------------------------------
    def shown(self, step: Step) -> str:
        """The step's command as the ledger and the report show it."""
        return " ".join(shlex.quote(self.relative(a)) for a in [self.commands.get(step.tool, step.tool), *step.args])

    def relative(self, value: Any) -> str:
        """``value`` as shown: a path inside the study's folder relative to it, a packaged config by its name."""
        text = config_name(str(value))
        if os.path.isabs(text) and os.path.commonpath([text, self.output_dir]) == self.output_dir:
            return os.path.relpath(text, self.output_dir)
        return text

    def run(self, step: Step) -> bool:
        """Run ``step`` unless the same command finished before; returns whether it ran.

        Raises:
            UserError: the tool exited with a non-zero status (its log is named).
            KeyboardInterrupt: ``stop_all`` was called before the step's process started.
        """
        if self.finished(step):
            logger.info("%s: done before, skipped", step.name)
            return False
        shown = self.shown(step)
        logger.info("%s: %s", step.name, shown)
        log_path = os.path.join(self.output_dir, "logs", f"{step.name}.log")
        environment = {**os.environ, **dict(step.env), "PYTHONUNBUFFERED": "1"}
        if self.threads:
            environment.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        start = time.perf_counter()
        with open(log_path, "a") as log:
            with self._starting:  # stop_all stops this process, or it never starts
                if self._stopped:
                    raise KeyboardInterrupt
                process = subprocess.Popen(
                    self.command_factory(step), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    env=environment,
                )  # fmt: skip
                self._processes[step.name] = process
            try:
                for line in process.stdout:
                    log.write(line)
                    progress = _progress(line.rstrip())
                    if progress:
                        logger.info("%s: %s", step.name, progress)
                status = process.wait()
            finally:
                if process.poll() is None:  # interrupted here: stop the step too, it resumes next time
                    process.terminate()
                    process.wait()
                self._processes.pop(step.name, None)
                entry = self._record(step.name, shown, time.perf_counter() - start, process.returncode == 0)
        if status != 0:
            raise UserError(f"step {step.name} failed (exit {status}); its output is in {log_path}")
        logger.info("%s: done in %.0f s", step.name, entry["last_seconds"])
        return True

    def stop_all(self) -> None:
        """Ask every running step to stop (SIGTERM: a trainer saves a checkpoint at its iteration); no
        step starts after this (``run`` raises ``KeyboardInterrupt``)."""
        with self._starting:
            self._stopped = True
            processes = list(self._processes.values())
        for process in processes:
            if process.poll() is None:
                process.terminate()


def _read_ledger(path: str) -> List[Dict[str, Any]]:
    if not os.path.exists(path):
        return []
    try:
        with open(path) as f:
            steps = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read the study's step ledger {path}: {e}") from None
    if not isinstance(steps, list) or not all(isinstance(s, dict) and {"name", "command", "seconds"} <= set(s)
                                              for s in steps):  # fmt: skip
        raise UserError(f"{path} is not a study's step ledger (a list of name, command, seconds)")
    return steps


def _progress(line: str) -> str:
    """The part of a step's output line worth showing in the terminal, or ''."""
    match = _PROGRESS[0].search(line)
    if match:
        return f"iteration {int(match.group(2)) + 1}, eta {match.group(1)}"
    match = _PROGRESS[1].search(line) or _RESULT.search(line)
    return match.group(1) if match else ""


def ready(steps: Sequence[Step], done: set, started: set) -> List[Step]:
    """The steps not started whose needs are all done, in the study's order."""
    return [s for s in steps if s.name not in started and all(n in done for n in s.needs)]


def unknown_needs(steps: Sequence[Step]) -> Optional[str]:
    """A need that names no step of ``steps`` (a graph error), or None."""
    names = {s.name for s in steps}
    return next((n for s in steps for n in s.needs if n not in names), None)
