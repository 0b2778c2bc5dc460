"""submitit jobs of the plugin (``ctc-submit``'s one tool, ``ctc-study``'s chains): their options, executor and end.

submitit is imported inside the functions, so this module imports without it (it is the
``cluster`` extra).
"""

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .errors import first_line

# SLURM's own options, passed on as they are.
SLURM_OPTIONS = ("partition", "account", "qos", "constraint", "comment", "exclude")


@dataclass
class JobOptions:
    """Where and how a job runs: submitit's executor and its resources."""

    cluster: str = "local"
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: Optional[int] = None
    mem_gb: Optional[int] = None
    timeout_min: int = 4320
    max_timeouts: int = 3
    signal_delay_s: int = 120
    job_dir: str = ""
    job_name: str = ""
    slurm: Dict[str, str] = field(default_factory=dict)  # partition, account, qos, constraint, comment, exclude

    @classmethod
    def from_args(cls, args: Any) -> "JobOptions":
        """The options of a command line built with ``cli.cluster_options.add_cluster_options``."""
        return cls(
            cluster=args.cluster, nodes=getattr(args, "nodes", 1), gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb, timeout_min=args.timeout_min,
            max_timeouts=args.max_timeouts, signal_delay_s=args.signal_delay_s, job_dir=args.job_dir,
            job_name=args.job_name, slurm={name: getattr(args, name) for name in SLURM_OPTIONS},
        )  # fmt: skip


def build_executor(options: JobOptions, folder: str, name: str, tasks_per_node: int) -> Any:
    """submitit's ``AutoExecutor`` in ``folder`` with the options' resources (``name`` unless ``job_name``)."""
    import submitit

    executor = submitit.AutoExecutor(
        folder=folder, cluster=options.cluster, slurm_max_num_timeout=options.max_timeouts,
        local_max_num_timeout=options.max_timeouts,
    )  # fmt: skip
    parameters: Dict[str, Any] = dict(
        name=options.job_name or name, nodes=options.nodes, tasks_per_node=tasks_per_node,
        gpus_per_node=options.gpus_per_node, timeout_min=options.timeout_min,
    )  # fmt: skip
    if options.cpus_per_task:
        parameters["cpus_per_task"] = options.cpus_per_task
    if options.mem_gb:
        parameters["mem_gb"] = options.mem_gb
    if options.cluster == "slurm":
        parameters["slurm_signal_delay_s"] = options.signal_delay_s
        parameters.update({f"slurm_{key}": value for key, value in options.slurm.items() if value})
    executor.update_parameters(**parameters)
    return executor


class PackageOnPath:
    """While submitting: jobs import the ctc_plugin that submitted them (their environment is this
    one's, copied at submission)."""

    def __enter__(self) -> None:
        parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.before = os.environ.get("PYTHONPATH")
        paths = [parent, *[p for p in (self.before or "").split(os.pathsep) if p]]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))

    def __exit__(self, *exc: Any) -> None:
        if self.before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = self.before


def failure_reason(error: BaseException) -> str:
    """The line of a failed job's exception that says what failed (its last "...Error" line)."""
    lines = [line for line in str(error).splitlines() if line.strip() and not line.startswith(("-", " "))]
    return next((line for line in reversed(lines) if "Error" in line), first_line(error))
