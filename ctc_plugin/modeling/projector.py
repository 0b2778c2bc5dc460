"""The expendable projector arm: supervised training through a projector and a cosine classifier.

SL-MLP (Wang et al., "Revisiting the Transferability of Supervised Pretraining: an MLP Projector
is All You Need", CVPR 2022) and t-ReX (Sariyildiz et al., "No Reason for No Supervision: Improved
Generalization in Supervised Models", ICLR 2023) put an MLP projector between the backbone and
the classifier; both are trained with the backbone and thrown away after pretraining, and
transfer reads the backbone's pooled features. The values here are t-ReX*'s (one hidden block),
without its class-prototype memory and multi-crop. ``CTC.CLASSIFIER_HEAD build_projector_head``
selects it, for the baseline as alongside CTC's terms; docs/method.md has the formulas.
"""

from typing import List

import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode as CN
from torch import nn

from ..config import register_config
from ..config.checks import non_negative, positive
from ..registry import CLASSIFIER_HEAD_REGISTRY

# Standard deviation of the truncated normal every Linear weight starts from (t-ReX, as ViTs).
INIT_STD = 0.02


class CosineClassifier(nn.Module):
    """Cosine softmax logits: ``normalise(z) . normalise(w_c) / temperature``, no bias.

    Every logit lies in [-1 / temperature, 1 / temperature].

    Args:
        in_features: width of the projected features.
        num_classes: number of classes.
        temperature: tau (t-ReX: 0.1).
    """

    def __init__(self, in_features: int, num_classes: int, temperature: float = 0.1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))  # one unnormalised prototype per class
        self.temperature = temperature
        nn.init.trunc_normal_(self.weight, std=INIT_STD)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(z, dim=1), F.normalize(self.weight, dim=1)) / self.temperature


class ProjectorClassifier(nn.Module):
    """The projector (t-ReX*'s MLP) and the cosine classifier on top of the backbone's pooled features.

    ``features`` (B, D), L2-normalised -> ``hidden_layers`` x [Linear(., hidden_dim),
    BatchNorm1d, GELU] -> Linear(., out_dim, bias=False) -> ``CosineClassifier`` (B, num_classes).
    Every Linear weight starts from a truncated normal of std 0.02, every bias from 0.

    Args:
        num_features: D, the width of the backbone's pooled features.
        num_classes: number of classes.
        hidden_dim: width of each hidden block (2048).
        out_dim: width of the projection the classifier reads (256).
        hidden_layers: number of hidden blocks (t-ReX*: 1; t-ReX: 3); 0 is one Linear.
        temperature: tau of the cosine classifier (0.1).
        normalize_input: L2-normalise the pooled features before the projector (True).
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        hidden_dim: int = 2048,
        out_dim: int = 256,
        hidden_layers: int = 1,
        temperature: float = 0.1,
        normalize_input: bool = True,
    ) -> None:
        super().__init__()
        self.normalize_input = normalize_input
        blocks: List[nn.Module] = []
        width = num_features
        for _ in range(hidden_layers):
            blocks += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.GELU()]
            width = hidden_dim
        blocks.append(nn.Linear(width, out_dim, bias=False))
        self.projector = nn.Sequential(*blocks)
        self.classifier = CosineClassifier(out_dim, num_classes, temperature)
        for module in self.projector:
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=INIT_STD)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, num_classes) logits of pooled features (B, num_features)."""
        if self.normalize_input:
            features = F.normalize(features, dim=1)
        return self.classifier(self.projector(features))  # B x out_dim, then B x C


@register_config(
    rules=(
        positive("CTC.PROJECTOR.HIDDEN_DIM"),
        positive("CTC.PROJECTOR.OUT_DIM"),
        non_negative("CTC.PROJECTOR.HIDDEN_LAYERS"),
        positive("CTC.PROJECTOR.TEMPERATURE"),
    )
)
def add_projector_config(cfg: CN) -> None:
    """``build_projector_head``'s keys: CTC.PROJECTOR (in place); defaults are t-ReX*'s."""
    cfg.CTC.PROJECTOR = CN()
    # build_projector_head: width of each hidden block, Linear -> BatchNorm1d -> GELU (t-ReX: 2048).
    cfg.CTC.PROJECTOR.HIDDEN_DIM = 2048
    # Width of the projection the cosine classifier reads, after a Linear without bias (t-ReX: 256).
    cfg.CTC.PROJECTOR.OUT_DIM = 256
    # Number of hidden blocks (t-ReX*: 1; t-ReX's default: 3); 0: one Linear to OUT_DIM.
    cfg.CTC.PROJECTOR.HIDDEN_LAYERS = 1
    # Temperature tau of the cosine classifier: logits are cos / tau (t-ReX: 0.1).
    cfg.CTC.PROJECTOR.TEMPERATURE = 0.1
    # L2-normalise the backbone's pooled features before the projector (t-ReX: yes).
    cfg.CTC.PROJECTOR.NORMALIZE_INPUT = True


@CLASSIFIER_HEAD_REGISTRY.register()
def build_projector_head(cfg, backbone: nn.Module) -> ProjectorClassifier:
    """t-ReX*'s projector and cosine classifier from ``cfg.CTC.PROJECTOR`` and ``MODEL.NUM_CLASSES``."""
    projector = cfg.CTC.PROJECTOR
    return ProjectorClassifier(
        backbone.num_features,
        cfg.MODEL.NUM_CLASSES,
        projector.HIDDEN_DIM,
        projector.OUT_DIM,
        projector.HIDDEN_LAYERS,
        projector.TEMPERATURE,
        projector.NORMALIZE_INPUT,
    )
