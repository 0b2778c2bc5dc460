"""The tools that train (ctc-pretrain, ctc-finetune-fgvc, ctc-train-net): one command line, one skeleton.

The command line is Detectron2's ``default_argument_parser`` (flags, then ``KEY VALUE``
overrides) with the plugin's flags added and its errors made one line. ``TrainingTool`` is what
happens with it: the config, the checks before any process starts or any file is written, the
run folder held, the processes launched, and in each of them setup, resume, then training (with
a checkpoint at a preemption's iteration) or only evaluation. A tool subclasses it for one
trainer and overrides only what differs, as Detectron2's ``train_net.py`` subclasses
``DefaultTrainer``. Importing this imports Detectron2; the analysis tools do not.
"""

import argparse
from typing import Any, List, Optional, Sequence

from detectron2.engine import default_argument_parser
from fvcore.common.config import CfgNode

from ..config import merge_config
from ..config.checks import positive
from ..engine import PreemptionHook, default_setup
from ..utils import signals
from ..utils.errors import PREEMPTED_STATUS, UserError
from ..utils.launcher import detect_launcher
from .common import argument_error, check_flags, run
from .launching import hold_output_dir, launch, world_size


def training_parser(description: str) -> argparse.ArgumentParser:
    """Detectron2's command line, its errors one line, with ``--overwrite``, ``--dist-timeout``
    and ``--preemption-signals``; ``--dist-url`` is ``auto`` by default (one machine, a free port)."""
    parser = default_argument_parser()
    parser.description = description
    parser.error = argument_error  # one line, no usage block, as every tool's refusal
    parser.set_defaults(dist_url="auto")
    parser.epilog = f"--dist-url auto (the default): one machine, on a free port.\n{parser.epilog}"
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an OUTPUT_DIR that holds another run's checkpoints: delete them (and its "
        "metrics.json, results.json) first",
    )
    parser.add_argument(
        "--dist-timeout", type=float, default=30.0, help="minutes a collective waits for a process that is gone"
    )
    parser.add_argument(
        "--preemption-signals",
        default=",".join(signals.DEFAULT_SIGNALS),
        metavar="NAMES",
        help="signals that stop training after the current iteration with a checkpoint, exit status "
        f"{PREEMPTED_STATUS} (default %(default)s; none: off)",
    )
    return parser


def parse_training_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse and check the process flags (one line each, like every other refusal)."""
    args = parser.parse_args(argv)
    if args.num_gpus < 1 or args.num_machines < 1 or not 0 <= args.machine_rank < args.num_machines:
        raise UserError("--num-gpus and --num-machines must be positive and --machine-rank below --num-machines")
    if args.num_machines > 1 and args.dist_url == "auto":
        raise UserError("several machines need --dist-url tcp://HOST:PORT of machine 0")
    check_flags(args, [positive("dist_timeout")])
    if args.resume and args.overwrite:
        raise UserError("--resume continues OUTPUT_DIR's run and --overwrite deletes it: give one of them")
    names = "" if args.preemption_signals.lower() == "none" else args.preemption_signals
    args.preemption_signals = list(signals.signal_numbers(names.split(",")).values())
    launched = detect_launcher()
    if launched is not None and (args.num_gpus > 1 or args.num_machines > 1):
        raise UserError(
            f"{launched.launcher} started {launched.world_size} processes: drop --num-gpus and --num-machines"
        )
    return args


class TrainingTool:
    """A tool that trains with one trainer: ``main(argv)`` returns its exit status (``common.run``).

    The defaults are an epoch trainer's (``ctc_plugin.engine.EpochTrainer``): ``check_inputs``,
    ``test`` and ``periodic_checkpointer.save_iteration``, whose file a preemption writes. A
    subclass sets ``name`` (its lines' prefix), ``description`` (its ``--help``) and ``trainer``,
    gives ``default_config`` and overrides what else differs. Instances keep no state, so that
    ``torch.multiprocessing`` can send ``process`` to the processes it starts.
    """

    name: str = ""
    description: str = ""
    trainer: Any = None  # the trainer class: trainer(cfg), resume_or_load, train
    config_example: str = ""  # set: --config-file is required ("e.g. <config_example>")

    def default_config(self) -> CfgNode:
        raise NotImplementedError

    def build_config(self, args: argparse.Namespace) -> CfgNode:
        """The defaults, the config file and the overrides, frozen.

        Raises:
            UserError: no config file where one is required, an unknown key, a bad value.
        """
        if self.config_example and not args.config_file:
            raise UserError(f"--config-file is required, e.g. {self.config_example}")
        cfg = merge_config(self.default_config(), args.config_file, args.opts)
        cfg.freeze()
        return cfg

    def check_inputs(self, cfg: CfgNode, args: argparse.Namespace, processes: int) -> None:
        """Refuse bad input with one line (``UserError``) for a job of ``processes`` processes."""
        self.trainer.check_inputs(cfg, resume=args.resume, world_size=processes)

    def check(self, args: argparse.Namespace, processes: int) -> CfgNode:
        """The frozen config, after refusing bad input with one line, for a job of ``processes`` processes."""
        cfg = self.build_config(args)
        self.check_inputs(cfg, args, processes)
        return cfg

    def setup(self, cfg: CfgNode, args: argparse.Namespace) -> None:
        """Logging, seeds and threads, first in every process."""
        default_setup(cfg, args)

    def train(self, cfg: CfgNode, args: argparse.Namespace) -> Any:
        """Resume or load, then train; a preemption signal stops it with a checkpoint at its iteration."""
        trainer = self.trainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        if args.preemption_signals:
            save = trainer.periodic_checkpointer.save_iteration
            trainer.register_hooks([PreemptionHook(save, args.preemption_signals)])
        return trainer.train()

    def evaluate(self, cfg: CfgNode, args: argparse.Namespace) -> Any:
        """``--eval-only``: test the weights (OUTPUT_DIR's newest checkpoint with ``--resume``)."""
        trainer = self.trainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        return trainer.test()

    def report(self, cfg: CfgNode, results: Any) -> None:
        """Say what came of it, in every process (a tool's override decides which speak)."""

    def process(self, args: argparse.Namespace) -> None:
        """What every process runs."""
        cfg = self.build_config(args)
        self.setup(cfg, args)
        self.report(cfg, self.evaluate(cfg, args) if args.eval_only else self.train(cfg, args))

    def parse_args(self, argv: Optional[List[str]]) -> argparse.Namespace:
        return parse_training_args(training_parser(self.description), argv)

    def main(self, argv: Optional[List[str]] = None) -> int:
        def body() -> None:
            args = self.parse_args(argv)
            # Bad input is one line here, before any process is started or any file written.
            cfg = self.check(args, world_size(args))
            with hold_output_dir(cfg.OUTPUT_DIR, args, keep=[cfg.MODEL.WEIGHTS]):
                launch(self.process, args, self.name)

        return run(self.name, body)
