"""What every tool shares at its entry point: bad input is one line and exit status 2.

A launched worker process that fails ends the whole job (``torch.multiprocessing`` stops the
other processes, SIGTERM then SIGKILL after 30 s) and the parent says so in one line with
exit status 1; a worker's own ``UserError`` is printed by the worker (``worker``) and the
parent exits with its status 2. Collectives wait at most ``--dist-timeout`` minutes for a
process that is gone (another machine's, say) before they fail.
"""

import argparse
import datetime
import sys
from typing import Callable, NoReturn

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from ctc_plugin.utils.errors import UserError

# Exit status of a worker that already printed its one-line error.
USER_ERROR_STATUS = 2


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are a ``UserError`` (one line, no usage block)."""

    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def add_dist_timeout(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--dist-timeout MINUTES``: how long a collective waits for a missing process."""
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=30.0,
        help="minutes a collective operation waits for a process that is gone before the job stops",
    )
    return parser


def dist_timeout(args: argparse.Namespace) -> datetime.timedelta:
    return datetime.timedelta(minutes=getattr(args, "dist_timeout", 30.0))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def run(main: Callable[[], None], tool: str) -> None:
    """Run ``main``; a ``UserError`` prints ``tool: error: ...`` and exits with 2.

    A failed worker of ``detectron2.engine.launch`` is one line too (exit status 1), or
    nothing more when the worker printed its own ``UserError`` (exit status 2).
    """
    try:
        main()
    except UserError as e:
        print(f"{tool}: error: {e}", file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        sys.exit(130)
    except ProcessRaisedException as e:
        print(
            f"{tool}: error: process {e.error_index} failed ({_last_line(str(e))}); "
            "the other processes were stopped; the traceback is in OUTPUT_DIR/log.txt",
            file=sys.stderr,
        )
        sys.exit(1)
    except ProcessExitedException as e:
        if e.exit_code == USER_ERROR_STATUS:
            sys.exit(USER_ERROR_STATUS)  # the worker already said why
        how = f"was killed by {e.signal_name}" if e.signal_name else f"exited with status {e.exit_code}"
        print(
            f"{tool}: error: process {e.error_index} {how}; the other processes were stopped (continue with --resume)",
            file=sys.stderr,
        )
        sys.exit(1)


class Worker:
    """``main`` for ``launch``: in a spawned process its ``UserError`` is one line and exit 2.

    A class, not a closure, so that ``torch.multiprocessing`` can pickle it.
    """

    def __init__(self, main: Callable[..., None], tool: str) -> None:
        self.main = main
        self.tool = tool

    def __call__(self, *args) -> None:
        run(lambda: self.main(*args), self.tool)


def launch_tool(main: Callable[[argparse.Namespace], None], args: argparse.Namespace, tool: str) -> None:
    """``detectron2.engine.launch`` of ``main(args)`` with the command line's process flags."""
    from detectron2.engine import launch

    launch(
        Worker(main, tool),
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
        timeout=dist_timeout(args),
    )
