"""Converters, registered per (backbone builder, target host).

A converter takes a ``SourceWeights`` (weights and the record of their network) and returns
the target's weights in memory; writing and verifying them is the target's, the same for
every builder. A builder whose network is a timm model (``TimmBackbone``) needs no converter of
its own: it reaches every host through ``build_timm_backbone``'s. Any other family reaches a
host by registering one function::

    @register_converter("build_my_net", "timm")
    def my_net_to_timm(source: SourceWeights) -> TimmWeights: ...
"""

from typing import Any, Callable, Dict, Tuple

from ..utils.errors import UserError
from .source import TIMM_BUILDER, SourceWeights

Converter = Callable[[SourceWeights], Any]
CONVERTERS: Dict[Tuple[str, str], Converter] = {}


def register_converter(builder: str, target: str) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter of ``builder``'s networks to ``target``."""

    def register(converter: Converter) -> Converter:
        if (builder, target) in CONVERTERS:
            raise ValueError(f"a converter of {builder} to {target} is already registered")
        CONVERTERS[builder, target] = converter
        return converter

    return register


def convert(source: SourceWeights, target: str) -> Any:
    """``source``'s weights for ``target``, by the converter registered for its builder.

    Raises:
        UserError: no converter of the source's builder to ``target`` is registered.
    """
    converter = CONVERTERS.get((source.builder, target))
    if converter is None and isinstance(getattr(source.network(), "timm_name", None), str):
        converter = CONVERTERS.get((TIMM_BUILDER, target))  # any builder of a timm network reaches timm's hosts
    if converter is None:
        builders = sorted(builder for builder, host in CONVERTERS if host == target)
        raise UserError(
            f"{source.name} holds a {source.describe()}, and no converter of {source.builder} to {target} is "
            f"registered (registered for {target}: {', '.join(builders)}); register one with "
            f"ctc_plugin.convert.register_converter({source.builder!r}, {target!r})"
        )
    return converter(source)
