"""Any timm CNN under Detectron2's FPN: ``build_ctc_timm_fpn_backbone`` with ``MODEL.TIMM.NAME``.

The bottom-up network is timm's own ``features_only`` model. Its levels are named by stride as
Detectron2 names a ResNet's (``res2`` at stride 4 ... ``res5`` at stride 32), so the FPN and
heads of a ResNet-FPN config apply unchanged. ``MODEL.BACKBONE.FREEZE_AT`` and
``MODEL.RESNETS.NORM`` mean what they mean for Detectron2's ResNets:

- ``FREEZE_AT`` 1 freezes the stem (everything before the ``res2`` level's module), k >= 2 also
  every level up to ``res{k}``: parameters stop learning and BatchNorm becomes frozen BatchNorm
  (timm's ``freeze``, which keeps the activation of timm's fused BatchNorm-activation layers);
- ``NORM`` "FrozenBN" freezes every BatchNorm, "BN" trains them, "SyncBN" synchronises them.
  LayerNorm (ConvNeXt) and other normalisations are the network's own and always train
  unless their level is frozen.

The builder builds the network ``MODEL.WEIGHTS`` records (``choose_timm``); the weights are loaded by the
checkpointer (``CTCDetectionCheckpointer``).
"""

import logging
import math
from typing import Any, Dict, List, Optional, Sequence

import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool

from ..backbones.records import RESNET_BUILDER, TIMM_BUILDER, describe_record, timm_record
from ..utils.errors import UserError
from .norm import resolve_norm
from .weights import chosen_network, register_network_choice

logger = logging.getLogger(__name__)

NORMS = ("FrozenBN", "BN", "SyncBN", "nnSyncBN", "naiveSyncBN")


class TimmBottomUp(Backbone):
    """timm ``name`` in ``features_only`` mode as a Detectron2 ``Backbone``.

    Args:
        name: a timm architecture that supports ``features_only``.
        out_features: levels to return, named ``res{log2(stride)}``.
        freeze_at: 0 none; 1 the stem; k >= 2 the stem and levels res2..res{k}.
        norm: "FrozenBN", "BN" or a synchronised BN (already resolved, see ``resolve_norm``).
    """

    def __init__(self, name: str, out_features: Sequence[str], freeze_at: int = 0, norm: str = "FrozenBN") -> None:
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise ValueError(f"MODEL.TIMM.NAME {name!r} is not a timm architecture (see timm.list_models())")
        self.body = timm.create_model(name, features_only=True, pretrained=False)
        info = self.body.feature_info
        # Level name -> index of the features_only output; a later level of the same stride wins.
        self._levels = {f"res{int(math.log2(r))}": i for i, r in enumerate(info.reduction())}
        unknown = [f for f in out_features if f not in self._levels]
        if unknown:
            raise ValueError(f"timm {name} has no level {unknown}; its levels are {sorted(self._levels)}")
        self._out_features = list(out_features)
        self._out_feature_strides = {f: info.reduction()[self._levels[f]] for f in self._out_features}
        self._out_feature_channels = {f: info.channels()[self._levels[f]] for f in self._out_features}
        self.timm_name = name
        self._set_norm(norm)
        self.freeze(freeze_at)

    def _set_norm(self, norm: str) -> None:
        from timm.layers import convert_sync_batchnorm, freeze_batch_norm_2d

        if norm == "FrozenBN":
            self.body = freeze_batch_norm_2d(self.body)
        elif norm in ("SyncBN", "nnSyncBN"):
            self.body = convert_sync_batchnorm(self.body)
        elif norm != "BN":
            raise ValueError(f"a timm backbone's BatchNorm can be {', '.join(NORMS)}, not {norm!r}")

    def level_modules(self) -> List[str]:
        """Module names (in ``body``) that produce each features_only output, in order."""
        info = self.body.feature_info
        flattened = getattr(self.body, "return_layers", None)  # FeatureListNet renames "stages.0" to "stages_0"
        if flattened:
            by_index = {int(index): module for module, index in flattened.items()}
            return [by_index[i] for i in range(len(info))]
        return info.module_name()

    def freeze(self, freeze_at: int = 0) -> "TimmBottomUp":
        """Freeze the stem (``freeze_at`` 1) and the levels up to ``res{freeze_at}``, as Detectron2's ResNet."""
        if freeze_at <= 0:
            return self
        from timm.utils import freeze

        modules = [name for name, _ in self.body.named_modules() if name]
        levels = self.level_modules()
        if freeze_at == 1:
            last, inclusive = levels[self._levels["res2"]], False
        else:
            level = f"res{freeze_at}"
            if level not in self._levels:
                raise ValueError(f"FREEZE_AT {freeze_at}: timm {self.timm_name} has no level {level}")
            last, inclusive = levels[self._levels[level]], True
        position = modules.index(last)
        # Modules before `last` in execution order that are not its ancestors, and `last` itself.
        frozen = [m for m in modules[:position] if not last.startswith(m + ".")] + ([last] if inclusive else [])
        top = [m for m in frozen if not any(m.startswith(f + ".") for f in frozen)]
        freeze(self.body, top)
        return self

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        features = self.body(images)
        return {name: features[self._levels[name]] for name in self._out_features}

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return {
            f: ShapeSpec(channels=self._out_feature_channels[f], stride=self._out_feature_strides[f])
            for f in self._out_features
        }


@register_network_choice("build_ctc_timm_fpn_backbone")
def choose_timm(cfg, record: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The timm network to build: the one ``MODEL.WEIGHTS`` records (``MODEL.CTC.ARCH_FROM_WEIGHTS``), else
    ``MODEL.TIMM.NAME``; its record names the architecture alone.

    Raises:
        UserError: the weights hold no timm network, or another one than the config names while the
            config says to keep its own.
    """
    configured = cfg.MODEL.TIMM.NAME
    if record is None:
        return timm_record(configured)
    if record["builder"] != TIMM_BUILDER:
        use = "build_ctc_resnet_fpn_backbone" if record["builder"] == RESNET_BUILDER else "the one its family registers"
        raise UserError(
            f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} holds a {describe_record(record)}, not a timm network: use "
            f"MODEL.BACKBONE.NAME {use}"
        )
    name = record["model"]["TIMM"]["NAME"]
    if name != configured:
        if not cfg.MODEL.CTC.ARCH_FROM_WEIGHTS:
            raise UserError(f"MODEL.WEIGHTS holds timm {name} but MODEL.TIMM.NAME is {configured}; set it to match")
        logger.warning(
            f"MODEL.WEIGHTS holds timm {name}: building that (MODEL.TIMM.NAME {configured} is "
            "overridden by MODEL.CTC.ARCH_FROM_WEIGHTS)"
        )
    return timm_record(name)


@BACKBONE_REGISTRY.register()
def build_ctc_timm_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """timm ``MODEL.TIMM.NAME`` (``features_only``) under Detectron2's FPN.

    Reads the record of the network in ``MODEL.WEIGHTS`` (or ``MODEL.TIMM.NAME``, see ``choose_timm``),
    ``MODEL.FPN.IN_FEATURES`` (the bottom-up levels), ``MODEL.BACKBONE.FREEZE_AT``,
    ``MODEL.RESNETS.NORM`` and ``MODEL.FPN``; refuses the input settings ``check_torchvision_input``
    refuses. Builds only: the checkpointer loads the weights. The returned backbone keeps the record
    of its network (``network_record``), which its checkpoints carry.
    """
    from .backbone import check_torchvision_input

    if cfg.MODEL.CTC.CHECK_TORCHVISION_INPUT:
        check_torchvision_input(cfg)
    if input_shape.channels != 3:
        raise UserError(f"a timm backbone takes 3-channel images; the input has {input_shape.channels}")
    record = chosen_network(cfg)
    device = cfg.MODEL.DEVICE
    try:
        bottom_up = TimmBottomUp(
            record["model"]["TIMM"]["NAME"],
            cfg.MODEL.FPN.IN_FEATURES,
            freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT,
            norm=resolve_norm(cfg.MODEL.RESNETS.NORM, "MODEL.RESNETS.NORM", device),
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    backbone = FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=resolve_norm(cfg.MODEL.FPN.NORM, "MODEL.FPN.NORM", device),
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
    backbone.network_record = record
    return backbone
