"""ctc-demo: a whole study on real data, with a report (the README's first command).

    ctc-demo                                                      # Fashion-MNIST on 2 CPU cores
    ctc-demo --config-file configs/demo/tradeoff_study.yaml      # the trade-off study
    ctc-demo --config-file configs/demo/paper.yaml               # the paper's scale, real datasets

Steps, each through the tool a user would run, in its own process, for every seed of
``SEEDS``: pretrain every arm of ``ARMS`` (ctc-pretrain --resume), temporal transferability
(ctc-temporal-transfer) and the information plane (ctc-estimate-mi) of all arms, conversion
of the arms that ``DOWNSTREAM.INITS`` names to Detectron2 and timm with verification
(ctc-convert), then a short Mask R-CNN run with evaluation (ctc-train-net) and a fine-grained
fine-tune (ctc-finetune-fgvc) from each initialisation: those arms' weights and a random one,
same recipe and seed. Each step's progress and ETA show here; its whole output is in
OUTPUT_DIR/logs/. Writes OUTPUT_DIR/report.md beside the PNG plots (over several seeds: means,
standard deviations, bands, and each arm's seed-paired difference from the reference arm) and
OUTPUT_DIR/results.json with every number by seed, after every seed. A rerun continues: the
steps that finished (OUTPUT_DIR/steps.json) are skipped. ``--report-only`` rebuilds the report
and plots from results.json without running anything.
"""

import logging
import signal
import sys
from typing import List, Optional

from ..study import rebuild_report, run_study
from . import COMMANDS
from .common import ArgumentParser, run

TOOL = "demo"


def _show_progress() -> logging.Handler:
    """The study's log lines (each step's command, progress and time) on stdout, as ``demo: ...``;
    returns the handler, which ``main`` removes when it returns."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"{TOOL}: %(message)s"))
    logger = logging.getLogger("ctc_plugin.study")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    return handler


def _stop(signum, frame) -> None:
    # A study stopped with SIGTERM (kill, a scheduler) stops its running step too; that step's
    # trainer saves a checkpoint at its iteration, and the next run continues from it.
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        parser = ArgumentParser(__doc__)
        parser.add_argument("--config-file", default="configs/demo/default.yaml", metavar="FILE")
        parser.add_argument(
            "--report-only", action="store_true", help="rebuild report.md and the plots from OUTPUT_DIR/results.json"
        )
        parser.add_argument("opts", nargs="*", help="KEY VALUE overrides of the study config")
        args = parser.parse_args(argv)
        handler = _show_progress()
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            if args.report_only:
                path = rebuild_report(args.config_file, args.opts)
                print(f"{TOOL}: report rebuilt from results.json: {path}")
                return
            run_study(args.config_file, args.opts, COMMANDS)
        finally:
            logging.getLogger("ctc_plugin.study").removeHandler(handler)
            signal.signal(signal.SIGTERM, previous)

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
