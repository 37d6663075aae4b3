"""Downloader middleware: puts the site's current session cookies on every request.

The cookies come from config (``crawler.session``) and from cookies harvested out of a rendered DDoS
page; applying them at send time means requests queued (or resumed from JOBDIR) earlier pick up a
cookie learned later."""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider


class SessionCookiesMiddleware:
    @classmethod
    def from_crawler(cls, crawler: Any) -> SessionCookiesMiddleware:
        return cls()

    def process_request(self, request: Request, spider: Spider) -> None:
        cookies = getattr(spider, "cookies", None)
        if cookies and isinstance(request.cookies, dict):
            for name, value in cookies.items():
                request.cookies.setdefault(name, value)
        return None
