"""Progress of long loops: a tqdm bar on a terminal, a log line with the ETA every 10% otherwise."""

import datetime
import logging
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")
logger = logging.getLogger("ctc_plugin.analysis")


def progress(iterable: Iterable[T], desc: str, total: Optional[int] = None, enabled: bool = True) -> Iterator[T]:
    """Yield from ``iterable``, showing how far it got and how long the rest will take.

    On a terminal this is a transient tqdm bar; in a log file or a pipe (a batch job, the
    demo) it is one INFO line per tenth of ``total``, ``desc: 30/100, eta 0:00:12``.
    """
    if not enabled:
        yield from iterable
        return
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
        return
    every = max(1, total // 10) if total else 0
    start = time.perf_counter()
    for i, item in enumerate(iterable):
        yield item
        if every and ((i + 1) % every == 0 or i + 1 == total):
            left = (time.perf_counter() - start) / (i + 1) * (total - i - 1)
            logger.info(f"{desc}: {i + 1}/{total}, eta {datetime.timedelta(seconds=round(left))}")
