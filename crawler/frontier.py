"""The crawl frontier on disk (JOBDIR): Scrapy's pickled LIFO queue, with a cheaper way to name callbacks.

To pickle a request, Scrapy stores its callback and errback by name, and finds the name by scanning every
member of the spider (``inspect.getmembers``: every property, the logger, the settings) for each request
pushed. Here the names are found once per callback and kept on a small object that holds only those
methods, so the scan per request covers a handful of attributes. The queue files are the same as
Scrapy's: a JOBDIR written by either resumes with either.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from scrapy import Request
from scrapy.squeues import PickleLifoDiskQueue


def _callback_names(spider: Any, request: Request) -> SimpleNamespace:
    """The spider's methods used as callbacks so far, by name (Request.to_dict looks for them there)."""
    names: SimpleNamespace | None = getattr(spider, "_sokhund_callback_names", None)
    if names is None:
        names = SimpleNamespace()
        spider._sokhund_callback_names = names
    known = vars(names)
    missing = [f for f in (request.callback, request.errback) if callable(f) and hasattr(f, "__func__")
               and not any(m.__func__ is f.__func__ for m in known.values())]
    if missing:
        named = request.to_dict(spider=spider)  # Scrapy's own (full) scan, once per new callback
        for key, func in (("callback", request.callback), ("errback", request.errback)):
            if isinstance(named.get(key), str) and callable(func):
                setattr(names, named[key], getattr(spider, named[key]))
    return names


class RequestDiskQueue(PickleLifoDiskQueue):
    """``scrapy.squeues.PickleLifoDiskQueue``; only ``push`` names the callbacks the cheap way."""

    def push(self, request: Request) -> None:
        names = _callback_names(self.spider, request) if self.spider is not None else None
        # skip PickleLifoDiskQueue.push (which would scan the whole spider again): pickle this dict
        super(PickleLifoDiskQueue, self).push(request.to_dict(spider=names or self.spider))
