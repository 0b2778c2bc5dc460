"""The plugin's registries: one per concept, each extended with ``@REGISTRY.register()``.

Contracts:
    BACKBONE_REGISTRY: ``fn(cfg) -> nn.Module``, reading ``cfg.MODEL`` only. The module maps
        images to logits in ``forward``, to pooled penultimate features (B, num_features)
        in ``forward_pre_logits``, holds its classifier as ``fc`` and says the feature width
        in ``num_features`` (``ctc_plugin.backbones.Backbone``, checked when it is built).
        Checkpoints record the builder's name, its module and ``cfg.MODEL``, and every reader
        rebuilds the network through this registry.
    DATASET_REGISTRY: ``fn(root: str) -> ClassificationDataset``, named by split,
        e.g. ``cifar100_train``. Samples are ``(PIL image, label)``.
    HOOK_REGISTRY: ``cls(cfg, trainer) -> detectron2.engine.HookBase``; the names in
        ``cfg.TRAINER.EXTRA_HOOKS`` are built and registered after the default hooks.
    LOSS_TERM_REGISTRY: ``fn(cfg, data: ctc_plugin.modeling.TermData) -> LossTerm or None``
        (None: the term is switched off, e.g. its weight is 0); ``cfg.CTC.LOSS_TERMS`` names the
        builders of a run's terms. A term owns what its stage needs when it begins
        (``LossTerm.begin``), e.g. the memory refill of ``build_revitalization_term``.
    STUDY_TASK_REGISTRY: ``fn() -> ctc_plugin.study.DownstreamTask``, named by ``cfg.DOWNSTREAM.TASKS``
        (``ctc_plugin.study.register_task`` registers a task class under its ``name``)
        of a study: a downstream run from each initialisation (its config keys, its command, the
        numbers it reads back, its report section). Detection and the fine-grained fine-tune are
        the first two.
    CLASSIFIER_HEAD_REGISTRY: ``fn(cfg, backbone) -> nn.Module or None``, named by
        ``cfg.CTC.CLASSIFIER_HEAD``: the module that turns the backbone's pooled features
        (B, num_features) into the logits of the cross-entropy ``loss_cls``, in place of the
        backbone's ``fc``. It is trained with the backbone, saved in CTC's method state (never in
        the backbone's state_dict, so conversion never sees it) and discarded after pretraining.
        None: the backbone's own ``fc`` classifies (``build_linear_head``, the default).
    CONFIG_REGISTRY: ``ctc_plugin.config.ConfigAdder``, named by its ``add_xxx_config``: adds one
        owner's keys to a pretraining config in place (a comment above each) and holds the rules
        of their values. ``get_cfg()`` calls every registered adder and the trainer applies every
        registered rule, so a term, a builder or a hook brings its keys beside its code; register
        with ``@ctc_plugin.config.register_config(rules=..., check=...)``.
"""

from fvcore.common.registry import Registry

BACKBONE_REGISTRY = Registry("CTC_BACKBONE")
DATASET_REGISTRY = Registry("CTC_DATASET")
HOOK_REGISTRY = Registry("CTC_HOOK")
LOSS_TERM_REGISTRY = Registry("CTC_LOSS_TERM")
STUDY_TASK_REGISTRY = Registry("CTC_STUDY_TASK")
CLASSIFIER_HEAD_REGISTRY = Registry("CTC_CLASSIFIER_HEAD")
CONFIG_REGISTRY = Registry("CTC_CONFIG")
