"""What every tool shares at its entry point: bad input is one line and exit status 2."""

import sys
from typing import Callable

from ctc_plugin.utils.errors import UserError


def run(main: Callable[[], None], tool: str) -> None:
    """Run ``main``; a ``UserError`` prints ``tool: error: ...`` and exits with 2."""
    try:
        main()
    except UserError as e:
        print(f"{tool}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        sys.exit(130)
