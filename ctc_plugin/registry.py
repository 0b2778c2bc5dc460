"""The plugin's registries: one per concept, each extended with ``@REGISTRY.register()``.

Contracts:
    BACKBONE_REGISTRY: ``fn(cfg) -> nn.Module``. The module maps images to logits in
        ``forward``, to pooled penultimate features in ``forward_features``, and says the
        feature width in ``num_features``.
    DATASET_REGISTRY: ``fn(root: str) -> ClassificationDataset``, named by split,
        e.g. ``cifar100_train``. Samples are ``(PIL image, label)``.
    HOOK_REGISTRY: ``cls(cfg, trainer) -> detectron2.engine.HookBase``; the names in
        ``cfg.TRAINER.EXTRA_HOOKS`` are built and registered after the default hooks.
"""

from fvcore.common.registry import Registry

BACKBONE_REGISTRY = Registry("CTC_BACKBONE")
DATASET_REGISTRY = Registry("CTC_DATASET")
HOOK_REGISTRY = Registry("CTC_HOOK")
