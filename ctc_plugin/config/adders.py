"""Config keys declared by their owner: a loss term, a backbone builder or a hook adds its keys
beside its code, as Detectron2's projects do (PointRend's ``add_pointrend_config``).

An owner writes ``add_xxx_config(cfg)`` with a comment above every key and registers it with
``register_config``, together with the rules of the values it adds. ``get_cfg()`` composes the
engine's keys, pretraining's and every registered adder; ``check_pretrain_values`` applies every
registered rule and check. Registration happens on import, as for the registries: importing
``ctc_plugin`` registers the package's own adders, and a user's module registers its own when it
is imported (before the config is built)::

    @register_config(rules=(non_negative("CTC.FEATURE_NORM.WEIGHT"),))
    def add_feature_norm_config(cfg):
        cfg.CTC.FEATURE_NORM = CN()
        # Weight of the feature-norm penalty (0 switches it off).
        cfg.CTC.FEATURE_NORM.WEIGHT = 0.0
"""

from typing import Callable, Iterable, Optional

from fvcore.common.config import CfgNode

from ..registry import CONFIG_REGISTRY
from .checks import Rule

# ``check(cfg, num_train_images)``: raises ``UserError`` for what depends on several keys or on the data.
ConfigCheck = Callable[[CfgNode, int], None]


class ConfigAdder:
    """An owner's ``add_xxx_config`` with the rules of the keys it adds (``CONFIG_REGISTRY``'s entries).

    Args:
        add: adds the owner's keys to a pretraining config in place, a comment above each.
        rules: bounds of single values (``ctc_plugin.config.checks.Rule``).
        check: what relates the keys to other keys or to the training set; None: nothing.
    """

    def __init__(self, add: Callable[[CfgNode], None], rules: Iterable[Rule] = (), check: Optional[ConfigCheck] = None):
        self.add = add
        self.rules = tuple(rules)
        self.check = check
        self.__name__ = add.__name__  # the registry names an entry by its __name__

    def __call__(self, cfg: CfgNode) -> CfgNode:
        self.add(cfg)
        return cfg

    def __repr__(self) -> str:
        return f"ConfigAdder({self.add.__module__}.{self.__name__}, {len(self.rules)} rules)"


def register_config(rules: Iterable[Rule] = (), check: Optional[ConfigCheck] = None) -> Callable:
    """Decorator: register ``add_xxx_config(cfg)`` in ``CONFIG_REGISTRY`` with its keys' rules.

    Returns the function unchanged, so it can still be called on a config of one's own.
    """

    def register(add: Callable[[CfgNode], None]) -> Callable[[CfgNode], None]:
        CONFIG_REGISTRY.register(ConfigAdder(add, rules, check))
        return add

    return register
