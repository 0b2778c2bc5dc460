"""The contract of a study's downstream task: a run from each initialisation, its numbers, its report section.

A task is registered in ``STUDY_TASK_REGISTRY`` (``@register_task``) and named in a study's ``DOWNSTREAM.TASKS``. It
declares its own config keys (``add_config``), writes its dataset once (``prepare``), says which
tool runs it from an initialisation (``command``), and reads back the numbers that run wrote
(``read``). Nothing in ``ctc_plugin.study`` names a task: a task registered from outside the
package runs in a study as the built-in ones do.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from fvcore.common.config import CfgNode as CN

from ..registry import STUDY_TASK_REGISTRY
from ..utils.errors import UserError


@dataclass(frozen=True)
class Command:
    """A tool run with its arguments and environment: ``tool`` is a ``ctc_plugin.cli`` module
    (``finetune_fgvc``) or any other module, run with ``python -m``."""

    tool: str
    args: Tuple[str, ...]
    env: Tuple[Tuple[str, str], ...] = ()


class DownstreamTask:
    """A downstream run of a study from each of ``DOWNSTREAM.INITS``: an arm's converted weights or a
    random initialisation of the same network.

    Attributes:
        name: its entry in ``DOWNSTREAM.TASKS``, its runs' folder and its section of ``results.json``.
        target: the converted weights it starts from (``ctc-convert --to <target>``).
        title: the heading of its report section.
        metrics: key of its numbers -> (the metric a study judges, or None to only show it; its name
            in the report).
    """

    name: str = ""
    target: str = ""
    title: str = ""
    metrics: Dict[str, Tuple[Optional[str], str]] = {}

    def add_config(self, cfg: CN) -> None:
        """Add the task's own keys to a study config (in place), a comment above each."""

    def prepare(self, cfg: CN, out: str) -> Dict[str, str]:
        """Write what every run of the task reads (its dataset), once; returns at least ``{"note": ...}``."""
        return {"note": ""}

    def command(self, cfg: CN, init: Optional[str], seed: int, record: Mapping[str, Any], run_dir: str,
                prepared: Mapping[str, str]) -> Command:  # fmt: skip
        """The tool run of this task from ``init`` (a converted weights file; None: ``record``'s
        network, randomly initialised), writing to ``run_dir``."""
        raise NotImplementedError

    def read(self, run_dir: str) -> Dict[str, Any]:
        """The numbers a finished run wrote (at least the keys of ``metrics``)."""
        raise NotImplementedError

    def shown_metrics(self, rows: List[Mapping[str, Any]]) -> Tuple[List[str], str]:
        """(keys of ``metrics`` the report tables for these runs' numbers, a note on what is left out)."""
        return list(self.metrics), ""

    def scale(self, rows: List[Mapping[str, Any]]) -> str:
        """A phrase on the scale of the runs ("the Mask R-CNN runs train for 100 iterations"), or ""."""
        return ""

    def describe(self, prepared: Mapping[str, str]) -> Dict[str, Any]:
        """What ``results.json`` records of the task, for a report rebuilt without its code."""
        return {
            "title": self.title,
            "target": self.target,
            "metrics": {key: list(value) for key, value in self.metrics.items()},
            "note": prepared.get("note", ""),
        }


def register_task(cls: type) -> type:
    """Class decorator: register ``cls`` in ``STUDY_TASK_REGISTRY`` under its ``name`` (what
    ``DOWNSTREAM.TASKS`` says), as a builder ``name() -> cls()``."""

    def build() -> DownstreamTask:
        return cls()

    build.__name__ = build.__qualname__ = cls.name
    STUDY_TASK_REGISTRY.register(build)
    return cls


def get_task(name: str) -> DownstreamTask:
    """The registered task ``name``.

    Raises:
        UserError: no task of that name is registered.
    """
    if name not in STUDY_TASK_REGISTRY:
        known = ", ".join(sorted(n for n, _ in STUDY_TASK_REGISTRY))
        raise UserError(f"DOWNSTREAM.TASKS: no downstream task {name!r} is registered; registered: {known}")
    task = STUDY_TASK_REGISTRY.get(name)()
    if not isinstance(task, DownstreamTask) or task.name != name:
        raise UserError(f"downstream task {name!r} must be a DownstreamTask named {name!r}")
    return task


def registered_tasks() -> List[DownstreamTask]:
    """Every registered task (each adds its keys to every study config)."""
    return [get_task(name) for name, _ in sorted(STUDY_TASK_REGISTRY)]
