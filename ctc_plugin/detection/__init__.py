"""The Detectron2 bridge: importing it registers ``build_ctc_resnet_fpn_backbone`` and ``build_ctc_timm_fpn_backbone``,
and the verifiers of the converters to Detectron2.

Use in a Detectron2 script::

    import ctc_plugin.detection  # registers the backbone
    cfg = add_ctc_config(get_cfg())
    cfg.merge_from_file("configs/coco_maskrcnn_ctc.yaml")

A backbone family of one's own reaches Detectron2 with its converter and verifier
(``ctc_plugin.convert.register_converter(builder, "detectron2", verify=...)``) and its Detectron2
backbone builder, which reads the record of ``MODEL.WEIGHTS`` with ``weights_record(cfg)``.
"""

from . import verify as _verify  # noqa: F401  (registers the Detectron2 verifiers)
from .backbone import build_ctc_resnet, build_ctc_resnet_fpn_backbone
from .checkpoint import CTCDetectionCheckpointer
from .config import add_ctc_config
from .timm_backbone import TimmBottomUp, build_ctc_timm_fpn_backbone
from .weights import chosen_network, read_weights, register_network_choice, weights_record

__all__ = [
    "CTCDetectionCheckpointer",
    "TimmBottomUp",
    "add_ctc_config",
    "build_ctc_resnet",
    "build_ctc_resnet_fpn_backbone",
    "build_ctc_timm_fpn_backbone",
    "chosen_network",
    "read_weights",
    "register_network_choice",
    "weights_record",
]
