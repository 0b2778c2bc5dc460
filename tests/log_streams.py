"""Test helper: tools run in the test process set up their console log handlers once (Detectron2
caches ``setup_logger``), on the stdout of the test that ran first; a later test finds them
writing to that test's closed capture stream ("--- Logging error ---" on stderr)."""

import logging
import sys


class CurrentStdout:
    """Writes to whatever ``sys.stdout`` is when it writes (this test's capture)."""

    closed = False

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def rebind_closed_log_streams() -> None:
    """Point every console handler whose stream is closed at the current ``sys.stdout``, from now on."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and getattr(handler.stream, "closed", False):
                handler.stream = CurrentStdout()  # not setStream: it would flush the closed one
