#!/usr/bin/env python
"""A training tool as a submitit job that requeues itself, on SLURM or on this machine.

Installed with the package as the command ``ctc-submit`` (``ctc_plugin.cli.submit``).
"""

import sys

from ctc_plugin.cli.submit import main

if __name__ == "__main__":
    sys.exit(main())
