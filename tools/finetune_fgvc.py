#!/usr/bin/env python
"""Fine-grained fine-tuning with timm (appendix A.3): CUB-200-2011, FGVC-Aircraft, iNat-2018.

Installed with the package as the command ``ctc-finetune-fgvc`` (``ctc_plugin.cli.finetune_fgvc``).
"""

import sys

from ctc_plugin.cli.finetune_fgvc import main

if __name__ == "__main__":
    sys.exit(main())
