"""The contrastive heads: Linear(features -> 128) then L2 normalisation."""

import torch
import torch.nn.functional as F
from torch import nn


class EmbedHead(nn.Module):
    """Projects pooled features to a unit-norm embedding (CRD's ``Embed``)."""

    def __init__(self, in_features: int, embed_dim: int = 128) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, embed_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(features), dim=1)
