"""A bare Scrapy spider for the crawl benchmark: follows every same-host link, nothing else."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str, cookies: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.host = urlsplit(start).netloc
        self.jar = cookies

    async def start(self) -> Any:
        for url in self.start_urls:
            yield scrapy.Request(url, cookies=self.jar)

    def parse(self, response: Any) -> Any:
        if not hasattr(response, "css"):
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if urlsplit(url).netloc == self.host:
                yield scrapy.Request(url, cookies=self.jar)


def main() -> None:
    spec = json.loads(sys.argv[1])
    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": spec["concurrency"], "CONCURRENT_REQUESTS_PER_DOMAIN": spec["concurrency"],
        "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False, "HTTPERROR_ALLOW_ALL": True,
        "CLOSESPIDER_PAGECOUNT": spec["budget"],
    })
    crawlers = []
    for site, start in spec["sites"].items():
        crawler = process.create_crawler(BareSpider)
        crawlers.append(crawler)
        process.crawl(crawler, start=start, cookies=spec["cookies"].get(site, {}))
    process.start()
    pages = sum(c.stats.get_value("response_received_count", 0) for c in crawlers)
    elapsed = max(c.stats.get_value("elapsed_time_seconds", 0) for c in crawlers)
    rss = max(c.stats.get_value("memusage/max", 0) for c in crawlers)
    print(json.dumps({"pages": pages, "elapsed": elapsed, "memusage_max": rss}))


if __name__ == "__main__":
    main()
