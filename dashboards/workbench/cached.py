"""Analytics that take seconds on a real index (the turnover report reads every observation and
feedback; the linker compares every alias), computed once per index state and reused across requests.
The state is a fingerprint of cheap counts; a new crawl changes it, so a page never shows a report older
than the index. A test or tool that rewrites documents without changing any count calls ``clear()``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from analytics.identity import IdentityResult, link_vendors
from analytics.turnover import TurnoverReport, compute_turnover
from indexer.base import IndexBackend

_KINDS = ("listing", "listing_observation", "feedback", "vendor", "campaign_run")
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()
MAX_ENTRIES = 4


def fingerprint(backend: IndexBackend) -> tuple:
    where = getattr(backend, "path", None) or f'{getattr(backend, "url", "")} {getattr(backend, "prefix", "")}'
    return (str(where), *(backend.count(kind) for kind in _KINDS))


def memo(name: str, backend: IndexBackend, compute: Any) -> Any:
    key = (name, *fingerprint(backend))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _lock:
        _cache[key] = value
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return value


def turnover_report(backend: IndexBackend) -> TurnoverReport:
    return memo("turnover", backend, lambda: compute_turnover(backend))


def vendor_links(backend: IndexBackend) -> IdentityResult:
    """The linker's groups and candidates, computed without writing (the pages only read)."""
    return memo("links", backend, lambda: link_vendors(backend, write=False))


def clear() -> None:
    with _lock:
        _cache.clear()
