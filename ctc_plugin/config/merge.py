"""Merging a config file and KEY VALUE overrides, with every kind of bad input raised as ``UserError``."""

import difflib
import os
from typing import Iterable, List, Optional

from fvcore.common.config import CfgNode

from ..utils.errors import UserError, first_line


def _all_keys(cfg: CfgNode, prefix: str = "") -> List[str]:
    keys = []
    for name, value in cfg.items():
        full = f"{prefix}{name}"
        keys.extend(_all_keys(value, full + ".") if isinstance(value, CfgNode) else [full])
    return keys


def _unknown_key_message(cfg: CfgNode, key: str, where: str) -> str:
    known = _all_keys(cfg)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown config key {key} in {where}{hint}"


def merge_config(cfg: CfgNode, config_file: Optional[str], opts: Iterable[str]) -> CfgNode:
    """``merge_from_file`` then ``merge_from_list``, with bad input raised as ``UserError``."""
    opts = list(opts)
    if config_file:
        if not os.path.isfile(config_file):
            raise UserError(f"config file not found: {config_file}")
        try:
            # Parsed, never evaluated: Detectron2's CfgNode would fall back to yaml.unsafe_load.
            cfg.merge_from_file(config_file, allow_unsafe=False)
        except KeyError as e:
            raise UserError(_unknown_key_message(cfg, _key_of(e), config_file)) from None
        except (ValueError, TypeError, AssertionError) as e:
            raise UserError(f"bad value in {config_file}: {first_line(e)}") from None
        except Exception as e:  # a YAML syntax error, an unreadable file
            raise UserError(f"cannot read config file {config_file}: {first_line(e)}") from None
    if len(opts) % 2:
        raise UserError(f"overrides come in KEY VALUE pairs; {opts[-1]} has no value")
    for key, value in zip(opts[0::2], opts[1::2]):
        try:
            cfg.merge_from_list([key, value])
        except KeyError:
            raise UserError(_unknown_key_message(cfg, key, "the command line")) from None
        except AssertionError as e:
            # Detectron2's CfgNode asserts "Non-existent key" where fvcore's raises KeyError.
            if "Non-existent key" in str(e):
                raise UserError(_unknown_key_message(cfg, key, "the command line")) from None
            raise UserError(f"bad value {value!r} for {key}: {first_line(e)}") from None
        except (ValueError, TypeError) as e:
            raise UserError(f"bad value {value!r} for {key}: {first_line(e)}") from None
    return cfg


def _key_of(error: KeyError) -> str:
    # fvcore says "Non-existent config key: A.B"
    text = str(error.args[0]) if error.args else ""
    return text.rsplit(":", 1)[-1].strip() or text
