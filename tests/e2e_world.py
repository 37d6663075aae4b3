"""Helpers for end-to-end tests: a seeded testbed world crawled day by day into a private index."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from cli.demo import _site_env
from crawler.adapters import load_all
from crawler.runner import CrawlResult, run_crawl
from indexer.base import IndexBackend, open_backend
from indexer.models import CampaignRun
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


# The shared campaign world (tests/fixtures_worlds.py): what the e2e, parity and Kibana panel tests crawl.
WORLD_SEED = 11
WORLD_DAYS = 3
# Watch-list rules next to the built-in ones, so alert matching through the backend's search runs too.
WATCHLIST_RULES = """rules:
  - name: watchlist
    entries:
      - {kind: keyword, value: tjack}
      - {kind: keyword, value: fentanyl}
      - {kind: substance, value: ketamine}
"""


@dataclass
class CampaignWorld:
    """A world crawled as one campaign run per day. ``env`` selects its index (``SOKHUND_HOME`` and, for
    Elasticsearch, ``SOKHUND_INDEX_URL`` + ``SOKHUND_ES_PREFIX``); ``day_of_run`` maps run id → day."""

    home: Path
    env: dict[str, str]
    sites: list[str]
    runs: list[CampaignRun] = field(default_factory=list)
    results: list[CrawlResult] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def day_of_run(self) -> dict[str, int]:
        return {run.id: day for day, run in enumerate(self.runs)}

    @contextmanager
    def active(self) -> Iterator[None]:
        """``open_backend()``, the CLI and analytics inside read this world."""
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("SOKHUND_INDEX_URL", raising=False)
            mp.delenv("SOKHUND_ES_PREFIX", raising=False)
            for key, value in self.env.items():
                mp.setenv(key, value)
            yield

    def backend(self) -> IndexBackend:
        with self.active():
            return open_backend()

    def copy(self, dest: Path) -> CampaignWorld:
        """This world with a private copy of its home (index, evidence, runs) at ``dest``."""
        shutil.copytree(self.home, dest, symlinks=True)
        return replace(self, home=dest, env={**self.env, "SOKHUND_HOME": str(dest)})


def campaign_days(home: Path, index_env: dict[str, str], *, seed: int = WORLD_SEED,
                  days: int = WORLD_DAYS) -> CampaignWorld:
    """One campaign run per simulated day over every testbed site, as ``sokhund demo`` does."""
    from campaigns.config import Campaign, Schedule
    from campaigns.runs import run_campaign

    (home / "rules.yaml").write_text(WATCHLIST_RULES, "utf-8")
    env = {**index_env, "SOKHUND_HOME": str(home), "SOKHUND_ALERT_RULES": str(home / "rules.yaml")}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SOKHUND_INDEX_URL", raising=False)
        mp.delenv("SOKHUND_ES_PREFIX", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        # A week of prehistory instead of 30 days: a third of the feedback pages, the same questions.
        testbed = Testbed(seed=seed, state_dir=home / "testbed", new_swedish_vendor_day=1, prehistory_days=7)
        testbed.start()
        try:
            for key, value in _site_env(testbed.urls, testbed.session_cookies).items():
                mp.setenv(key, value)
            world = CampaignWorld(home, env, site_names(testbed))
            campaign = Campaign(name="world", sites=world.sites, schedule=Schedule(interval_seconds=86400))

            def crawl(*args: Any, **kwargs: Any) -> CrawlResult:
                world.results.append(run_crawl(*args, timeout=600, **kwargs))
                return world.results[-1]

            for day in range(days):
                run = run_campaign(campaign, crawl=crawl, as_of=as_of(testbed))
                assert run.status == "ok", (run.error, run.stats)
                world.runs.append(run)
                if day < days - 1:
                    testbed.advance()
            world.truth = testbed.truth()
        finally:
            testbed.stop()
    return world
