"""Converters and their verifiers, registered together per (backbone builder, target host).

A converter takes a ``SourceWeights`` (weights and the record of their network) and returns the
target's weights in memory (``TimmWeights``, ``Detectron2Weights``: each writes its host's file,
``write(path)``). Its verifier checks by computation that the written file computes what the source
network did, and returns the relative differences it measured. Every verifier has one signature::

    @register_converter("build_my_net", "timm", verify=verify_timm_weights)
    def my_net_to_timm(source: SourceWeights) -> TimmWeights: ...

    def verify(source: SourceWeights, converted: Any, path: str) -> Dict[str, float]: ...

A verifier that needs a library the converter does not (Detectron2's run Detectron2's own backbone)
is registered beside its host's bridge with ``register_verifier``. A builder whose network is a timm
model (``TimmBackbone``) needs neither: it reaches every host through ``build_timm_backbone``'s.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..backbones.records import TIMM_BUILDER
from ..utils.errors import UserError
from .source import SourceWeights

Converter = Callable[[SourceWeights], Any]
Verifier = Callable[[SourceWeights, Any, str], Dict[str, float]]


@dataclass
class Conversion:
    """How one builder's networks reach one target: the converter, and the verifier of what it writes."""

    convert: Converter
    verify: Optional[Verifier] = None


CONVERSIONS: Dict[Tuple[str, str], Conversion] = {}


def register_converter(
    builder: str, target: str, verify: Optional[Verifier] = None
) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter of ``builder``'s networks to ``target``, with its verifier."""

    def register(converter: Converter) -> Converter:
        if (builder, target) in CONVERSIONS:
            raise ValueError(f"a converter of {builder} to {target} is already registered")
        CONVERSIONS[builder, target] = Conversion(converter, verify)
        return converter

    return register


def register_verifier(builder: str, target: str) -> Callable[[Verifier], Verifier]:
    """Register the decorated function as the verifier of ``builder``'s conversion to ``target`` (registered before)."""

    def register(verifier: Verifier) -> Verifier:
        conversion = CONVERSIONS.get((builder, target))
        if conversion is None:
            raise ValueError(f"no converter of {builder} to {target} is registered to verify")
        if conversion.verify is not None and conversion.verify is not verifier:
            raise ValueError(f"a verifier of {builder} to {target} is already registered")
        conversion.verify = verifier
        return verifier

    return register


def targets() -> List[str]:
    """The hosts some converter reaches ("detectron2", "timm", ...)."""
    return sorted({target for _, target in CONVERSIONS})


def find_conversion(source: SourceWeights, target: str) -> Tuple[str, Conversion]:
    """``(builder, conversion)`` that takes ``source`` to ``target``: its builder's, or for any network that is
    a timm model, ``build_timm_backbone``'s.

    Raises:
        UserError: no converter of the source's builder to ``target`` is registered.
    """
    builder = source.builder
    if (builder, target) not in CONVERSIONS and isinstance(getattr(source.empty_network(), "timm_name", None), str):
        builder = TIMM_BUILDER  # any builder of a timm network reaches timm's hosts
    if (builder, target) not in CONVERSIONS:
        builders = sorted(name for name, host in CONVERSIONS if host == target)
        raise UserError(
            f"{source.name} holds a {source.describe()}, and no converter of {source.builder} to {target} is "
            f"registered (registered for {target}: {', '.join(builders)}); register one with "
            f"ctc_plugin.convert.register_converter({source.builder!r}, {target!r})"
        )
    return builder, CONVERSIONS[builder, target]


def convert(source: SourceWeights, target: str) -> Any:
    """``source``'s weights for ``target``, by the converter registered for its network."""
    return find_conversion(source, target)[1].convert(source)


def verify(source: SourceWeights, target: str, converted: Any, path: str) -> Dict[str, float]:
    """Check the file ``path`` (``converted``, written) by the verifier registered beside its converter.

    Raises:
        UserError: no verifier is registered, or the file does not compute what the source did.
    """
    builder, conversion = find_conversion(source, target)
    if conversion.verify is None:
        raise UserError(
            f"no verifier of {builder} to {target} is registered; register one with "
            f"ctc_plugin.convert.register_verifier({builder!r}, {target!r})"
        )
    return conversion.verify(source, converted, path)
