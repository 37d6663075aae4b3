"""Downloader middleware: every response becomes WARC evidence and a ``Capture`` (sha256, file, offset).

Sits closest to the downloader, so it records everything — invalid pages too — before any other
component looks at the response.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response

from crawler import paths
from crawler.sink import IndexSink
from crawler.warc import WarcStore
from indexer.models import Capture


def _headers(headers: Any) -> list[tuple[str, str]]:
    out = []
    for key, values in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values:
            out.append((name, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


class WarcCaptureMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.sink = IndexSink.from_crawler(crawler)
        run_id = crawler.settings.get("SOKHUND_RUN_ID", "run")
        self.as_of = crawler.settings.get("SOKHUND_AS_OF") or None
        self.run_id = run_id
        self.stores: dict[str, WarcStore] = {}
        from scrapy import signals

        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcCaptureMiddleware:
        return cls(crawler)

    def _store(self, site: str) -> WarcStore:
        if site not in self.stores:
            self.stores[site] = WarcStore(paths.warc_dir() / site, prefix=self.run_id)
        return self.stores[site]

    def process_response(self, request: Request, response: Response, spider: Spider) -> Response:
        site = request.meta.get("site") or getattr(spider, "site", "") or ""
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        path, offset, sha256 = self._store(site).write_response(
            response.url, response.status, _headers(response.headers), response.body, _headers(request.headers)
        )
        capture = Capture(
            id=Capture.make_id(site, response.url, sha256, fetched_at),
            url=response.url,
            site=site,
            fetched_at=fetched_at,
            observed_at=self.as_of or fetched_at,
            status=response.status,
            sha256=sha256,
            warc_file=path,
            warc_offset=offset,
            length=len(response.body),
            page_type=request.meta.get("page_type"),
            campaign_run=self.run_id,
            screenshot=request.meta.get("screenshot"),
        )
        request.meta["capture"] = capture
        self.sink.add([capture])
        self.crawler.stats.inc_value("sokhund/captures")
        return response

    def spider_closed(self, spider: Spider) -> None:
        for store in self.stores.values():
            store.close()
        self.sink.flush()
