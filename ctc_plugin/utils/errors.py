"""The one exception type the tools turn into a single line and a non-zero exit."""

_WORKER_TRACEBACK = "Original Traceback (most recent call last):"


class UserError(Exception):
    """Bad input a user can fix: a missing dataset, a wrong checkpoint, a typo in a key.

    The message is one line that names the problem; tools print it without a traceback. Raised
    in a data loader worker, it reaches the training process re-created by the loader from
    "Caught UserError in DataLoader worker process 0. Original Traceback ...": that is reduced
    back to the worker's one line.
    """

    def __init__(self, message: str = "", *args) -> None:
        if _WORKER_TRACEBACK in message:
            last = message.strip().splitlines()[-1]
            message = last.split(": ", 1)[1] if ": " in last else last
        super().__init__(message, *args)


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when it has none), at most ``limit`` characters."""
    lines = str(error).strip().splitlines()
    line = lines[0].strip() if lines else type(error).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


# Exit status of a run stopped by a preemption signal after writing its checkpoint: a requeue
# script tests for it (os.EX_TEMPFAIL, "try again later").
PREEMPTED_STATUS = 75


class Preempted(BaseException):
    """A preemption signal stopped the run after an iteration, with a checkpoint at that iteration.

    A ``BaseException``, like ``KeyboardInterrupt``: an orderly stop, which the training loop
    must not log as an error. The message is one line.
    """
