"""A study on a cluster: each arm-and-seed chain of steps as a submitit job (SLURM, or this machine).

The study's process writes the datasets, builds the graph and submits one job per chain that has
steps left, in one job array (``executor.batch()``). A job runs its chain's steps one after another
with the study's step runner, so its ledger entries, logs and resume are a serial study's. On
submitit's preemption or timeout signal the job stops its running step (the trainer saves a
checkpoint at its iteration) and requeues itself by submitit's checkpoint protocol, as ``ctc-submit``
does; the requeued job skips the steps that finished and resumes the stopped one.

On SLURM the study prints the job ids (kept in ``OUTPUT_DIR/jobs.json``) and returns; running it again
collects what finished, submits the chains that have neither finished nor a live job, and rebuilds the
report. ``--cluster local`` runs the same jobs on this machine and waits for them.
"""

import logging
import os
import signal
from typing import Any, Dict, List, Mapping, Sequence

from ..utils import signals
from ..utils.errors import UserError, first_line
from ..utils.io import atomic_write_json
from ..utils.jobs import JobOptions, PackageOnPath, build_executor, failure_reason
from .graph import Step
from .retention import finished_names, prune_checkpoints
from .steps import CommandFactory, StepRunner, tool_command

logger = logging.getLogger(__name__)

JOBS_FILE = "jobs.json"
# SLURM states of a job that will still run its chain.
LIVE_STATES = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED")


# The options of a study's jobs (one machine each).
ClusterOptions = JobOptions


class _PreemptedError(Exception):
    pass


class ChainJob:
    """What a job runs: one chain's steps in order, and submitit's checkpoint protocol.

    Args:
        steps: the chain's steps, in the study's order.
        output_dir, commands, threads: the study's step runner's.
    """

    def __init__(self, steps: Sequence[Step], output_dir: str, commands: Mapping[str, str], threads: int,
                 command_factory: CommandFactory = tool_command, keep_final: bool = False) -> None:  # fmt: skip
        self.steps = list(steps)
        self.output_dir = output_dir
        self.commands = dict(commands)
        self.threads = threads
        self.command_factory = command_factory
        self.keep_final = keep_final  # PRETRAIN.KEEP_CHECKPOINTS final

    def __call__(self) -> List[str]:
        from .schedule import run_steps

        runner = StepRunner(self.output_dir, self.commands, self.threads, self.command_factory)
        name = signals.preemption_signal()
        number = signals.signal_numbers([name]).popitem()[0]

        def preempted(signum, frame) -> None:
            raise _PreemptedError

        def on_done(step: Step) -> None:
            if self.keep_final:
                prune_checkpoints(self.steps, finished_names(runner.read_ledger()))

        submitit_handler = signal.signal(number, preempted)
        try:
            run_steps(self.steps, runner, on_done=on_done)
        except _PreemptedError:
            signal.signal(number, submitit_handler)
            signal.raise_signal(number)  # submitit's handler: checkpoint() and requeue, or end the job
        finally:
            signal.signal(number, submitit_handler)
        return [step.name for step in self.steps]

    def checkpoint(self, *args: Any) -> Any:
        """The same chain again: its finished steps are skipped, the stopped one resumes."""
        import submitit

        return submitit.helpers.DelayedSubmission(
            ChainJob(self.steps, self.output_dir, self.commands, self.threads, self.command_factory, self.keep_final)
        )


def chains(steps: Sequence[Step]) -> Dict[str, List[Step]]:
    """chain -> its steps, in the study's order."""
    grouped: Dict[str, List[Step]] = {}
    for step in steps:
        grouped.setdefault(step.chain, []).append(step)
    return grouped


def _live(job_id: str, folder: str, cluster: str) -> bool:
    """Whether a job submitted by an earlier run of the study will still run its chain."""
    if cluster != "slurm":
        return False  # a local job ends with the process that waited for it
    import submitit

    try:
        return submitit.SlurmJob(folder=folder, job_id=job_id).state.upper() in LIVE_STATES
    except Exception as e:  # noqa: BLE001  (sacct unavailable: resubmitting is the safe side only if it is gone)
        raise UserError(f"cannot ask SLURM about job {job_id}: {first_line(e)}") from None


def submit_chains(steps: Sequence[Step], runner: StepRunner, options: ClusterOptions,
                  command_factory: CommandFactory = tool_command, keep_final: bool = False) -> List[Any]:  # fmt: skip
    """Submit a job for every chain with steps left and no live job; returns the submitted jobs."""
    out = runner.output_dir
    folder = options.job_dir or os.path.join(out, "submitit")
    executor = build_executor(options, folder, "ctc-study", tasks_per_node=1)
    jobs_path = os.path.join(out, JOBS_FILE)
    known: Dict[str, str] = {}
    if os.path.exists(jobs_path):
        import json

        with open(jobs_path) as f:
            known = json.load(f)
    pending = {}
    for chain, chain_steps in chains(steps).items():
        if all(runner.finished(step) for step in chain_steps):
            continue
        if chain in known and _live(known[chain], folder, options.cluster):
            logger.info("%s: job %s still queued or running", chain, known[chain])
            continue
        pending[chain] = ChainJob(chain_steps, out, runner.commands, runner.threads, command_factory, keep_final)
    if not pending:
        return []
    with PackageOnPath(), executor.batch():
        submitted = {chain: executor.submit(job) for chain, job in pending.items()}
    known.update({chain: str(job.job_id) for chain, job in submitted.items()})
    atomic_write_json(jobs_path, known)
    for chain, job in submitted.items():
        logger.info("%s: job %s submitted; logs: %s", chain, job.job_id, job.paths.stdout)
    return list(submitted.values())


def wait_for(jobs: Sequence[Any]) -> None:
    """Wait for jobs of this machine; a failed one is one line naming its logs.

    Raises:
        UserError: a job failed (the first, after every job ended).
    """
    failures = []
    for job in jobs:
        error = job.exception()
        if error is not None:
            failures.append(f"job {job.job_id} failed ({failure_reason(error)}); its logs: {job.paths.stderr}")
    if failures:
        raise UserError(failures[0])
