"""Writing converted weights for a host, verified before the file appears: what ``ctc-convert`` does."""

import os
from typing import Any, Dict, Tuple

from ..utils.errors import UserError
from .registry import find_conversion, verify
from .source import SourceWeights


def write_converted(source: SourceWeights, target: str, path: str, check: bool = True) -> Tuple[Any, Dict[str, float]]:
    """Convert ``source`` for ``target``, write ``path`` and (unless ``check`` is False) verify the file.

    The file is written under a hidden name beside ``path`` and moved into place only when its
    verifier (registered with the converter) passes, so ``path`` never holds unverified weights.

    Returns:
        The converted weights and the relative differences measured ({} without verification).

    Raises:
        UserError: no converter (or verifier) for the source's network, a file name the host does not
            read, or a file that does not compute what the source did.
    """
    _, conversion = find_conversion(source, target)
    if check and conversion.verify is None:
        verify(source, target, None, path)  # names the verifier to register
    converted = conversion.convert(source)
    suffixes = getattr(converted, "SUFFIXES", ())
    if suffixes and not path.endswith(suffixes):
        raise UserError(f"{target} reads converted weights from a {' or '.join(suffixes)} file; got {path}")
    folder, base = os.path.split(os.path.abspath(path))
    unverified = os.path.join(folder, f".{base}.unverified{os.path.splitext(base)[1]}")
    try:
        converted.write(unverified)
        differences = verify(source, target, converted, unverified) if check else {}
        os.replace(unverified, path)
    finally:
        if os.path.exists(unverified):
            os.remove(unverified)
    return converted, differences
