"""A study end to end: its graph of steps run here (serially or N at a time) or as cluster jobs, then its report.

Every arm is pretrained for every seed (ctc-pretrain --resume); as soon as an arm's pretraining ends,
its temporal transferability (ctc-temporal-transfer), its information plane (ctc-estimate-mi), its
conversion for the downstream tasks (ctc-convert) and each task's run from it start. Every number is
read from what the finished steps wrote (``collect``); ``results.json``, ``findings.json``,
``report.md`` and the plots are rewritten as steps finish, so a study still running, or cut short,
has a report of what exists. A rerun skips finished steps (``steps.StepRunner``).
"""

import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import replace
from typing import Any, Dict, List, Optional

from ..config import merge_config
from ..model_zoo import config_path
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, atomic_write_text
from ..utils.signals import preemption_signal
from .cluster import ClusterOptions, submit_chains, wait_for
from .collect import collect_results
from .committed import read_committed_study, standing_line
from .config import check_study_config, get_study_cfg, reference_arm
from .endpoints import AnalysisPlan
from .findings import write_findings
from .graph import study_steps
from .report import build_report, write_plots
from .retention import finished_names, prune_checkpoints
from .schedule import run_steps
from .steps import CommandFactory, StepRunner, tool_command
from .task import get_task

logger = logging.getLogger(__name__)
RESULTS = "results.json"
# The report (plots included) is rebuilt at most this often while steps finish; always at the end.
REPORT_PERIOD_S = 30.0


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def git_commit() -> str:
    """The checkout's commit (with "-dirty" for uncommitted changes), or "unknown" outside a git checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=here, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"


def recorded_plan(cfg, out: str) -> AnalysisPlan:
    """The analysis plan of the study in ``out``: the config's, fixed when its first seed ran.

    A plan is pre-registered only when it was in the config before any seed ran; a study that
    continues results from before plans were recorded is analysed post hoc.

    Raises:
        UserError: the config's plan differs from the one the study recorded.
    """
    plan = AnalysisPlan.from_config(cfg.ANALYSIS)
    previous = _previous_results(out)
    if previous is None:
        return plan
    if not previous.get("analysis"):
        return replace(plan, registered=not previous.get("seeds"))
    recorded = AnalysisPlan.from_dict(previous["analysis"])
    if replace(recorded, registered=True) != plan:
        raise UserError(
            f"ANALYSIS differs from the plan this study recorded before its seeds ran ({recorded.to_dict()}); "
            "a pre-registered plan cannot change: use a new OUTPUT_DIR for another analysis"
        )
    return recorded


def _previous_results(out: str) -> Optional[Dict[str, Any]]:
    path = os.path.join(out, RESULTS)
    if not os.path.exists(path):
        return None
    try:
        return read_json(path)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


class Study:
    """A study's config, checked, with everything its steps need: the arms, the tasks, the graph.

    Args:
        config_file, opts: the study config and its ``KEY VALUE`` overrides.
        commands: ``ctc_plugin.cli`` module -> console script, as the steps' commands are shown.
        jobs: steps run at once on this machine; with no ``THREADS`` each gets cores / jobs threads.
        cluster: run the chains as submitit jobs instead.
        command_factory: the process of a step (tests run stand-ins).
    """

    def __init__(self, config_file: str, opts: List[str], commands: Dict[str, str], jobs: int = 1,
                 cluster: Optional[ClusterOptions] = None,
                 command_factory: CommandFactory = tool_command) -> None:  # fmt: skip
        if jobs < 1:
            raise ValueError(f"a study runs at least one step at a time, not {jobs}")
        self.config_file, self.opts = config_file, list(opts)
        self.cfg = merge_config(get_study_cfg(), config_path(config_file), opts)
        self.arms = check_study_config(self.cfg)
        self.out = os.path.abspath(self.cfg.OUTPUT_DIR)
        self.plan = recorded_plan(self.cfg, self.out)
        self.committed = read_committed_study(self.cfg.COMMITTED_STUDY)
        self.tasks = [get_task(name) for name in self.cfg.DOWNSTREAM.TASKS] if self.cfg.DOWNSTREAM.INITS else []
        self.jobs, self.cluster = jobs, cluster
        cores = (cluster.cpus_per_task if cluster else None) or os.cpu_count() or 1
        self.threads = self.cfg.THREADS or max(1, cores // (1 if cluster else jobs))
        self.runner = StepRunner(self.out, commands, self.threads, command_factory)
        self.command_factory = command_factory
        self._reported = 0.0

    def steps(self, prepared: Dict[str, Dict[str, str]]):
        gpus = self.cluster.gpus_per_node if self.cluster else 0
        signals = f"SIGTERM,SIGUSR1,{preemption_signal()}" if self.cluster else ""
        return study_steps(self.cfg, self.arms, self.out, self.tasks, prepared, gpus, signals)

    def results(self, prepared: Dict[str, Dict[str, str]], wall_seconds: float) -> Dict[str, Any]:
        """``results.json``: the study's settings, its plan and every number its finished steps wrote."""
        ledger = self.runner.read_ledger()
        per_seed = collect_results(self.cfg, self.arms, self.out, self.tasks, ledger)
        return {
            "config": self.config_file,
            "opts": self.opts,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
            "commit": git_commit(),
            "date": time.strftime("%Y-%m-%d"),
            "threads": self.threads,
            "jobs": self.jobs if self.cluster is None else f"cluster {self.cluster.cluster}",
            "analysis": self.plan.to_dict(),
            "seeds": sorted(per_seed),
            "planned_seeds": sorted(self.cfg.SEEDS),
            "arms": [{"name": a.name, "config": a.config, "opts": list(a.opts)} for a in self.arms],
            "reference": reference_arm(self.cfg, self.arms),
            "inits": list(self.cfg.DOWNSTREAM.INITS),
            "tasks": {task.name: task.describe(prepared[task.name]) for task in self.tasks},
            "pretrain_settings": " ".join(self.cfg.PRETRAIN.OPTS) or "the configs as they are",
            "per_seed": per_seed,
            "committed_study": self.committed,
            "steps": ledger,
            "total_seconds": sum(step["seconds"] for step in ledger),
            "wall_seconds": wall_seconds,
        }

    def write(self, prepared, wall_seconds: float, final: bool = False) -> Dict[str, Any]:
        """Write ``results.json`` and, when due (always with ``final``), the report and its plots."""
        results = self.results(prepared, wall_seconds)
        if not results["per_seed"]:
            return results
        atomic_write_json(os.path.join(self.out, RESULTS), results)
        if final or time.monotonic() - self._reported >= REPORT_PERIOD_S:
            write_report(results, self.out)
            self._reported = time.monotonic()
            logger.info("report of seeds %s: %s", results["seeds"], os.path.join(self.out, "report.md"))
        return results

    def run(self) -> Dict[str, Any]:
        """Run (or continue) the study here, or submit its chains; returns its results."""
        previous = _previous_results(self.out) or {}
        wall_before = float(previous.get("wall_seconds") or 0.0)
        start = time.monotonic()
        prepared = {task.name: task.prepare(self.cfg, self.out) for task in self.tasks}
        steps = self.steps(prepared)

        def elapsed() -> float:
            return wall_before + time.monotonic() - start

        keep_final = self.cfg.PRETRAIN.KEEP_CHECKPOINTS == "final"

        def on_done(step) -> None:
            if keep_final:
                prune_checkpoints(steps, finished_names(self.runner.read_ledger()))
            self.write(prepared, elapsed())

        if self.cluster is None:
            try:
                run_steps(steps, self.runner, self.jobs, on_done=on_done)
            finally:
                self.write(prepared, elapsed(), final=True)
            logger.info("done: %.0f s of steps, %.0f s on the clock. Report: %s", self.runner.seconds, elapsed(),
                        os.path.join(self.out, "report.md"))  # fmt: skip
            results = self.results(prepared, elapsed())
            if results["committed_study"]:
                logger.info("%s", standing_line(results["committed_study"]))
            return results
        jobs = submit_chains(steps, self.runner, self.cluster, self.command_factory, keep_final)
        if self.cluster.cluster == "local":
            try:
                wait_for(jobs)
            finally:
                self.write(prepared, elapsed(), final=True)
        else:
            self.write(prepared, elapsed(), final=True)
            left = sum(not self.runner.finished(step) for step in steps)
            logger.info("%d job(s) submitted, %d step(s) left; run the same command again to collect them and "
                        "submit what is missing", len(jobs), left)  # fmt: skip
        return self.results(prepared, elapsed())


def run_study(config_file: str, opts: List[str], commands: Dict[str, str], jobs: int = 1,
              cluster: Optional[ClusterOptions] = None,
              command_factory: CommandFactory = tool_command) -> Dict[str, Any]:  # fmt: skip
    """Run (or continue) the study of ``config_file`` with ``opts``; returns its results."""
    return Study(config_file, opts, commands, jobs, cluster, command_factory).run()


def write_report(results: Dict[str, Any], out: str) -> None:
    """The plots, findings.json (every judged line) and report.md of ``results``."""
    write_plots(results, out)
    write_findings(results, out)
    atomic_write_text(os.path.join(out, "report.md"), build_report(results))


def rebuild_report(config_file: str, opts: List[str]) -> str:
    """report.md, findings.json and the plots again from OUTPUT_DIR/results.json, with this checkout's code."""
    cfg = merge_config(get_study_cfg(), config_path(config_file), opts)
    out = os.path.abspath(cfg.OUTPUT_DIR)
    path = os.path.join(out, RESULTS)
    try:
        results = read_json(path)
    except FileNotFoundError:
        raise UserError(f"no results to report: {path} does not exist (run the study first)") from None
    except ValueError as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not isinstance(results, dict) or not results.get("per_seed"):
        raise UserError(f"{path} is not a study's results.json (it has no per_seed)")
    results["report_commit"] = git_commit()
    write_report(results, out)
    return os.path.join(out, "report.md")
