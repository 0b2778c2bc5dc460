"""The console and ``OUTPUT_DIR/log.txt`` handlers of every tool's loggers, with the standard library alone.

The lines read as Detectron2's ``setup_logger`` writes them (the same file format, the same
console prefix): the tools that train and the analyses write one kind of log, and the
analyses need no Detectron2.
"""

import atexit
import functools
import logging
import os
import sys
from typing import IO, Dict, Optional, Sequence

from .distributed import rank

# The loggers whose lines reach the console and OUTPUT_DIR/log.txt, and their short names there.
LOGGERS = {"ctc_plugin": "ctc", "detectron2": "d2", "fvcore": "fvcore", "timm": "timm"}
DATE_FORMAT = "%m/%d %H:%M:%S"


class _ConsoleFormatter(logging.Formatter):
    """``[time ctc.engine.trainer]: message``, warnings and errors prefixed with their level."""

    def __init__(self, name: str, abbrev: str) -> None:
        super().__init__("[%(asctime)s %(short_name)s]: %(message)s", datefmt=DATE_FORMAT)
        self._name, self._abbrev = name, abbrev

    def format(self, record: logging.LogRecord) -> str:
        record.short_name = self._abbrev + record.name[len(self._name) :]
        line = super().format(record)
        return f"{record.levelname} {line}" if record.levelno >= logging.WARNING else line


@functools.cache
def _log_file(path: str) -> IO[str]:
    """One stream a file, shared by every logger that writes there (append, closed at exit)."""
    stream = open(path, "a")
    atexit.register(stream.close)
    return stream


@functools.cache  # one console handler a logger, however many runs the process sets up
def _add_console(name: str, abbrev: str) -> None:
    console = logging.StreamHandler(stream=sys.stdout)
    console.setFormatter(_ConsoleFormatter(name, abbrev))
    logging.getLogger(name).addHandler(console)


_file_handlers: Dict[str, logging.Handler] = {}  # a logger's handler on the log.txt of its latest run


def _log_to_file(name: str, path: str) -> None:
    """Lines of ``name`` go to ``path`` from now on, no longer to the log of an earlier run in this process."""
    handler = _file_handlers.get(name)
    if handler is not None and handler.stream is _log_file(path):
        return
    logger = logging.getLogger(name)
    if handler is not None:
        logger.removeHandler(handler)
    handler = _file_handlers[name] = logging.StreamHandler(_log_file(path))
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(name)s %(levelname)s: %(message)s", DATE_FORMAT))
    logger.addHandler(handler)


def _setup_logger(name: str, abbrev: str, output_dir: Optional[str], process: int) -> None:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if process == 0:
        _add_console(name, abbrev)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        _log_to_file(name, os.path.join(output_dir, "log.txt") + (f".rank{process}" if process > 0 else ""))


def setup_logging(output_dir: Optional[str] = None, names: Sequence[str] = tuple(LOGGERS)) -> logging.Logger:
    """Console (first process only) and ``output_dir/log.txt`` handlers (``log.txt.rank<r>`` on the
    other processes) on the loggers ``names``; returns the plugin's logger.

    A logger has one console handler however often it is set up; a later run's ``output_dir``
    takes its file lines from an earlier one's.
    """
    for name in names:
        _setup_logger(name, LOGGERS.get(name, name), output_dir or None, rank())
    return logging.getLogger("ctc_plugin")
