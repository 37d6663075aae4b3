"""Zero-config crawling: ``sokhund crawl --generic URL`` for a market or shop that has no adapter.

``generic_adapter_file(url)`` writes a minimal adapter (identity, network, start page, budgets; no
selectors) under the data directory, so the run gets everything an adapter run gets — WARC evidence,
invalid-page detectors (the generic set), Tor routing and fail-closed onion handling, JOBDIR resume.
``GenericSpider`` then reads every page with ``extractors.generic.extract_page`` (page structure + the NLP
pipeline downstream) instead of selectors, and follows the page's own links on the same host, listing and
category links first, within the page budget and depth.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
import yaml
from scrapy.http import Response, TextResponse

from crawler import paths
from crawler.items import page_item
from crawler.spiders.adapter_spider import AdapterSpider
from extractors.generic import extract_page, link_priority

_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"'#]+)""", re.I)
_SKIP = re.compile(r"logout|log-out|signout|sign-out|/cart|checkout|add-to-cart|wishlist|\.(?:png|jpe?g|gif|css|js|ico|svg|zip|pdf)(?:\?|$)", re.I)
GENERIC_PAGE_BUDGET = 500
GENERIC_MAX_DEPTH = 4


def generic_name(url: str) -> str:
    host = urlsplit(url).hostname or "site"
    return "generic_" + re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_")[:60]


def generic_adapter_file(url: str, kind: str = "market", language: str = "en", currency: str | None = None) -> Path:
    """Write the adapter of a zero-config run of ``url`` and return its path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--generic needs an http(s) URL, got {url!r}")
    base = f"{parts.scheme}://{parts.netloc}"
    start = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    adapter: dict[str, Any] = {
        "name": generic_name(url),
        "kind": kind,
        "language": language,
        "network": "tor" if parts.hostname.endswith(".onion") else "clearnet",
        "base_url": base,
        "start": [start],
        "politeness": {"concurrency": 2, "page_budget": GENERIC_PAGE_BUDGET, "max_depth": GENERIC_MAX_DEPTH},
        # one catch-all page type: the generic spider reads pages by structure, not by selectors
        "pages": {"page": {"url_pattern": "^/", "item": "none"}},
    }
    if currency:
        adapter["currency"] = currency
    folder = paths.sub("generic")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{adapter['name']}.yaml"
    path.write_text("# written by `sokhund crawl --generic` (crawler/spiders/generic.py)\n"
                    + yaml.safe_dump(adapter, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class GenericSpider(AdapterSpider):
    name = "generic"
    kinds = ("market", "shop")

    def _parse(self, response: Response) -> Iterator[Any]:
        capture = response.meta.get("capture")
        if not isinstance(response, TextResponse):
            self._record_problem(capture, f"not a text page ({response.headers.get('Content-Type', b'')!r})")
            return
        body = response.body[: self.adapter.politeness.max_body_bytes]
        html = body.decode(response.encoding or "utf-8", errors="replace")
        try:
            page = extract_page(html, response.url)
        except Exception as exc:  # broken HTML must not kill the crawl
            self._record_problem(capture, f"generic parse failed: {type(exc).__name__}: {exc}")
            return
        if capture is not None and capture.page_type != page["page_type"]:
            capture.page_type = page["page_type"]  # the sink may have written the capture already
            from crawler.sink import IndexSink

            IndexSink.from_crawler(self.crawler).add([capture])
        self.crawler.stats.inc_value(f"sokhund/generic_pages/{page['page_type']}")
        if page["items"]:
            yield page_item([{"type": item["type"], "site": self.site, "url": item["url"] or response.url,
                              "page_type": page["page_type"], "fields": item["fields"], "capture": capture}
                             for item in page["items"]])
        seen: set[str] = set()
        # Without page types there is no pagination to tell apart: every link is one level deeper.
        depth = int(response.meta.get("sokhund_depth", 0)) + 1
        if depth > self.settings.getint("SOKHUND_MAX_DEPTH", self.adapter.politeness.max_depth):
            self.crawler.stats.inc_value("sokhund/depth_limited")
            return
        for href in _HREF.findall(html):
            url = urljoin(response.url, href.strip())
            if url in seen or url in self.requested or not self.scope.contains(url) or _SKIP.search(url):
                continue
            seen.add(url)
            self.requested.add(url)
            yield scrapy.Request(url, callback=self.parse_page, errback=self.on_error, priority=link_priority(url),
                                 meta={"site": self.site, "page_type": None, "sokhund_depth": depth})
