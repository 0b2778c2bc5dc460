"""What every tool shares at its entry point: one argument convention, one line per refusal.

Every ``ctc_plugin.cli.<tool>.main(argv)`` returns its exit status: 0 on success, 2 when
input is refused (``<tool>: error: <one line>`` on stderr, never a traceback), 1 when a
launched process failed, 130 when interrupted. A launched worker process that fails ends
the whole job (``torch.multiprocessing`` stops the other processes) and the parent says so
in one line; a worker's own refusal is printed by the worker, and the parent exits with 2.
Collectives wait at most ``--dist-timeout`` minutes for a process that is gone.
"""

import argparse
import datetime
import sys
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from ..analysis.results import FORMATS
from ..utils.errors import UserError

# Exit status of input refused with one line (also a worker's, which printed its line itself).
USER_ERROR_STATUS = 2


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are a ``UserError``: one line, no usage block."""

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def training_parser(description: str) -> ArgumentParser:
    """Detectron2's command line for the tools that train: flags, then ``KEY VALUE`` overrides."""
    parser = ArgumentParser(description)
    parser.add_argument("--config-file", default="", metavar="FILE", help="path to config file")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR's newest complete checkpoint")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the weights, do not train")
    parser.add_argument("--num-gpus", type=int, default=1, help="processes per machine")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine")
    parser.add_argument("--dist-url", default="auto", help="tcp://HOST:PORT of machine 0 (auto: one machine)")
    parser.add_argument(
        "--dist-timeout", type=float, default=30.0, help="minutes a collective waits for a process that is gone"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides, after the flags")
    return parser


def parse_training_args(parser: ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse and check the process flags (one line each, like every other refusal)."""
    args = parser.parse_args(argv)
    if args.num_gpus < 1 or args.num_machines < 1 or not 0 <= args.machine_rank < args.num_machines:
        raise UserError("--num-gpus and --num-machines must be positive and --machine-rank below --num-machines")
    if args.num_machines > 1 and args.dist_url == "auto":
        raise UserError("several machines need --dist-url tcp://HOST:PORT of machine 0")
    return args


def sweep_parser(description: str, output_dir: str) -> Tuple[ArgumentParser, argparse._ArgumentGroup]:
    """The analysis tools' command line: the runs, the table, and (the returned group) checkpoints and compute."""
    parser = ArgumentParser(description)
    parser.add_argument("--run", action="append", required=True, metavar="DIR", help="pretraining run (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="legend name of each --run (default: its folder)")
    parser.add_argument("--output-dir", default=output_dir)
    parser.add_argument("--format", choices=FORMATS, default="csv", help="table format (default csv)")
    parser.add_argument("--resume", action="store_true", help="keep an existing table's rows, skip their checkpoints")
    compute = parser.add_argument_group("checkpoints and compute")
    compute.add_argument("--epochs", default="", help="comma-separated epochs (default all)")
    compute.add_argument("--every", type=int, default=1, help="every k-th checkpoint (the last always)")
    compute.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1")
    compute.add_argument("--feature-batch-size", type=int, default=256)
    compute.add_argument("--num-workers", type=int, default=2)
    return parser, compute


def train_epochs(trainer_class, cfg, args: argparse.Namespace) -> Dict[str, Any]:
    """What every process of an epoch trainer's tool runs: setup, resume, then train (or only evaluate)."""
    from ..engine import default_setup

    default_setup(cfg, args)
    trainer = trainer_class(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.test() if args.eval_only else trainer.train()


def int_list(values: Any, what: str) -> List[int]:
    """Integers from a config list or a comma-separated string ("" gives [])."""
    if isinstance(values, str):
        values = [v for v in values.replace(" ", "").split(",") if v]
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise UserError(f"{what} must be comma-separated integers, got {values!r}") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def run(tool: str, body: Callable[[], None]) -> int:
    """Run ``body`` and return the tool's exit status; every failure a user can act on is one line."""
    try:
        body()
    except UserError as e:
        print(f"{tool}: error: {e}", file=sys.stderr)
        return USER_ERROR_STATUS
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        return 130
    except ProcessRaisedException as e:
        print(
            f"{tool}: error: process {e.error_index} failed ({_last_line(str(e))}); "
            "the other processes were stopped; the traceback is in OUTPUT_DIR/log.txt",
            file=sys.stderr,
        )
        return 1
    except ProcessExitedException as e:
        if e.exit_code == USER_ERROR_STATUS:
            return USER_ERROR_STATUS  # the worker already said why
        how = f"was killed by {e.signal_name}" if e.signal_name else f"exited with status {e.exit_code}"
        print(
            f"{tool}: error: process {e.error_index} {how}; the other processes were stopped (continue with --resume)",
            file=sys.stderr,
        )
        return 1
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    return 0


class _Worker:
    """What ``launch`` runs in every process: ``train(args)``, a refusal being one line and exit 2.

    A class, not a closure, so that ``torch.multiprocessing`` can pickle it.
    """

    def __init__(self, train: Callable[[argparse.Namespace], None], tool: str) -> None:
        self.train = train
        self.tool = tool

    def __call__(self, args: argparse.Namespace) -> None:
        status = run(self.tool, lambda: self.train(args))
        if status:
            sys.exit(status)


def launch(train: Callable[[argparse.Namespace], None], args: argparse.Namespace, tool: str) -> None:
    """``detectron2.engine.launch`` of ``train(args)`` with the command line's process flags."""
    from detectron2.engine import launch as detectron2_launch

    detectron2_launch(
        _Worker(train, tool),
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
        timeout=datetime.timedelta(minutes=args.dist_timeout),
    )
