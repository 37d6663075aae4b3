"""Item pipeline: batches parsed items, runs the extractor once per batch (``nlp.pipe``), and writes
the resulting documents through the crawl's index sink."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider

from crawler import paths
from crawler.items import rows_of
from crawler.pipelines.documents import DocumentBuilder
from crawler.sink import IndexSink
from extractors.base import default_extractor
from extractors.cache import ExtractCache
from extractors.rates import RateTable

log = logging.getLogger(__name__)


def prepare_extraction(sites: list[str], use_cache: bool = True) -> None:
    """Load the NLP before the crawl starts when a site has no extraction cache yet (a first crawl extracts
    every text): the seconds spaCy and langdetect take to load then do not stall the downloads of every
    site in the worker. A re-crawl reads most texts from the cache and loads the NLP only when a new text
    comes."""
    if use_cache and all((paths.sub("cache") / "extract" / f"{site}.sqlite").exists() for site in sites):
        return
    warm = getattr(default_extractor(), "warm", None)
    if warm is not None:
        warm()


class IndexPipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.sink = IndexSink.from_crawler(crawler)
        settings = crawler.settings
        self.batch_size = settings.getint("SOKHUND_EXTRACT_BATCH", 64)
        as_of = settings.get("SOKHUND_AS_OF") or datetime.now(UTC).isoformat(timespec="seconds")
        self.builder = DocumentBuilder(
            extractor=default_extractor(),
            rates=RateTable.default(),
            run_id=settings.get("SOKHUND_RUN_ID", "run"),
            as_of=as_of,
            lookup=self.sink.get,
        )
        self.buffer: list[dict[str, Any]] = []
        self.currency: dict[str, str | None] = {}
        self.langs: dict[str, str] = {}
        # texts extracted by an earlier crawl of the site are not extracted again (extractors/cache.py)
        self.use_cache = settings.getbool("SOKHUND_EXTRACT_CACHE", True)
        self.cache_days = settings.getint("SOKHUND_EXTRACT_CACHE_DAYS", 30)
        self.cache: ExtractCache | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any], spider: Spider) -> dict[str, Any]:
        adapter = getattr(spider, "adapter", None)
        if adapter is not None:
            self.currency[adapter.name] = adapter.currency
            self.langs[adapter.name] = adapter.language
            if self.use_cache and self.cache is None:
                self.cache = ExtractCache(paths.sub("cache") / "extract" / f"{adapter.name}.sqlite",
                                          seen=self.builder.as_of, keep_days=self.cache_days)
        rows = rows_of(item)  # a page's rows (crawler/items.py), or one row item
        self.buffer.extend(rows)
        stats = self.crawler.stats
        for kind, n in Counter(row.get("type") for row in rows).items():
            stats.inc_value(f"sokhund/items/{kind}", n)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        docs = self.builder.build(batch, self.currency, self.langs, cache=self.cache)
        self.sink.add(docs)

    def close_spider(self, spider: Spider) -> None:
        self.flush()
        self.sink.flush()
        if self.cache is not None:
            self.crawler.stats.set_value("sokhund/extract_cache/hits", self.cache.hits)
            self.crawler.stats.set_value("sokhund/extract_cache/misses", self.cache.misses)
            self.cache.close()
