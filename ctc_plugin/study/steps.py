"""The steps of a study: each tool in its own process, its progress logged, its completion remembered.

``OUTPUT_DIR/steps.json`` records every finished step (name, command, seconds), written
atomically after each one. A rerun skips a step whose recorded command is the same; any other
step runs again with the tool's own resume (``--resume``), so an interrupted study continues
where it stopped, and a study that gains an arm or a seed runs only what is new. The seconds
of every invocation of a step add up: the study's time is what its steps took on this machine.
"""

import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from ..model_zoo import config_name
from ..utils.errors import UserError
from ..utils.io import atomic_write_json

logger = logging.getLogger(__name__)

# What of a step's output is progress: Detectron2's periodic line and the analyses' ETA lines.
_PROGRESS = (re.compile(r"eta: (\S+)\s+iter: (\d+)"), re.compile(r"\]:? (.+: \d+/\d+, eta \S+)$"))
_RESULT = re.compile(r"\]:? (Epoch \d+: .*)$")
LEDGER = "steps.json"


class StepRunner:
    """Runs the study's tools (``python -m ctc_plugin.cli.<tool>``) and remembers which finished.

    Commands are shown, and recorded in the ledger, with the study's own paths relative to
    ``output_dir``: a study folder can be moved and continued, and its commands read the same on
    every machine.

    Args:
        output_dir: the study's folder; logs go to ``logs/<step>.log``, the ledger to ``steps.json``.
        commands: ``ctc_plugin.cli`` module -> the console script's name, shown in the commands.
        threads: torch, OpenMP and MKL threads of every step (0: the tools' own default).
    """

    def __init__(self, output_dir: str, commands: Dict[str, str], threads: int = 0) -> None:
        self.output_dir = output_dir
        self.commands = commands
        self.threads = threads
        self.ledger_path = os.path.join(output_dir, LEDGER)
        os.makedirs(os.path.join(output_dir, "logs"), exist_ok=True)
        self.steps: List[Dict[str, Any]] = _read_ledger(self.ledger_path)
        self._by_name = {step["name"]: step for step in self.steps}

    @property
    def seconds(self) -> float:
        """The seconds every step took, summed over every invocation of the study."""
        return sum(step["seconds"] for step in self.steps)

    def seconds_of(self, name: str) -> float:
        """The seconds step ``name`` took over every invocation (0 for one never run)."""
        return self._by_name[name]["seconds"] if name in self._by_name else 0.0

    def tool(self, name: str, tool: str, *args: Any, env: Optional[Dict[str, str]] = None) -> None:
        """Run ``tool`` with ``args`` as step ``name``, unless the same command already finished.

        Raises:
            UserError: the tool exited with a non-zero status (its log is named).
        """
        shown = " ".join(shlex.quote(self.relative(a)) for a in [self.commands[tool], *args])
        done = self._by_name.get(name)
        if done is not None and done["command"] == shown and done.get("finished", True):
            logger.info("%s: done before (%.0f s), skipped", name, done["seconds"])
            return
        logger.info("%s: %s", name, shown)
        log_path = os.path.join(self.output_dir, "logs", f"{name}.log")
        command = [sys.executable, "-m", f"ctc_plugin.cli.{tool}", *map(str, args)]
        environment = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        if self.threads:
            environment.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        start = time.perf_counter()
        with open(log_path, "a") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
            )
            try:
                for line in process.stdout:
                    log.write(line)
                    progress = _progress(line.rstrip())
                    if progress:
                        logger.info("%s: %s", name, progress)
                status = process.wait()
            finally:
                if process.poll() is None:  # interrupted here: stop the step too, it resumes next time
                    process.terminate()
                    process.wait()
                self._record(name, shown, time.perf_counter() - start, finished=process.returncode == 0)
        if status != 0:
            raise UserError(f"step {name} failed (exit {status}); its output is in {log_path}")
        logger.info("%s: done in %.0f s", name, self._by_name[name]["last_seconds"])

    def relative(self, value: Any) -> str:
        """``value`` as shown: a path inside the study's folder relative to it, a packaged config by its name."""
        text = config_name(str(value))
        if os.path.isabs(text) and os.path.commonpath([text, self.output_dir]) == self.output_dir:
            return os.path.relpath(text, self.output_dir)
        return text

    def _record(self, name: str, command: str, seconds: float, finished: bool) -> None:
        step = self._by_name.get(name)
        if step is None:
            step = self._by_name[name] = {"name": name, "seconds": 0.0}
            self.steps.append(step)
        step.update(command=command, finished=finished, last_seconds=seconds)
        step["seconds"] += seconds
        atomic_write_json(self.ledger_path, self.steps)


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
