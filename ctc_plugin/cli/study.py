"""ctc-study: named pretraining arms over seeds, analysed and carried downstream, into one report.

    ctc-study --config-file configs/studies/tradeoff_study.yaml            # run, or continue
    ctc-study --config-file configs/studies/tradeoff_study.yaml --jobs 2   # two steps at a time
    ctc-study --config-file configs/studies/paper.yaml --cluster slurm --gpus-per-node 8 --partition learn
    ctc-study --config-file configs/studies/tradeoff_study.yaml --report-only

Steps, each through the tool a user would run, in its own process, for every seed of ``SEEDS``
and arm of ``ARMS``: pretraining (ctc-pretrain --resume), then, as soon as it ends, the arm's
temporal transferability (ctc-temporal-transfer), its information plane (ctc-estimate-mi), its
conversion for the downstream tasks (ctc-convert, verified) and each task of
``DOWNSTREAM.TASKS`` from its weights (Mask R-CNN through ctc-train-net, a fine-grained
fine-tune through ctc-finetune-fgvc), beside the same runs from a random initialisation.
Each step's progress shows here; its whole output is in OUTPUT_DIR/logs/. OUTPUT_DIR/report.md
(with its PNG plots), findings.json (every judged line: a paired test across seeds) and
results.json (every number by seed) are rewritten as steps finish. A rerun continues: the steps
that finished (OUTPUT_DIR/steps.json) are skipped.

--jobs N runs N independent steps at a time on this machine, each with the study's THREADS
(default: cores / N). --cluster slurm submits each arm-and-seed chain as a submitit job (one
machine, --gpus-per-node GPUs) that requeues itself on preemption, prints the job ids and
returns; the same command again collects what finished and submits what is missing.
--cluster local runs the same jobs here and waits. --report-only rebuilds the report,
findings.json and the plots from results.json without running anything.
"""

import logging
import signal
import sys
from typing import List, Optional

from ..config.checks import at_least
from ..study import ClusterOptions, rebuild_report, run_study
from . import COMMANDS
from .cluster_options import add_cluster_options, check_cluster_options
from .common import ArgumentParser, check_flags, run

TOOL = "study"
DEFAULT_CONFIG = "configs/studies/default.yaml"


def _show_progress(tool: str) -> logging.Handler:
    """The study's log lines (each step's command, progress and time) on stdout, as ``<tool>: ...``;
    returns the handler, which ``main`` removes when it returns."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"{tool}: %(message)s"))
    logger = logging.getLogger("ctc_plugin.study")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    return handler


def _stop(signum, frame) -> None:
    # A study stopped with SIGTERM (kill, a scheduler) stops its running steps too; each trainer
    # saves a checkpoint at its iteration, and the next run continues from it.
    raise KeyboardInterrupt


def build_parser(description: str, default_config: str) -> ArgumentParser:
    parser = ArgumentParser(description)
    parser.add_argument("--config-file", default=default_config, metavar="FILE")
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild report.md, findings.json and the plots from results.json"
    )
    parser.add_argument("--jobs", type=int, default=1, help="steps run at once on this machine (default 1)")
    parser.add_argument(
        "--cluster", choices=("slurm", "local"), default=None, help="run each arm-and-seed chain as a submitit job"
    )
    add_cluster_options(parser, nodes=False, gpus_per_node=0)
    parser.add_argument("opts", nargs="*", help="KEY VALUE overrides of the study config")
    return parser


def cluster_options(args) -> Optional[ClusterOptions]:
    """The submitit options of ``--cluster``, checked; None without it."""
    if args.cluster is None:
        return None
    check_cluster_options(args)
    return ClusterOptions.from_args(args)


def main(argv: Optional[List[str]] = None) -> int:
    return study_main(argv, TOOL, DEFAULT_CONFIG)


def study_main(argv: Optional[List[str]], tool: str, default_config: str) -> int:
    """ctc-study's main as ``tool`` (its lines' prefix), with ``default_config`` when no --config-file is given."""

    def body() -> None:
        args = build_parser(__doc__, default_config).parse_args(argv)
        check_flags(args, (at_least("jobs", 1),))
        cluster = cluster_options(args)
        handler = _show_progress(tool)
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            if args.report_only:
                path = rebuild_report(args.config_file, args.opts)
                print(f"{tool}: report rebuilt from results.json: {path}")
                return
            run_study(args.config_file, args.opts, COMMANDS, jobs=args.jobs, cluster=cluster)
        finally:
            logging.getLogger("ctc_plugin.study").removeHandler(handler)
            signal.signal(signal.SIGTERM, previous)

    return run(tool, body)


if __name__ == "__main__":
    sys.exit(main())
