"""The JOBDIR request queue (crawler/frontier.py) writes what Scrapy's own queue writes: a run queued by
either resumes with either, callbacks and all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy
from scrapy.squeues import PickleLifoDiskQueue
from scrapy.utils.test import get_crawler

from crawler.frontier import RequestDiskQueue


class _Spider(scrapy.Spider):
    name = "frontier"

    def parse_page(self, response: Any) -> None: ...

    def on_error(self, failure: Any) -> None: ...

    def other(self, response: Any) -> None: ...


def _crawler() -> Any:
    crawler = get_crawler(_Spider)
    crawler.spider = _Spider.from_crawler(crawler)
    return crawler


def _requests(spider: _Spider) -> list[scrapy.Request]:
    return [
        scrapy.Request("http://127.0.0.1/a", callback=spider.parse_page, errback=spider.on_error, priority=3,
                       meta={"site": "s", "page_type": "listing", "sokhund_depth": 2}),
        scrapy.Request("http://127.0.0.1/b", callback=spider.other, dont_filter=True),
        scrapy.Request("http://127.0.0.1/c", callback=spider.parse_page, errback=spider.on_error),
        scrapy.Request("http://127.0.0.1/d"),
    ]


def _same(a: scrapy.Request, b: scrapy.Request) -> bool:
    return (a.url, a.callback, a.errback, a.priority, a.meta, a.dont_filter) == \
        (b.url, b.callback, b.errback, b.priority, b.meta, b.dont_filter)


def test_scrapy_reads_what_the_frontier_wrote_and_back(tmp_path: Path) -> None:
    crawler = _crawler()
    spider = crawler.spider
    sent = _requests(spider)
    ours = RequestDiskQueue.from_crawler(crawler, str(tmp_path / "q1"))
    for request in sent:
        ours.push(request)
    ours.close()
    theirs = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q1"))
    got = [theirs.pop() for _ in sent]
    assert all(_same(a, b) for a, b in zip(reversed(sent), got, strict=True))
    theirs.close()

    scrapys = PickleLifoDiskQueue.from_crawler(crawler, str(tmp_path / "q2"))
    for request in sent:
        scrapys.push(request)
    scrapys.close()
    back = RequestDiskQueue.from_crawler(crawler, str(tmp_path / "q2"))
    assert all(_same(a, b) for a, b in zip(reversed(sent), [back.pop() for _ in sent], strict=True))
    assert back.pop() is None
