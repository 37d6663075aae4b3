"""Stop a crawl while the data directory still has room, not after a write failed.

A write that meets a full disk mid-crawl can fail where nothing catches it (Scrapy's on-disk request queue
in the run's job folder, the crawl log, the WARC writer): the engine then retries the failing step forever
and the crawl hangs. This extension checks the free space of ``$SOKHUND_HOME`` on every response and
every second and, below
``SOKHUND_DISK_RESERVE_MB`` (environment or setting; default 20), stops the spider with the reason
``disk_full``, like the index sink does when its spool cannot be written. The reserve is what closing
needs (the last index batch, the job state, the WARC trailer); the run stays unfinished, so the next run
crawls it again from its start pages and nothing parsed is lost.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from scrapy import signals
from twisted.internet import task

from crawler import paths

log = logging.getLogger(__name__)
DEFAULT_RESERVE_MB = 20.0


class DiskGuard:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        raw = os.environ.get("SOKHUND_DISK_RESERVE_MB") or crawler.settings.get("SOKHUND_DISK_RESERVE_MB")
        self.reserve_mb = float(raw) if raw not in (None, "") else DEFAULT_RESERVE_MB
        self.loop: task.LoopingCall | None = None
        self.tripped = False
        self.home = paths.home()  # resolved once: checked on every response
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)
        # every response too: a fast crawl on a small disk fills a reserve in less than a second
        crawler.signals.connect(self.check, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Any) -> DiskGuard:
        return cls(crawler)

    def opened(self, spider: Any) -> None:
        self.check()
        self.loop = task.LoopingCall(self.check)
        self.loop.start(1.0, now=False)

    def closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def check(self, *args: Any, **kwargs: Any) -> None:
        if self.tripped or self.reserve_mb <= 0:
            return
        home = self.home
        free_mb = shutil.disk_usage(home).free / 1e6
        if free_mb >= self.reserve_mb:
            return
        self.tripped = True
        message = (f"disk full: {free_mb:.2f} MB left in {home}, below the {self.reserve_mb:g} MB reserve "
                   "(SOKHUND_DISK_RESERVE_MB): crawl stopped before a write failed; free space and run it "
                   "again (its pages are crawled again)")
        log.error("%s", message)
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("sokhund/disk_full", message)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and getattr(engine, "spider", None) is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason="disk_full"))
