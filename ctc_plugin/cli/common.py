"""What every tool shares at its entry point: one argument convention, one line per refusal.

Every ``ctc_plugin.cli.<tool>.main(argv)`` returns its exit status: 0 on success, 2 when
input is refused (``<tool>: error: <one line>`` on stderr, never a traceback), 1 when a
launched process failed, 75 when a preemption signal stopped training with a checkpoint,
130 when interrupted. A launched worker process that fails ends the whole job
(``torch.multiprocessing`` stops the other processes) and the parent says so in one line; a
worker's own refusal is printed by the worker, and the parent exits with 2. Collectives wait
at most ``--dist-timeout`` minutes for a process that is gone.

Processes: Detectron2's ``launch`` starts ``--num-gpus`` per machine, unless ``torchrun`` or
``srun`` started this one (``ctc_plugin.utils.launcher``): then it joins their process group
(``ctc_plugin.engine.launch``). Only ``launch`` and ``train_epochs`` import Detectron2.
"""

import argparse
import contextlib
import datetime
import logging
import multiprocessing
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from ..analysis.results import FORMATS
from ..checkpoint.files import RUN_RECORDS, previous_run_files
from ..utils import signals
from ..utils.errors import PREEMPTED_STATUS, Preempted, UserError
from ..utils.launcher import detect_launcher
from ..utils.run_lock import RunLock

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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an OUTPUT_DIR that holds another run's checkpoints: delete them (and its "
        "metrics.json, results.json) first",
    )
    parser.add_argument("--eval-only", action="store_true", help="evaluate the weights, do not train")
    parser.add_argument("--num-gpus", type=int, default=1, help="processes per machine")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine")
    parser.add_argument("--dist-url", default="auto", help="tcp://HOST:PORT of machine 0 (auto: one machine)")
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
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides, after the flags")
    return parser


def parse_training_args(parser: ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse and check the process flags (one line each, like every other refusal)."""
    args = parser.parse_args(argv)
    if args.num_gpus < 1 or args.num_machines < 1 or not 0 <= args.machine_rank < args.num_machines:
        raise UserError("--num-gpus and --num-machines must be positive and --machine-rank below --num-machines")
    if args.num_machines > 1 and args.dist_url == "auto":
        raise UserError("several machines need --dist-url tcp://HOST:PORT of machine 0")
    if args.dist_timeout <= 0:
        raise UserError(f"--dist-timeout must be positive minutes, got {args.dist_timeout}")
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


def world_size(args: argparse.Namespace) -> int:
    """The number of training processes the job will have."""
    launched = detect_launcher()
    return launched.world_size if launched is not None else args.num_gpus * args.num_machines


@contextlib.contextmanager
def hold_output_dir(output_dir: str, args: argparse.Namespace, keep: Sequence[str] = ()) -> Iterator[None]:
    """While a job trains in ``output_dir``: its lock (``ctc_plugin.utils.run_lock``), taken by
    the first process of the job only, and no fresh start over another run's checkpoints.

    Without ``--resume`` a folder with checkpoints is refused, unless ``--overwrite``: then
    they, ``metrics.json`` and ``results.json`` are deleted (never a file of ``keep``, such as
    the initial weights). ``--eval-only`` trains nothing and holds nothing.

    Raises:
        UserError: another run holds the folder, or a fresh start would mix with another run's files.
    """
    launched = detect_launcher()
    first = launched.rank == 0 if launched is not None else args.machine_rank == 0
    if args.eval_only or not first:
        yield
        return
    with RunLock(output_dir):
        _start_afresh(output_dir, args, keep)
        yield


def check_fresh_start(output_dir: str, args: argparse.Namespace, keep: Sequence[str] = ()) -> List[str]:
    """The previous run's checkpoints a fresh start would delete (``--overwrite``); [] with ``--resume``.

    Raises:
        UserError: a fresh start without ``--overwrite`` into a folder with another run's checkpoints.
    """
    if args.resume or args.eval_only:
        return []
    kept = {os.path.abspath(path) for path in keep if path}
    found = [path for path in previous_run_files(output_dir) if os.path.abspath(path) not in kept]
    if found and not args.overwrite:
        names = ", ".join(os.path.basename(path) for path in found[:3]) + (", ..." if len(found) > 3 else "")
        raise UserError(
            f"OUTPUT_DIR {output_dir} holds another run's checkpoints ({names}): continue it with --resume, "
            "or start over with --overwrite (deletes them)"
        )
    return found


def _start_afresh(output_dir: str, args: argparse.Namespace, keep: Sequence[str]) -> None:
    found = check_fresh_start(output_dir, args, keep)
    if not found:
        return
    found += [os.path.join(output_dir, name) for name in RUN_RECORDS if os.path.isfile(os.path.join(output_dir, name))]
    for path in found:
        os.remove(path)
    logger = logging.getLogger("ctc_plugin")
    logger.warning(f"--overwrite: deleted {len(found)} files of the previous run in {output_dir}")


def check_flags(
    args: argparse.Namespace,
    positive: Sequence[str] = (),
    non_negative: Sequence[str] = (),
    fraction: Sequence[str] = (),
) -> None:
    """Refuse, with one line, a numeric flag out of its range (flags left unset are skipped)."""
    ranges = [(positive, lambda v: v > 0, "be positive"), (non_negative, lambda v: v >= 0, "be 0 or more")]
    ranges.append((fraction, lambda v: 0 <= v < 1, "be in [0, 1)"))
    for names, holds, requirement in ranges:
        for name in names:
            value = getattr(args, name)
            if value is not None and not holds(value):
                raise UserError(f"--{name.replace('_', '-')} {value} must {requirement}")


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
    from ..engine import PreemptionHook, default_setup

    default_setup(cfg, args)
    trainer = trainer_class(cfg)
    trainer.resume_or_load(resume=args.resume)
    if args.eval_only:
        return trainer.test()
    if args.preemption_signals:
        trainer.register_hooks([PreemptionHook(trainer.periodic_checkpointer.save_iteration, args.preemption_signals)])
    return trainer.train()


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


def _reports(every_rank: bool = True) -> bool:
    """Whether this process prints the job's line. Before the process group forms, a launcher's
    processes all check the same input: only its first one says what is wrong. Afterwards every
    process reports its own failure, and only rank 0 what they share (``every_rank=False``)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return every_rank or dist.get_rank() == 0
    try:
        launched = detect_launcher()
    except UserError:
        return True
    return launched is None or launched.rank == 0


def run(tool: str, body: Callable[[], None]) -> int:
    """Run ``body`` and return the tool's exit status; every failure a user can act on is one line."""
    try:
        body()
    except UserError as e:
        if _reports():
            print(f"{tool}: error: {e}", file=sys.stderr)
        return USER_ERROR_STATUS
    except Preempted as e:
        if _reports(every_rank=False):
            print(f"{tool}: {e}", file=sys.stderr)
        return PREEMPTED_STATUS
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
        if e.exit_code in (USER_ERROR_STATUS, PREEMPTED_STATUS):
            return e.exit_code  # the first worker already said why
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

    The preemption signals are watched from here on, when it trains. A class, not a closure,
    so that ``torch.multiprocessing`` can pickle it.
    """

    def __init__(self, train: Callable[[argparse.Namespace], None], tool: str) -> None:
        self.train = train
        self.tool = tool

    def __call__(self, args: argparse.Namespace) -> None:
        if not args.eval_only:
            signals.watch(args.preemption_signals)
            # A process that Detectron2's launch spawned would spawn its loader workers too; fork
            # them, as a single-process run does, so that they keep the preemption signals blocked.
            if multiprocessing.get_start_method(allow_none=True) != "fork" and sys.platform == "linux":
                multiprocessing.set_start_method("fork", force=True)
        try:
            status = run(self.tool, lambda: self.train(args))
        finally:
            signals.unwatch()
        if status:
            sys.exit(status)


def launch(train: Callable[[argparse.Namespace], None], args: argparse.Namespace, tool: str) -> None:
    """Run ``train(args)`` in every process of the job.

    Under ``torchrun`` or ``srun`` this process joins their process group and runs it itself;
    otherwise ``detectron2.engine.launch`` starts ``--num-gpus`` processes (or runs it here when
    that is one), and this process passes the preemption signals on to them.
    """
    from detectron2.engine import launch as detectron2_launch

    from ..engine.launch import join_process_group

    timeout = datetime.timedelta(minutes=args.dist_timeout)
    launched = detect_launcher()
    if launched is not None:
        join_process_group(launched, timeout)
        _Worker(train, tool)(args)
        return
    # The processes' own lines say why they stopped; not torch's "Terminating process ..." as well.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    with signals.ForwardToChildren(args.preemption_signals if args.num_gpus * args.num_machines > 1 else []):
        detectron2_launch(
            _Worker(train, tool),
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
            timeout=timeout,
        )
