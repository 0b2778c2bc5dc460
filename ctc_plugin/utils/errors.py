"""The one exception type the tools turn into a single line and a non-zero exit."""


class UserError(Exception):
    """Bad input a user can fix: a missing dataset, a wrong checkpoint, a typo in a key.

    The message is one line that names the problem; tools print it without a traceback.
    """
