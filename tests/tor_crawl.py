"""A minimal Scrapy crawl through ``tor.scrapy_routing``, run in a subprocess by the Tor tests.

``python -m tests.tor_crawl CONFIG.json``. The config names sites (start URLs, network), extra Scrapy
settings, and whether to install a *honeypot* system resolver: every ``.onion`` name that reaches
``socket.getaddrinfo`` / ``gethostbyname`` is recorded and answered with 127.0.0.1, so a request that
bypassed Tor would reach the test's sentinel listener instead of failing quietly. The result (pages,
recorded onion look-ups, crawl stats) is written as JSON.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ONION_LOOKUPS: list[str] = []


def install_honeypot_resolver() -> None:
    def wrap(original: Callable[..., Any], answer: Callable[[Any], Any]) -> Callable[..., Any]:
        def patched(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name.rstrip(".").lower().endswith(".onion"):
                ONION_LOOKUPS.append(name)
                return answer((host, *args))
            return original(host, *args, **kwargs)

        return patched

    real_getaddrinfo = socket.getaddrinfo
    socket.getaddrinfo = wrap(real_getaddrinfo, lambda a: real_getaddrinfo("127.0.0.1", *a[1:]))
    socket.gethostbyname = wrap(socket.gethostbyname, lambda a: "127.0.0.1")
    socket.gethostbyname_ex = wrap(socket.gethostbyname_ex, lambda a: (a[0], [], ["127.0.0.1"]))


def main(config_path: str) -> int:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    if config.get("honeypot_dns", True):
        install_honeypot_resolver()  # before Scrapy/Twisted import anything

    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.http import Response

    from tor.scrapy_routing import request_new_identity

    pages: list[dict[str, Any]] = []
    errors: list[str] = []
    progress = open(config["progress"], "a", buffering=1)  # noqa: SIM115 - lives for the crawl

    class OnionTestSpider(scrapy.Spider):
        name = "onion_test"
        custom_settings: dict[str, Any] = {}

        async def start(self) -> Any:
            for req in self.start_requests():
                yield req

        def start_requests(self) -> Iterator[scrapy.Request]:
            for site, spec in config["sites"].items():
                for url in spec["start"]:
                    yield self._req(url, site, spec.get("network", "tor"))

        def _req(self, url: str, site: str, network: str, **meta: Any) -> scrapy.Request:
            return scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=bool(meta),
                                  meta={"site": site, "network": network, "handle_httpstatus_list": [403], **meta})

        def parse(self, response: Response) -> Iterator[scrapy.Request]:
            site = response.meta["site"]
            banned = response.status == 403 or b"banned" in response.body.lower()
            pages.append({"url": response.url, "status": response.status, "site": site, "banned": banned,
                          "time": time.time()})
            progress.write(response.url + "\n")
            if banned:
                tries = response.meta.get("ban_tries", 0) + 1
                if tries <= 3:
                    result = request_new_identity(self.crawler, site)
                    pages[-1]["rotation"] = {"generation": result.generation, "newnym": result.newnym}
                    yield self._req(response.url, site, response.meta["network"], ban_tries=tries)
                return
            if config.get("follow", True):
                host = urlsplit(response.url).netloc
                for href in response.css("a::attr(href)").getall():
                    url = response.urljoin(href)
                    if urlsplit(url).netloc == host:
                        yield self._req(url, site, response.meta["network"])

        def failed(self, failure: Any) -> None:
            errors.append(f"{failure.request.url}: {failure.type.__name__}: {failure.getErrorMessage()}")

    settings = {
        "DOWNLOAD_HANDLERS": {"http": "tor.scrapy_routing.TorDownloadHandler",
                              "https": "tor.scrapy_routing.TorDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {"tor.scrapy_routing.TorFailClosedMiddleware": 960},
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "RETRY_TIMES": 2,
        "DOWNLOAD_TIMEOUT": 30,
        **config.get("settings", {}),
    }
    process = CrawlerProcess(settings=settings)
    crawler = process.create_crawler(OnionTestSpider)
    process.crawl(crawler)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    Path(config["out"]).write_text(json.dumps({
        "pages": pages, "errors": errors, "onion_lookups": ONION_LOOKUPS, "stats": stats,
    }, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
