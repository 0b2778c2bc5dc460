"""Progress of long loops: a tqdm bar on a terminal, a log line every 10% otherwise."""

import logging
import sys
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")
logger = logging.getLogger("ctc_plugin.analysis")


def progress(iterable: Iterable[T], desc: str, total: Optional[int] = None, enabled: bool = True) -> Iterator[T]:
    """Yield from ``iterable``, showing how far it got.

    On a terminal this is a transient tqdm bar (when tqdm is installed); in a log file
    (a batch job) it is one INFO line per tenth of ``total``, not thousands of bar redraws.
    """
    if not enabled:
        yield from iterable
        return
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is optional
            pass
        else:
            yield from tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
            return
    every = max(1, total // 10) if total else 0
    for i, item in enumerate(iterable):
        yield item
        if every and ((i + 1) % every == 0 or i + 1 == total):
            logger.info("%s: %d/%d", desc, i + 1, total)
