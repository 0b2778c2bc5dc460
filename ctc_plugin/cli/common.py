"""What every tool shares at its entry point: one argument convention, one line per refusal.

Every ``ctc_plugin.cli.<tool>.main(argv)`` returns its exit status: 0 on success, 2 when
input is refused (``<tool>: error: <one line>`` on stderr, never a traceback), 1 when a
launched process failed, 75 when a preemption signal stopped training with a checkpoint,
130 when interrupted. A launched worker process that fails ends the whole job
(``torch.multiprocessing`` stops the other processes) and the parent says so in one line; a
worker's own refusal is printed by the worker, and the parent exits with 2.

The trainers' command line and skeleton are in ``training.py``, how they start their processes
and hold their run folder in ``launching.py``, the analysis tools' in ``sweep_tool.py``.
"""

import argparse
import sys
from typing import Any, Callable, Iterable, List, NoReturn

from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from ..config.checks import Rule
from ..utils.errors import PREEMPTED_STATUS, Preempted, UserError
from ..utils.launcher import detect_launcher

# Exit status of input refused with one line (also a worker's, which printed its line itself).
USER_ERROR_STATUS = 2


def argument_error(message: str) -> NoReturn:
    """An argument parser's ``error``: a ``UserError``, so one line and no usage block."""
    raise UserError(message)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose errors are a ``UserError``: one line, no usage block."""

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        argument_error(message)


def check_flags(args: argparse.Namespace, rules: Iterable[Rule]) -> None:
    """Refuse, with one line, a flag out of its range (``--every 0 must be positive``).

    ``rules`` are the config's (``ctc_plugin.config.checks``), keyed by the flag's attribute
    (``feature_batch_size`` is ``--feature-batch-size``). A flag left unset (None) or one the
    tool does not have is skipped, as ``check_values`` skips a key a config does not have.
    """
    for rule in rules:
        value = getattr(args, rule.key, None)
        if value is not None:
            rule.check(value, "--" + rule.key.replace("_", "-"))


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
