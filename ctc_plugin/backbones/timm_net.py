"""Any timm CNN as a CTC backbone: ``MODEL.BACKBONE build_timm_backbone`` with ``MODEL.TIMM.NAME``.

The wrapper's state_dict is the timm network's own, key for key, so a pretraining checkpoint's
``"model"`` loads into ``timm.create_model(name, num_classes=C)`` and every timm tool reads it.
The pooled features of the backbone contract are timm's pre-logits
(``forward_head(forward_features(x), pre_logits=True)``) and ``fc`` is timm's classifier
(``get_classifier()``), so ``forward(x) == fc(forward_pre_logits(x))`` as for our ResNets.

timm is imported only when a network is built.
"""

from typing import Any, Dict, Mapping

import torch
from torch import nn


class TimmBackbone(nn.Module):
    """A timm classifier held under ``model``, whose state_dict keys are timm's (no ``model.`` prefix).

    Args:
        name: a timm architecture with ``forward_features`` and ``forward_head``, e.g. "convnext_atto".
        num_classes: width of the classifier.
    """

    def __init__(self, name: str, num_classes: int) -> None:
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise ValueError(f"MODEL.TIMM.NAME {name!r} is not a timm architecture (see timm.list_models())")
        self.model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        if not all(hasattr(self.model, a) for a in ("forward_features", "forward_head", "get_classifier")):
            raise ValueError(f"timm {name} has no forward_features / forward_head / get_classifier")
        self.timm_name = name
        # Where the classifier sits in the state_dict ("fc", "head.fc", "classifier"): the head rule's prefix.
        classifier = self.model.pretrained_cfg.get("classifier") or "fc"
        self.classifier_name = classifier if isinstance(classifier, str) else classifier[0]
        # Width of the pre-logits (after a pre-logits MLP or conv head, where the model has one).
        self.num_features = int(getattr(self.model, "head_hidden_size", None) or self.model.num_features)
        self.register_state_dict_post_hook(_strip_model_prefix)
        self.register_load_state_dict_pre_hook(_add_model_prefix)

    @property
    def fc(self) -> nn.Module:
        """timm's classifier: pre-logits -> logits."""
        return self.model.get_classifier()

    def forward_pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, num_features) pre-logits: timm's pooled (and, where it has one, pre-logits-projected) features."""
        return self.model.forward_head(self.model.forward_features(images), pre_logits=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)


def timm_classifier_name(name: str) -> str:
    """The state_dict prefix of timm ``name``'s classifier ("fc", "head.fc", "classifier"): its pretrained config's."""
    from timm.models import get_pretrained_cfg

    config = get_pretrained_cfg(name)
    classifier = (config.classifier if config is not None else None) or "fc"
    return classifier if isinstance(classifier, str) else classifier[0]


def _strip_model_prefix(module: nn.Module, state_dict: Dict[str, Any], prefix: str, local_metadata) -> None:
    inner = prefix + "model."
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner) :]] = state_dict.pop(key)


def _add_model_prefix(module: nn.Module, state_dict: Mapping[str, Any], prefix: str, *args) -> None:
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(prefix + "model.")]:
        state_dict[prefix + "model." + key[len(prefix) :]] = state_dict.pop(key)
