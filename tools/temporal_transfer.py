#!/usr/bin/env python
"""A linear probe on a target dataset for every checkpoint of pretraining runs.

Installed with the package as the command ``ctc-temporal-transfer`` (``ctc_plugin.cli.temporal_transfer``).
"""

import sys

from ctc_plugin.cli.temporal_transfer import main

if __name__ == "__main__":
    sys.exit(main())
