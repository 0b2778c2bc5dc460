#!/usr/bin/env python
"""CTC (or baseline) pretraining on one process, several GPUs or several machines.

Installed with the package as the command ``ctc-pretrain`` (``ctc_plugin.cli.pretrain``).
"""

import sys

from ctc_plugin.cli.pretrain import main

if __name__ == "__main__":
    sys.exit(main())
