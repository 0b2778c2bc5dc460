"""A user error raised inside a training step reaches the user as the tool's one line alone.

Detectron2's ``TrainerBase.train`` logs every exception of the loop with its traceback
(``logger.exception("Exception during training:")``) before re-raising it. For a
``UserError`` (an unreadable image, a non-finite loss, a dead loader worker) that traceback
is noise above the line the tool prints: the filter drops that one record, and nothing else.
"""

import logging

from ..utils.errors import UserError

TRAIN_LOOP_LOGGER = "detectron2.engine.train_loop"


class UserErrorRecordFilter(logging.Filter):
    """Drops the records that carry a ``UserError`` as their exception; passes every other one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], UserError))


def quiet_user_errors_in_training_loop() -> None:
    """Install the filter on Detectron2's training-loop logger (once per process)."""
    loop_logger = logging.getLogger(TRAIN_LOOP_LOGGER)
    if not any(isinstance(f, UserErrorRecordFilter) for f in loop_logger.filters):
        loop_logger.addFilter(UserErrorRecordFilter())
