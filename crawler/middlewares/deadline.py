"""One deadline per page: ``SOKHUND_PAGE_DEADLINE`` seconds (default: ``DOWNLOAD_TIMEOUT``) from the first
attempt, retries included. Scrapy's timeout restarts with every retry, so a server that drips a byte now
and then held a page for (RETRY_TIMES + 1) × DOWNLOAD_TIMEOUT; here each attempt gets only what is left."""

from __future__ import annotations

import time
from typing import Any

from scrapy import Request, Spider


class PageDeadlineExceeded(Exception):
    """The page used up its deadline; it is recorded as a failed fetch, never retried past it."""


class PageDeadlineMiddleware:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageDeadlineMiddleware:
        settings = crawler.settings
        return cls(settings.getfloat("SOKHUND_PAGE_DEADLINE") or settings.getfloat("DOWNLOAD_TIMEOUT", 60.0))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not self.deadline:
            return None
        now = time.time()  # wall clock: the deadline survives a JOBDIR pause of the same run
        started = request.meta.setdefault("sokhund_page_started", now)
        left = self.deadline - (now - started)
        if left <= 0:
            raise PageDeadlineExceeded(f"page deadline of {self.deadline:.0f}s used up (SOKHUND_PAGE_DEADLINE), "
                                       f"after {request.meta.get('retry_times', 0)} retries")
        request.meta["download_timeout"] = left
        return None
