"""How a training job starts: its processes, and the run folder it holds while it trains.

Processes: Detectron2's ``launch`` starts ``--num-gpus`` per machine, unless ``torchrun`` or
``srun`` started this one (``ctc_plugin.utils.launcher``): then it joins their process group
(``ctc_plugin.engine.launch``). Collectives wait at most ``--dist-timeout`` minutes for a
process that is gone. Only ``launch`` imports Detectron2.

The run folder: the job's lock (``ctc_plugin.utils.run_lock``), and no fresh start over another
run's checkpoints unless ``--overwrite``.
"""

import argparse
import contextlib
import datetime
import logging
import multiprocessing
import os
import sys
from typing import Callable, Iterator, List, Sequence

from ..checkpoint.files import RUN_RECORDS, previous_run_files
from ..utils import signals
from ..utils.errors import UserError
from ..utils.launcher import detect_launcher
from ..utils.run_lock import RunLock
from .common import run


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
