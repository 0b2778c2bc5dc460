"""``add_ctc_config``: the config keys of the CTC ResNet-FPN and timm-FPN backbones for Detectron2."""

from detectron2.config import CfgNode

# torchvision's ImageNet normalisation in Detectron2's 0-255 RGB pixel scale.
TORCHVISION_PIXEL_MEAN = [123.675, 116.280, 103.530]
TORCHVISION_PIXEL_STD = [58.395, 57.120, 57.375]


def add_ctc_config(cfg: CfgNode) -> CfgNode:
    """Add ``MODEL.CTC`` to a Detectron2 config (in place) and return it."""
    cfg.MODEL.CTC = CfgNode()
    # Take ResNet depth and stem from MODEL.WEIGHTS (a converted .pkl, a raw pretraining or
    # torchvision checkpoint, or a Detectron2 checkpoint of this backbone) so the network
    # always matches its weights. MODEL.RESNETS.DEPTH and MODEL.CTC.STEM are the fallback.
    cfg.MODEL.CTC.ARCH_FROM_WEIGHTS = True
    # "imagenet" (7x7 stride-2 conv + max-pool) or "cifar" (3x3 stride-1 conv, no max-pool).
    cfg.MODEL.CTC.STEM = "imagenet"
    # Output stride of a CIFAR stem. 4: its pretrained 3x3 conv runs at stride 2 and is
    # followed by a 3x3 stride-2 max-pool, so res2..res5 sit at strides 4..32 like every FPN,
    # RPN and ROI default expects. 1: exactly the pretraining network (features at strides
    # 1..8, FPN levels p0..p4; the heads' IN_FEATURES and anchors must be set to match).
    cfg.MODEL.CTC.CIFAR_STEM_STRIDE = 4
    # Sub-module of a raw checkpoint given as MODEL.WEIGHTS, e.g. MoCo's "module.encoder_q.".
    cfg.MODEL.CTC.WEIGHTS_PREFIX = ""
    # Refuse configs that cannot fit torchvision-style weights: INPUT.FORMAT other than RGB,
    # MODEL.RESNETS.STRIDE_IN_1X1 True, or a pixel mean/std other than torchvision's.
    cfg.MODEL.CTC.CHECK_TORCHVISION_INPUT = True
    cfg.MODEL.TIMM = CfgNode()
    # build_ctc_timm_fpn_backbone: the timm architecture of the bottom-up network (features_only),
    # e.g. "convnext_atto"; with MODEL.CTC.ARCH_FROM_WEIGHTS the one MODEL.WEIGHTS holds is built.
    cfg.MODEL.TIMM.NAME = "resnet50"
    return cfg
