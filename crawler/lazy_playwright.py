"""A download handler that starts Playwright only when a page needs rendering.

scrapy-playwright's own handler starts its Playwright driver (a node process, ~125 MiB) when the engine
starts, so every crawl of a site that *might* render (a ``render`` reaction to a DDoS page, one
client-rendered page type) carried an idle driver from the first page on. This handler serves plain
requests with Scrapy's HTTP/1.1 handler and builds scrapy-playwright's handler (driver, then chromium) on
the first request marked ``playwright``; a crawl that never renders never imports Playwright at all.

(The module name keeps "playwright": the Tor handler accepts only a Playwright fallback for rendering
Tor pages.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Request, Response

log = logging.getLogger(__name__)


class LazyPlaywrightDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.crawler = crawler
        self._browser: Any = None
        self._starting: asyncio.Lock | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> LazyPlaywrightDownloadHandler:
        return cls(crawler)

    @property
    def started(self) -> bool:
        return self._browser is not None

    async def _browser_handler(self) -> Any:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._browser is None:
                from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

                log.info("a page needs rendering: starting Playwright")
                handler = ScrapyPlaywrightDownloadHandler(self.crawler)
                await handler._maybe_launch_in_thread()  # what its engine_started hook would have done
                self.crawler.stats.inc_value("sokhund/browser_started")
                self._browser = handler
        return self._browser

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright"):
            handler = await self._browser_handler()
            return await handler.download_request(request)
        return await super().download_request(request)

    async def close(self) -> None:
        await super().close()
        if self._browser is not None:
            await self._browser.close()
