"""Downloader middleware: every response becomes WARC evidence and a ``Capture`` (sha256, file, offset).

Sits closest to the downloader (after every other middleware changed the request, before any decodes
the response), so it records the request as sent and the response as served — invalid pages too —
before any other component looks at it. Content-Encoding is undone later by Scrapy's
HttpCompressionMiddleware, which runs before the detectors and the spider (see ``crawler.settings``).
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response

from crawler import paths, redact
from crawler.sink import IndexSink
from crawler.warc import SentRequest, WarcStore
from indexer.models import Capture

log = logging.getLogger(__name__)


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
        self.run_id = crawler.settings.get("SOKHUND_RUN_ID", "run")
        self.as_of = crawler.settings.get("SOKHUND_AS_OF") or None
        self.tor_sites = set(crawler.settings.getlist("SOKHUND_TOR_SITES"))
        self.tor_socks = crawler.settings.get("SOKHUND_TOR_SOCKS")
        self.stores: dict[str, WarcStore] = {}
        self._paths: dict[Path, str] = {}
        # The request as sent, kept in memory only: request.meta is pickled into JOBDIR, and the
        # snapshot holds the session cookie.
        self._sent: weakref.WeakKeyDictionary[Request, SentRequest] = weakref.WeakKeyDictionary()
        redact.install_log_filter()
        from scrapy import signals

        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcCaptureMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        redact.install_log_filter()  # handlers added after this middleware was built
        redact.remember(str(v) for v in (getattr(spider, "cookies", None) or {}).values())

    def _network(self, site: str, request: Request) -> str:
        tor = site in self.tor_sites or request.meta.get("sokhund_tor") or request.meta.get("network") == "tor"
        return "tor" if tor else "clearnet"

    def _store(self, site: str, network: str) -> WarcStore:
        if site not in self.stores:
            adapter = getattr(self.crawler.spider, "adapter", None)
            info = {"isPartOf": self.run_id, "sokhund-site": site, "sokhund-network": network,
                    "sokhund-adapter": getattr(adapter, "name", None),
                    "sokhund-adapter-file": getattr(adapter, "source_file", None),
                    "sokhund-adapter-sha256": _file_sha256(getattr(adapter, "source_file", None)),
                    "sokhund-tor-socks": self.tor_socks if network == "tor" else None,
                    "sokhund-as-of": self.as_of}
            self.stores[site] = WarcStore(paths.warc_dir() / site, prefix=self.run_id, info=info)
        return self.stores[site]

    def process_request(self, request: Request, spider: Spider) -> None:
        redact.remember(str(v) for v in (getattr(spider, "cookies", None) or {}).values())
        self._sent[request] = SentRequest(request.method, request.url, _headers(request.headers), request.body or b"")
        return None

    def process_response(self, request: Request, response: Response, spider: Spider) -> Response:
        site = request.meta.get("site") or getattr(spider, "site", "") or ""
        now = datetime.now(UTC)
        fetched_at = now.isoformat(timespec="seconds")
        network = self._network(site, request)
        headers = _headers(response.headers)
        # over Tor the peer is the SOCKS proxy, not the site: no WARC-IP-Address then
        extra = {"WARC-IP-Address": _ip(response)} if _ip(response) and network == "clearnet" else {}
        if request.meta.get("sokhund_tor"):
            extra["WARC-Sokhund-Tor-Isolation"] = str(request.meta["sokhund_tor"])
        if request.meta.get("playwright"):
            # the body is chromium's DOM after rendering, not the bytes on the wire
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length")]
            extra["WARC-Sokhund-Rendered"] = "chromium DOM after rendering"
        store = self._store(site, network)
        sent = self._sent.pop(request, None) or SentRequest(request.method, request.url, _headers(request.headers))
        written = store.write_capture(response.url, response.status, headers, response.body, sent, extra, now)
        screenshot = self._screenshot(store, request, response.url, written.record_id)
        capture = Capture(
            id=Capture.make_id(site, response.url, written.sha256, fetched_at),
            url=response.url,
            site=site,
            fetched_at=fetched_at,
            observed_at=self.as_of or fetched_at,
            status=response.status,
            sha256=written.sha256,
            warc_file=self._stored_path(written.path),
            warc_offset=written.offset,
            length=written.length,
            page_type=request.meta.get("page_type"),
            campaign_run=self.run_id,
            screenshot=screenshot,
            network=network,
            content_encoding=response.headers.get("Content-Encoding", b"").decode("latin-1") or None,
        )
        request.meta["capture"] = capture
        self.sink.add([capture])
        self.crawler.stats.inc_value("sokhund/captures")
        return response

    def _stored_path(self, path: Path) -> str:
        """The WARC file as the index stores it (resolved once per file, not per capture)."""
        stored = self._paths.get(path)
        if stored is None:
            stored = self._paths[path] = paths.relative_to_home(path)
        return stored

    def _screenshot(self, store: WarcStore, request: Request, url: str, record_id: str) -> str | None:
        shot = request.meta.get("screenshot")
        if not shot:
            return None
        path = Path(shot)
        if path.exists():
            store.write_resource(f"urn:sokhund:screenshot:{url}", "image/png", path.read_bytes(), record_id)
        return paths.relative_to_home(path)

    def spider_closed(self, spider: Spider) -> None:
        for store in self.stores.values():
            store.close()
        self.sink.flush()


def _file_sha256(path: str | None) -> str | None:
    """The adapter's version as evidence: the hash of the YAML file the crawl ran with."""
    import hashlib

    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ip(response: Response) -> str | None:
    ip = getattr(response, "ip_address", None)
    return str(ip) if ip is not None else None
