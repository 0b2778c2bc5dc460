#!/usr/bin/env python
"""The whole pipeline on real data, with a report (the README's first command).

Installed with the package as the command ``ctc-demo`` (``ctc_plugin.cli.demo``).
"""

import sys

from ctc_plugin.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())
