"""Fine-grained transfer (CUB-200-2011, FGVC-Aircraft, iNaturalist-2018) with timm.

Importing this package needs torch alone; the datasets are ``ctc_plugin.data``'s
(``cub200_train``, ``aircraft_test``, ...). The timm and Detectron2 bridges
(``fgvc.model``, ``fgvc.trainer``) are imported by the tool that runs them.
"""

from .config import add_fgvc_config, get_fgvc_cfg

__all__ = ["add_fgvc_config", "get_fgvc_cfg"]
