#!/usr/bin/env python
"""A study of named pretraining arms over seeds, analysed and carried downstream, into one report.

Installed with the package as the command ``ctc-study`` (``ctc_plugin.cli.study``).
"""

import sys

from ctc_plugin.cli.study import main

if __name__ == "__main__":
    sys.exit(main())
