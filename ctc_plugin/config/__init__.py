from .adders import ConfigAdder, register_config
from .defaults import add_engine_config, add_pretrain_config, get_cfg
from .merge import merge_config

__all__ = ["ConfigAdder", "add_engine_config", "add_pretrain_config", "get_cfg", "merge_config", "register_config"]
