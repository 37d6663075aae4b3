"""Scrapy worker process: crawls one or more sites, one Scrapy crawler per site, with per-site
politeness and a JOBDIR per (site, run) so a killed crawl resumes where it stopped.

Run by ``crawler.runner.run_crawl`` (Twisted's reactor cannot restart inside one process, so every
crawl gets a fresh process)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler import paths
from crawler.adapters import SiteAdapter, load_adapter
from crawler.components import MissingPipelineError, require_components
from crawler.render import needs_browser
from crawler.spiders.forum import ForumSpider
from crawler.spiders.market import MarketSpider
from tor.onion import is_onion_host

log = logging.getLogger(__name__)

SETTINGS_MODULE = "crawler.settings"


def project_settings() -> Settings:
    """Sökhund's settings, whatever the working directory (Scrapy's get_project_settings would look for a
    scrapy.cfg in the current directory and silently fall back to plain Scrapy without one)."""
    settings = Settings()
    settings.setmodule(SETTINGS_MODULE, priority="project")
    return settings


def check_components(site: str, custom: dict[str, Any]) -> None:
    """Refuse a crawl whose merged settings would run without the index pipeline or the WARC evidence."""
    merged = project_settings()
    merged.setdict(custom, priority="spider")
    require_components(merged, site)


def jobdir(site: str, run_id: str) -> Path:
    return paths.jobs_dir() / site / run_id


def site_settings(adapter: SiteAdapter, run_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Per-site settings: politeness and budgets from the adapter, a JOBDIR per (site, run), Tor routing."""
    polite = adapter.politeness
    settings: dict[str, Any] = {
        "CONCURRENT_REQUESTS": polite.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": polite.concurrency,
        "DOWNLOAD_DELAY": polite.delay,
        "AUTOTHROTTLE_ENABLED": polite.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(polite.concurrency),
        "CLOSESPIDER_PAGECOUNT": overrides.pop("page_budget", None) or polite.page_budget,
        "DEPTH_LIMIT": overrides.pop("max_depth", None) or polite.max_depth,
        "JOBDIR": str(jobdir(adapter.name, run_id)),
        "SOKHUND_RUN_ID": run_id,
    }
    # an onion base URL (e.g. given per run by SOKHUND_SITE_<NAME>_URL) always goes through Tor (fail closed)
    tor = adapter.network == "tor" or is_onion_host(urlsplit(adapter.url()).hostname) or bool(
        overrides.get("SOKHUND_USE_TOR"))
    if tor:
        from tor.scrapy_routing import scrapy_settings as tor_settings

        settings.update(tor_settings(adapter))
    if needs_browser(adapter):
        from crawler.render import playwright_settings

        browser = playwright_settings(proxy=settings.get("SOKHUND_BROWSER_PROXY") if tor else None)
        if tor:
            # Tor's handler must stay the download handler (fail closed); it hands non-Tor and rendered
            # requests to Playwright, whose chromium goes through tor's SOCKS port.
            settings["SOKHUND_TOR_FALLBACK_HANDLER"] = browser.pop("DOWNLOAD_HANDLERS")["http"]
        settings.update(browser)
    if "DOWNLOADER_MIDDLEWARES" in settings:
        # custom_settings replace the project's dict: keep Sökhund's middlewares beside Tor's
        project = project_settings().getdict("DOWNLOADER_MIDDLEWARES")
        settings["DOWNLOADER_MIDDLEWARES"] = {**project, **settings["DOWNLOADER_MIDDLEWARES"]}
    redis_url = overrides.pop("SOKHUND_REDIS_URL", None) or os.environ.get("SOKHUND_REDIS_URL")
    if redis_url:
        # Scale-out: every worker of this run shares one frontier and one dupe filter in Redis.
        settings.update({
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,
            "SCHEDULER_QUEUE_KEY": f"sokhund:{adapter.name}:{run_id}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"sokhund:{adapter.name}:{run_id}:dupefilter",
            "REDIS_URL": redis_url,
            "JOBDIR": None,
        })
    settings.update(overrides)
    return settings


def _record_reason(result: Any, site: str, crawler: Crawler, reasons: dict[str, str]) -> None:
    if isinstance(result, Failure):
        logging.getLogger(__name__).error("crawl of %s failed: %s", site, result.getTraceback())
        reasons[site] = f"error: {result.getErrorMessage()}"
        return
    reasons[site] = crawler.stats.get_value("finish_reason", "unknown") if crawler.stats else "unknown"


def _claim_jobdir(site: str, run_id: str) -> None:
    """Mark the JOBDIR as in use. A marker left by a process that no longer exists means the last run
    was killed hard (SIGKILL, power loss): Scrapy's on-disk queue is then not trustworthy, so the run
    restarts from its start pages. Ids are deterministic, so re-crawled facts are not duplicated."""
    folder = jobdir(site, run_id)
    marker = folder / "RUNNING"
    if marker.exists():
        pid = int(marker.read_text().strip() or 0)
        if pid and _alive(pid):
            raise RuntimeError(f"run {run_id} of {site} is already being crawled by process {pid}")
        log.warning("run %s of %s was killed hard; its job queue cannot be trusted: re-crawling it from "
                    "the start pages (nothing is duplicated: ids are deterministic)", run_id, site)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(sites: list[str], run_id: str, overrides: dict[str, Any]) -> dict[str, str]:
    from tor.scrapy_routing import _bool, install_system_resolver_guard

    if _bool(overrides.get("SOKHUND_TOR_GUARD_SYSTEM_RESOLVER", True)):  # off only in tests of the routing
        install_system_resolver_guard()  # no crawl, clearnet or Tor, hands an .onion name to the system resolver
    prepared = []
    for name in sites:
        adapter = load_adapter(name)
        custom = site_settings(adapter, run_id, dict(overrides))
        check_components(adapter.name, custom)
        prepared.append((name, adapter, custom))
    process = CrawlerProcess(project_settings())
    reasons: dict[str, str] = {}
    site_names: dict[str, str] = {}
    for name, adapter, custom in prepared:
        site_names[name] = adapter.name
        if not (overrides.get("SOKHUND_REDIS_URL") or os.environ.get("SOKHUND_REDIS_URL")):
            _claim_jobdir(adapter.name, run_id)  # with Redis, the shared frontier is the job state
        base_cls = ForumSpider if adapter.kind == "forum" else MarketSpider
        # One spider class per site so each crawler gets its own settings (politeness, budget, JOBDIR).
        spider_cls = type(f"{base_cls.__name__}_{adapter.name}", (base_cls,), {"custom_settings": custom})
        crawler = process.create_crawler(spider_cls)
        deferred = process.crawl(crawler, site=name)
        deferred.addBoth(_record_reason, name, crawler, reasons)
    process.start()
    for name, reason in reasons.items():
        folder = jobdir(site_names[name], run_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "RUNNING").unlink(missing_ok=True)  # a graceful stop: the JOBDIR queue is complete
        if reason == "finished":
            (folder / "DONE").touch()
    return reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sökhund crawl worker (started by crawler.runner)")
    parser.add_argument("--sites", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--settings-json", default="{}")
    args = parser.parse_args(argv)
    overrides = json.loads(args.settings_json)
    logging.getLogger("scrapy").setLevel(overrides.get("LOG_LEVEL", "INFO"))
    try:
        reasons = run(args.sites.split(","), args.run_id, overrides)
    except MissingPipelineError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(json.dumps({"finish_reasons": reasons}), flush=True)
    return 0 if all(r in ("finished", "closespider_pagecount") for r in reasons.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
