"""Test helper: a user's loss term outside the package, with its config keys beside it.

Importing this module registers both, as importing ``ctc_plugin`` registers the package's own:
``build_feature_norm_penalty`` in ``LOSS_TERM_REGISTRY`` and ``add_feature_norm_config`` (the key
``CTC.FEATURE_NORM.WEIGHT`` and its rule) in ``CONFIG_REGISTRY``. It is imported only by the
processes that use it, so the suite's other configs keep exactly the package's keys.
"""

from typing import Optional

import torch
from fvcore.common.config import CfgNode as CN

from ctc_plugin import LOSS_TERM_REGISTRY
from ctc_plugin.config import register_config
from ctc_plugin.config.checks import non_negative
from ctc_plugin.modeling import LossTerm, StepInputs, TermData


class FeatureNormPenalty(LossTerm):
    """A stage-1 term: the mean squared norm of the pooled features."""

    name = "feature_norm"
    stage = 1

    def loss(self, inputs: StepInputs) -> torch.Tensor:
        return inputs.features.float().pow(2).sum(dim=1).mean()


@register_config(rules=(non_negative("CTC.FEATURE_NORM.WEIGHT"),))
def add_feature_norm_config(cfg: CN) -> None:
    """``build_feature_norm_penalty``'s keys: CTC.FEATURE_NORM (in place)."""
    cfg.CTC.FEATURE_NORM = CN()
    # Weight of the mean squared norm of the pooled features in stage 1 (0 switches the term off).
    cfg.CTC.FEATURE_NORM.WEIGHT = 0.0


@LOSS_TERM_REGISTRY.register()
def build_feature_norm_penalty(cfg, data: TermData) -> Optional[FeatureNormPenalty]:
    """``weight * mean ||features||^2`` (None when ``CTC.FEATURE_NORM.WEIGHT`` is 0)."""
    weight = cfg.CTC.FEATURE_NORM.WEIGHT
    return FeatureNormPenalty(weight) if weight > 0 else None
