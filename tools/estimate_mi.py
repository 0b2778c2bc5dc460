#!/usr/bin/env python
"""The information plane, I(X;T) and I(T;Y) by MINE for every checkpoint of pretraining runs.

Installed with the package as the command ``ctc-estimate-mi`` (``ctc_plugin.cli.estimate_mi``).
"""

import sys

from ctc_plugin.cli.estimate_mi import main

if __name__ == "__main__":
    sys.exit(main())
