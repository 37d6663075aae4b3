"""The generic spider: runs any site adapter. Market, forum and shop spiders are thin names over it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.adapters import SiteAdapter, load_adapter
from crawler.items import page_item
from crawler.page_tree import take
from crawler.parsing import links, load_html, parse_items
from crawler.scope import SiteScope
from crawler.session import session_cookies

log = logging.getLogger(__name__)


class AdapterSpider(scrapy.Spider):
    name = "site"
    kinds: tuple[str, ...] = ("market", "forum", "shop")

    def __init__(self, site: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not site:
            raise ValueError(f"spider {self.name!r} needs a site: scrapy crawl {self.name} -a site=NAME")
        self.adapter: SiteAdapter = load_adapter(site)
        if self.adapter.kind not in self.kinds:
            raise ValueError(f"site {site!r} is a {self.adapter.kind}, not one of {self.kinds} for spider {self.name}")
        self.site = self.adapter.name
        self.base_url = self.adapter.url()
        self.scope = SiteScope.of(self.adapter)  # links, redirects and session cookies stay inside it
        self.cookies = session_cookies(self.adapter)
        # URLs this spider already asked for: most links of a page were seen before (navigation, vendor
        # links), and building a Request only for the dupe filter to drop it cost more than the page's
        # own parse. The dupe filter (and JOBDIR's seen-set on resume) still decides for the rest.
        self.requested: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> AdapterSpider:
        from crawler.components import require_components

        # plain Scrapy settings (a crawl started outside the project) would fetch and keep nothing
        require_components(crawler.settings, kwargs.get("site") or cls.name)
        return super().from_crawler(crawler, *args, **kwargs)

    async def start(self) -> Any:
        for item in self.start_requests():
            yield item

    def start_requests(self) -> Iterator[scrapy.Request]:
        for path in self.adapter.start:
            url = urljoin(self.base_url + "/", path.lstrip("/"))
            yield self.make_request(url, self.adapter.page_type(url), priority=0, dont_filter=True)

    def make_request(self, url: str, page_type: str | None, priority: int = 0, dont_filter: bool = False) -> scrapy.Request:
        meta: dict[str, Any] = {"site": self.site, "page_type": page_type}
        spec = self.adapter.pages.get(page_type or "")
        if spec is not None and spec.render:
            from crawler.render import render_meta

            meta.update(render_meta(self.site, self.settings.get("SOKHUND_RUN_ID", "run"), url, spec.wait_for))
        return scrapy.Request(
            url,
            callback=self.parse_page,
            errback=self.on_error,
            priority=priority,
            dont_filter=dont_filter,
            meta=meta,
        )

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        page = response.meta.pop("playwright_page", None)
        if page is not None:
            # A DDoS page rendered in the browser: hand its cookies back to the Scrapy session.
            for cookie in await page.context.cookies():
                self.cookies[cookie["name"]] = cookie["value"]
            await page.close()
            self.crawler.stats.inc_value("sokhund/cookies_from_browser")
        for output in self._parse(response):
            yield output

    def _parse(self, response: Response) -> Iterator[Any]:
        hint = response.meta.get("page_type") or self.adapter.page_type(response.url)
        capture = response.meta.get("capture")
        if hint is None and not self.adapter.content_typed:
            self.crawler.stats.inc_value("sokhund/unknown_page_type")
            return
        if not isinstance(response, TextResponse):
            self._record_problem(capture, f"not a text page ({response.headers.get('Content-Type', b'')!r})")
            return
        limit = self.adapter.politeness.max_body_bytes
        body = response.body
        if len(body) > limit:
            # Evidence keeps the whole body; parsing stops at the adapter's bound.
            self._record_problem(capture, f"body of {len(body)} bytes exceeds the {limit}-byte parse limit", truncated=True)
            body = body[:limit]
        try:
            shared = take(response)  # the detectors' parse of this page (crawler/page_tree.py)
            if shared is not None:
                document, problem = shared
            else:
                document, problem = load_html(body.decode(response.encoding or "utf-8", errors="replace"))
            # the page type by content (an adapter's `match:`), the URL's or the follow rule's otherwise
            page_type = self.adapter.page_type_for(response.url, document.root, hint)
            spec = self.adapter.pages.get(page_type or "")
            if spec is None:
                self.crawler.stats.inc_value("sokhund/unknown_page_type")
                return
            problems = [problem] if problem else []
            now = (capture.observed_at or capture.fetched_at) if capture is not None else None
            rows = parse_items(spec, document, response.url, problems, now=now)
            follow = links(self.adapter, spec, document, response.url)
        except Exception as exc:  # broken HTML must not kill the crawl
            self._record_problem(capture, f"parse failed: {type(exc).__name__}: {exc}")
            return
        if problems:  # kept beside an earlier problem of the same page (a body over the parse limit)
            earlier = [capture.parse_error] if capture is not None and capture.parse_error else []
            self._record_problem(capture, "; ".join(earlier + problems))
        if capture is not None and capture.page_type != page_type:
            capture.page_type = page_type  # decided by the content: the sink may have written it already
            from crawler.sink import IndexSink

            IndexSink.from_crawler(self.crawler).add([capture])
        if rows:
            yield page_item([{"type": kind, "site": self.site, "url": response.url, "page_type": page_type,
                              "fields": fields, "capture": capture} for kind, fields in rows])
        depth = int(response.meta.get("sokhund_depth", 0))
        max_depth = self.settings.getint("SOKHUND_MAX_DEPTH", self.adapter.politeness.max_depth)
        for url, target_type, priority in follow:
            if not self.scope.contains(url):
                continue
            # The next page of a paginated list (same page type) is as deep as the page that links it.
            child = depth if target_type == page_type else depth + 1
            if child > max_depth:
                self.crawler.stats.inc_value("sokhund/depth_limited")
                continue
            if url in self.requested:
                continue
            self.requested.add(url)
            request = self.make_request(url, target_type, priority=priority)
            request.meta["sokhund_depth"] = child
            yield request

    def _record_problem(self, capture: Any, message: str, truncated: bool = False) -> None:
        self.crawler.stats.inc_value("sokhund/page_problems")
        log.warning("%s: %s", capture.url if capture else self.site, message)
        if capture is not None:
            capture.parse_error = message
            capture.truncated = truncated or capture.truncated
            from crawler.sink import IndexSink

            IndexSink.from_crawler(self.crawler).add([capture])

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        from crawler.middlewares.redirects import OffsiteRedirect

        if failure.check(OffsiteRedirect):
            return  # already recorded on the redirecting page's capture; nothing was fetched
        self.crawler.stats.inc_value("sokhund/fetch_errors")
        from crawler.errors import readable_error

        reason = readable_error(failure)
        if not self.crawler.stats.get_value("sokhund/first_error"):
            self.crawler.stats.set_value("sokhund/first_error", f"{request.url}: {reason}")
        log.warning("fetch failed for %s: %s", request.url, reason)
        from datetime import UTC, datetime

        from crawler.sink import IndexSink
        from indexer.models import Capture

        now = datetime.now(UTC).isoformat(timespec="seconds")
        capture = Capture(
            id=Capture.make_id(self.site, request.url, "", now),
            url=request.url,
            site=self.site,
            fetched_at=now,
            observed_at=self.settings.get("SOKHUND_AS_OF") or now,
            status=0,
            page_type=request.meta.get("page_type"),
            parse_error=f"fetch failed: {reason}",
            campaign_run=self.settings.get("SOKHUND_RUN_ID"),
        )
        IndexSink.from_crawler(self.crawler).add([capture])
