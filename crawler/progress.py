"""Extension: writes crawl progress (pages, items, invalid pages, errors) as JSON lines, so the runner
can draw a progress bar, and the final stats when the spider closes."""

from __future__ import annotations

import json
import time
from typing import Any

from scrapy import signals
from twisted.internet import task


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    invalid = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("sokhund/invalid/")}
    items = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("sokhund/items/")}
    return {
        "pages": stats.get("response_received_count", 0),
        "captures": stats.get("sokhund/captures", 0),
        "items": items,
        "invalid_pages": invalid,
        "errors": stats.get("sokhund/fetch_errors", 0) + stats.get("spider_exceptions/count", 0),
        "page_problems": stats.get("sokhund/page_problems", 0),
        "depth_limited": stats.get("sokhund/depth_limited", 0),  # links not followed: beyond max_depth
        "site_stopped": stats.get("sokhund/site_stopped"),
        "disk_full": stats.get("sokhund/disk_full"),  # the spool path and the space it needed
        "finish_reason": stats.get("finish_reason"),
        "elapsed": _elapsed(stats),
        "memusage_max": stats.get("memusage/max"),
    }


def _elapsed(stats: dict[str, Any]) -> float | None:
    start = stats.get("start_time")
    if start is None:
        return None
    from datetime import UTC, datetime

    end = stats.get("finish_time") or datetime.now(UTC)
    return round((end - start).total_seconds(), 3)


class ProgressReporter:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.path = crawler.settings.get("SOKHUND_PROGRESS_FILE")
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressReporter:
        return cls(crawler)

    def _write(self, event: str, spider: Any) -> None:
        if not self.path:
            return
        row = {"event": event, "site": getattr(spider, "site", spider.name), "time": time.time()}
        row.update(summarise(self.crawler.stats.get_stats()))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=str) + "\n")

    def opened(self, spider: Any) -> None:
        self._write("open", spider)
        self.loop = task.LoopingCall(self._write, "progress", spider)
        self.loop.start(0.5, now=False)

    def closed(self, spider: Any, reason: str) -> None:
        if self.loop and self.loop.running:
            self.loop.stop()
        self.crawler.stats.set_value("finish_reason", reason)
        self._write("closed", spider)
