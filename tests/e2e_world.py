"""Helpers for end-to-end tests: a seeded testbed world crawled day by day into a private index."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.demo import _site_env
from crawler.adapters import load_all
from crawler.runner import CrawlResult, run_crawl
from testbed.server import Testbed


def as_of(testbed: Testbed) -> str:
    return f"{testbed.today}T12:00:00+00:00"


def site_names(testbed: Testbed, browser: bool = True) -> list[str]:
    adapters = load_all()
    names = [n for n in adapters if n in testbed.urls]
    if not browser:
        names = [n for n in names if not any(p.render for p in adapters[n].pages.values())]
    return names


@dataclass
class CrawledWorld:
    testbed: Testbed
    sites: list[str]
    results: list[CrawlResult] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)


DayCallback = Callable[[int, CrawlResult, Testbed], None]


def crawl_days(home: Path, seed: int, days: int, sites: list[str] | None = None, *,
               after_crawl: DayCallback | None = None, partial_days: int = 0, partial_budget: int = 50,
               **testbed_kwargs: Any) -> CrawledWorld:
    """Crawl ``days`` testbed days (run ids ``day0``, ``day1`` …). ``after_crawl(day, result, testbed)``, when
    given, runs after each day's crawl and before the testbed advances (e.g. roll-up + alert evaluation per
    crawl cycle, as a campaign does). The first ``partial_days`` crawls stop after ``partial_budget`` pages
    per site (``crawl --page-budget``): partial crawls that must not become the baseline."""
    os.environ["SOKHUND_HOME"] = str(home)
    testbed = Testbed(seed=seed, state_dir=home / "testbed", **testbed_kwargs)
    testbed.start()
    try:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        world = CrawledWorld(testbed, sites or site_names(testbed))
        for day in range(days):
            budget = partial_budget if day < partial_days else None
            result = run_crawl(world.sites, as_of=as_of(testbed), run_id=f"day{day}", timeout=600, page_budget=budget)
            world.results.append(result)
            if after_crawl is not None:
                after_crawl(day, result, testbed)
            if day < days - 1:
                testbed.advance()
        world.truth = testbed.truth()
    finally:
        testbed.stop()
    return world
