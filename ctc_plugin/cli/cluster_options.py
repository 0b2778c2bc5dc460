"""The options of a submitit job, shared by ``ctc-submit`` (one tool) and ``ctc-study --cluster`` (a study)."""

import argparse

from ..config.checks import at_least
from ..utils.errors import UserError

# SLURM's own options, passed on as they are.
from ..utils.jobs import SLURM_OPTIONS  # noqa: E402
from .common import check_flags

# The options' bounds (--nodes where the tool has it; --cpus-per-task and --mem-gb where given).
CLUSTER_RULES = (
    at_least("gpus_per_node", 0),
    at_least("timeout_min", 1),
    at_least("max_timeouts", 0),
    at_least("nodes", 1),
    at_least("cpus_per_task", 1),
    at_least("mem_gb", 1),
)


def add_cluster_options(parser: argparse.ArgumentParser, nodes: bool = True, gpus_per_node: int = 1) -> None:
    """``--nodes`` (unless ``nodes`` is False), ``--gpus-per-node``, the time limits, SLURM's options."""
    if nodes:
        parser.add_argument("--nodes", type=int, default=1, help="machines (default 1)")
    parser.add_argument(
        "--gpus-per-node", type=int, default=gpus_per_node, help=f"GPUs per machine (default {gpus_per_node})"
    )
    parser.add_argument("--cpus-per-task", type=int, default=None, help="CPU cores per task")
    parser.add_argument("--mem-gb", type=int, default=None, help="memory per machine, GB")
    parser.add_argument("--timeout-min", type=int, default=4320, help="time limit of each start, minutes")
    parser.add_argument("--max-timeouts", type=int, default=3, help="requeues after the time limit (preemptions: any)")
    parser.add_argument(
        "--signal-delay-s", type=int, default=120, help="SLURM sends the signal this long before the limit"
    )
    parser.add_argument("--job-dir", default="", metavar="DIR", help="submitit's folder and logs (OUTPUT_DIR/submitit)")
    parser.add_argument("--job-name", default="", help="SLURM job name")
    for name in SLURM_OPTIONS:
        parser.add_argument(f"--{name}", default="", help=f"SLURM --{name}")


def check_cluster_options(args: argparse.Namespace) -> None:
    """Refuse, with one line, options no job can run with."""
    check_flags(args, CLUSTER_RULES)
    if args.signal_delay_s < 0 or args.signal_delay_s >= 60 * args.timeout_min:
        raise UserError(f"--signal-delay-s {args.signal_delay_s} must lie in [0, --timeout-min x 60)")
    if args.cluster == "local" and getattr(args, "nodes", 1) != 1:
        raise UserError("--cluster local runs on this machine: --nodes 1")
