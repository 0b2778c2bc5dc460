"""ctc-submit: a tool that trains, as a submitit job that requeues itself, on SLURM or on this machine.

    ctc-submit --nodes 4 --gpus-per-node 8 --partition learn --timeout-min 4320 \\
        pretrain --config-file configs/pretrain/imagenet_r50_ctc.yaml OUTPUT_DIR /runs/r50_ctc
    ctc-submit --gpus-per-node 8 finetune-fgvc --config-file configs/fgvc/inat2018_r50.yaml MODEL.WEIGHTS ...
    ctc-submit --cluster local --gpus-per-node 0 pretrain --config-file ...   # here, on the CPU, and wait

TOOL is pretrain, finetune-fgvc or train-net, followed by the tool's own arguments (not
--num-gpus, --num-machines, --machine-rank, --dist-url, --preemption-signals: the job sets
them). One task per GPU, each joining the job's process group (env://).

On submitit's preemption/timeout signal (SIGUSR2, or $SUBMITIT_PREEMPT_SIGNAL; SLURM sends it
--signal-delay-s before the time limit, and on preemption where the cluster sets
SlurmctldParameters=preempt_send_user_signal) every task finishes its iteration,
the tool writes its checkpoint there, and submitit requeues the job with --resume. A
preemption is always requeued; a timeout at most --max-timeouts times. Logs: --job-dir
(default OUTPUT_DIR/submitit), one <job id>_<task>_log.out / _log.err per task.

--cluster slurm prints the job id and its logs and returns; --cluster local runs the job on
this machine through submitit's local executor and waits, exiting with the job's status.
"""

import argparse
import importlib
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

from ..checkpoint import find_resume_checkpoint
from ..utils import signals
from ..utils.errors import PREEMPTED_STATUS, UserError
from ..utils.jobs import JobOptions, PackageOnPath, build_executor, failure_reason
from .cluster_options import add_cluster_options, check_cluster_options
from .common import USER_ERROR_STATUS, ArgumentParser, run
from .launching import check_fresh_start

TOOL = "submit"
# TOOL argument -> ctc_plugin.cli module.
TOOLS = {"pretrain": "pretrain", "finetune-fgvc": "finetune_fgvc", "train-net": "train_net"}
# Flags of the tools that the job sets itself.
JOB_FLAGS = ("--num-gpus", "--num-machines", "--machine-rank", "--dist-url", "--preemption-signals")
# What a tool's main returns: success, a failed process, a refusal, preempted, interrupted.
TOOL_STATUSES = (0, 1, USER_ERROR_STATUS, PREEMPTED_STATUS, 130)


def _with_flag(argv: List[str], flag: str, drop: str = "") -> List[str]:
    """The tool's ``argv`` with ``flag`` in front (once) and without ``drop`` (flags may come in any order)."""
    return [flag, *[a for a in argv if a not in (flag, drop)]]


class ToolJob:
    """What every task of the job runs: ``ctc_plugin.cli.<tool>.main(argv)``, and submitit's checkpoint protocol.

    The tool watches submitit's signal (and this process records it from the start): it stops
    after its iteration with a checkpoint and returns ``PREEMPTED_STATUS``. The job then raises
    the signal again with submitit's own handler in place, which calls ``checkpoint`` (the same
    job with ``--resume``), counts the timeouts and requeues the job, or ends it.
    """

    def __init__(self, tool: str, argv: List[str]) -> None:
        self.tool = tool
        self.argv = list(argv)

    def __call__(self) -> int:
        import submitit

        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:  # the tool joins the group as under torchrun (env://)
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        name = signals.preemption_signal()
        module = importlib.import_module(f"ctc_plugin.cli.{TOOLS[self.tool]}")
        signals.watch([name])  # from now on the signal is recorded for the tool, not acted on by submitit
        try:
            status = module.main(["--preemption-signals", name, *self.argv])
        finally:
            signals.unwatch()  # submitit's handler again
        if status == PREEMPTED_STATUS:
            signal.raise_signal(signals.signal_numbers([name]).popitem()[0])  # task 0 requeues or ends here
        elif status not in TOOL_STATUSES:
            sys.exit(status)  # submitit's handler ended the tool from inside (a signal before it watched)
        return status

    def checkpoint(self, *args: Any) -> Any:
        """The same job, continuing from OUTPUT_DIR's newest checkpoint (``--resume``, never ``--overwrite``)."""
        import submitit

        return submitit.helpers.DelayedSubmission(ToolJob(self.tool, _with_flag(self.argv, "--resume", "--overwrite")))


@dataclass
class Submission:
    """A submitted job and what its end is reported with."""

    job: Any
    cluster: str
    tool: str
    output_dir: str
    max_timeouts: int


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(__doc__)
    parser.add_argument("--cluster", choices=("slurm", "local"), default="slurm", help="where the job runs")
    add_cluster_options(parser)  # --gpus-per-node: one task each (0: one CPU task)
    parser.add_argument("tool", choices=sorted(TOOLS), metavar="TOOL", help=", ".join(sorted(TOOLS)))
    parser.add_argument("tool_args", nargs=argparse.REMAINDER, metavar="...", help="the tool's own arguments")
    return parser


def check(args: argparse.Namespace):
    """Refuse bad options and bad tool input with one line; returns the tool's config."""
    check_cluster_options(args)
    given = [a.split("=")[0] for a in args.tool_args if a.split("=")[0] in JOB_FLAGS]
    if given:
        raise UserError(f"{given[0]} is set by the job: give --nodes and --gpus-per-node to ctc-submit instead")
    tool = importlib.import_module(f"ctc_plugin.cli.{TOOLS[args.tool]}").TRAINING
    tool_args = tool.parse_args(args.tool_args)
    cfg = tool.check(tool_args, args.nodes * max(1, args.gpus_per_node))
    check_fresh_start(cfg.OUTPUT_DIR, tool_args, keep=[cfg.MODEL.WEIGHTS])
    return cfg


def submit(argv: Optional[List[str]]) -> Submission:
    """Check everything, then submit the job (nothing is submitted when a check refuses)."""
    args = build_parser().parse_args(argv)
    cfg = check(args)
    folder = args.job_dir or os.path.join(cfg.OUTPUT_DIR, "submitit")
    tasks = max(1, args.gpus_per_node)  # one task per GPU (a CPU job: one)
    executor = build_executor(JobOptions.from_args(args), folder, f"ctc-{args.tool}", tasks)
    with PackageOnPath():
        job = executor.submit(ToolJob(args.tool, args.tool_args))
    print(f"{TOOL}: job {job.job_id} submitted ({args.tool}, {args.nodes} x {tasks} tasks); logs: {job.paths.stdout}")
    return Submission(job, args.cluster, args.tool, cfg.OUTPUT_DIR, args.max_timeouts)


def wait(submission: Submission) -> int:
    """Wait for a job of this machine and return its exit status; its end is one line."""
    job = submission.job
    failure = job.exception()
    if failure is not None:
        text = str(failure)
        if "timed-out too many times" in text:
            last = find_resume_checkpoint(submission.output_dir) or "none was written"
            raise _JobEndedError(
                f"job {job.job_id} reached its time limit more than --max-timeouts {submission.max_timeouts} times "
                f"and was not requeued; its last checkpoint is {last} (submit it again with --resume to continue)",
                PREEMPTED_STATUS,
            )
        raise _JobEndedError(f"job {job.job_id} failed ({failure_reason(failure)}); its logs: {job.paths.stderr}", 1)
    status = job.results()[0]
    if status == USER_ERROR_STATUS:  # the tool said why in the job's log: say it here too
        with open(job.paths.stderr) as f:
            said = [line.strip() for line in f if line.startswith(f"{TOOLS[submission.tool]}: error: ")]
        if said:
            raise _JobEndedError(said[-1], USER_ERROR_STATUS, verbatim=True)
        raise _JobEndedError(f"job {job.job_id} refused its input; its logs: {job.paths.stderr}", USER_ERROR_STATUS)
    if status:
        raise _JobEndedError(f"job {job.job_id} ended with status {status}; its logs: {job.paths.stderr}", status)
    print(f"{TOOL}: job {job.job_id} finished; logs: {job.paths.stdout}")
    return 0


class _JobEndedError(Exception):
    """A job of this machine ended without success: one line and the exit status."""

    def __init__(self, line: str, status: int, verbatim: bool = False) -> None:
        super().__init__(line)
        self.status = status
        self.verbatim = verbatim  # the tool's own line, printed as it is


def main(argv: Optional[List[str]] = None) -> int:
    ended = {"status": 0}

    def body() -> None:
        submission = submit(argv)
        if submission.cluster == "local":
            try:
                ended["status"] = wait(submission)
            except _JobEndedError as stopped:
                print(stopped if stopped.verbatim else f"{TOOL}: error: {stopped}", file=sys.stderr)
                ended["status"] = stopped.status

    return run(TOOL, body) or ended["status"]


if __name__ == "__main__":
    sys.exit(main())
