"""Downloader middleware: puts the site's current session cookies on requests to the site's own hosts.

The cookies come from config (``crawler.session``) and from cookies harvested out of a rendered DDoS
page; applying them at send time means requests queued (or resumed from JOBDIR) earlier pick up a
cookie learned later. A request to any other host (an off-site link or redirect that got this far)
never carries them."""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider

from crawler.scope import SiteScope


class SessionCookiesMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.refused = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> SessionCookiesMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider) -> None:
        cookies = getattr(spider, "cookies", None)
        if not cookies or not isinstance(request.cookies, dict):
            return None
        scope: SiteScope | None = getattr(spider, "scope", None)
        if scope is None or not scope.contains(request.url):
            self.crawler.stats.inc_value("sokhund/cookies_withheld_offsite")
            return None
        # a dict, as scrapy-playwright expects when the request is rendered; the cookie middleware
        # gives these cookies path "/" (crawler.middlewares.cookies)
        for name, value in cookies.items():
            request.cookies.setdefault(name, value)
        return None
