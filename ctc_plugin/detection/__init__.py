"""The Detectron2 bridge: importing it registers ``build_ctc_resnet_fpn_backbone`` and ``build_ctc_timm_fpn_backbone``.

Use in a Detectron2 script::

    import ctc_plugin.detection  # registers the backbone
    cfg = add_ctc_config(get_cfg())
    cfg.merge_from_file("configs/coco_maskrcnn_ctc.yaml")
"""

from .backbone import build_ctc_resnet, build_ctc_resnet_fpn_backbone
from .checkpoint import CTCDetectionCheckpointer
from .config import add_ctc_config
from .timm_backbone import TimmBottomUp, build_ctc_timm_fpn_backbone

__all__ = [
    "CTCDetectionCheckpointer",
    "TimmBottomUp",
    "add_ctc_config",
    "build_ctc_resnet",
    "build_ctc_resnet_fpn_backbone",
    "build_ctc_timm_fpn_backbone",
]
