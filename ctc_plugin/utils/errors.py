"""The one exception type the tools turn into a single line and a non-zero exit."""


class UserError(Exception):
    """Bad input a user can fix: a missing dataset, a wrong checkpoint, a typo in a key.

    The message is one line that names the problem; tools print it without a traceback.
    """


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when it has none), at most ``limit`` characters."""
    lines = str(error).strip().splitlines()
    line = lines[0].strip() if lines else type(error).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
