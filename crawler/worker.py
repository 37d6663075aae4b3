"""Scrapy worker process: crawls one or more sites, one Scrapy crawler per site, with per-site
politeness and a JOBDIR per (site, run) so a killed crawl resumes where it stopped.

Run by ``crawler.runner.run_crawl`` (Twisted's reactor cannot restart inside one process, so every
crawl gets a fresh process)."""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler import paths
from crawler.adapters import SiteAdapter, load_adapter
from crawler.components import MissingPipelineError, require_components
from crawler.pidlock import LockHeld, hold_pid_lock
from crawler.render import needs_browser
from crawler.spiders.forum import ForumSpider
from crawler.spiders.market import MarketSpider
from tor.onion import is_onion_host

log = logging.getLogger(__name__)

OK_REASONS = ("finished", "closespider_pagecount")


class SiteBusy(RuntimeError):
    """Another live process is crawling the same site."""


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
        # Link depth is the spider's own (SOKHUND_MAX_DEPTH): pagination to the next page of the same page
        # type does not count, so a vendor with 400 feedback pages is read to the end. Scrapy's
        # DEPTH_LIMIT would cut it at the adapter's depth.
        "DEPTH_LIMIT": 0,
        "SOKHUND_MAX_DEPTH": overrides.pop("max_depth", None) or polite.max_depth,
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
        from crawler.errors import readable_error

        logging.getLogger(__name__).error("crawl of %s failed: %s", site, result.getTraceback())
        reasons[site] = f"error: {readable_error(result)}"
        return
    reasons[site] = crawler.stats.get_value("finish_reason", "unknown") if crawler.stats else "unknown"
    if crawler.stats is not None:
        reasons[site] = verdict(reasons[site], crawler.stats.get_stats())


def verdict(reason: str, stats: dict[str, Any]) -> str:
    """The finish reason, honest: a crawl that reached no page, or whose fetches mostly failed (the site
    is down), failed even though Scrapy calls it "finished"."""
    if stats.get("sokhund/disk_full"):
        return "disk_full"
    if reason not in OK_REASONS:
        return reason
    pages = int(stats.get("response_received_count", 0) or 0)
    errors = int(stats.get("sokhund/fetch_errors", 0) or 0)
    first = stats.get("sokhund/first_error")
    if pages == 0:
        return f"failed: reached no page ({errors} fetches failed; first: {first})" if errors else \
            "failed: reached no page"
    if errors > pages:
        return f"failed: {errors} of {errors + pages} fetches failed (first: {first})"
    return reason


def _lock_site(site: str) -> IO[str]:
    """Hold ``jobs/<site>/.lock`` for the life of this process (the kernel drops it when the process dies,
    however it dies), so a second crawl of the same site refuses to start."""
    try:
        return hold_pid_lock(paths.jobs_dir() / site / ".lock")
    except LockHeld as held:
        raise SiteBusy(f"{site} is already being crawled by PID {held.owner}; wait for it to finish or stop it "
                       "first") from None


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGTERM when the process that started us dies (even by SIGKILL), so a worker
    never keeps crawling orphaned; SIGTERM is a graceful stop that keeps the JOBDIR resumable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the runner still stops us on its own signals
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


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
    # Scrapy's logging setup puts its loggers at DEBUG and filters in the handler, so every page and every
    # item built a log record ("Crawled", "Scraped from") that was then thrown away: filter at the logger.
    logging.getLogger("scrapy").setLevel(overrides.get("LOG_LEVEL", "INFO"))
    reasons: dict[str, str] = {}
    site_names: dict[str, str] = {}
    locks = []
    for name, adapter, custom in prepared:
        site_names[name] = adapter.name
        if not (overrides.get("SOKHUND_REDIS_URL") or os.environ.get("SOKHUND_REDIS_URL")):
            # with Redis, several workers share one site on purpose, and the shared frontier is the job state
            locks.append(_lock_site(adapter.name))
            _claim_jobdir(adapter.name, run_id)
        base_cls = ForumSpider if adapter.kind == "forum" else MarketSpider
        if overrides.get("SOKHUND_GENERIC"):  # `sokhund crawl --generic URL`: no selectors, page structure
            from crawler.spiders.generic import GenericSpider

            base_cls = GenericSpider
        # One spider class per site so each crawler gets its own settings (politeness, budget, JOBDIR).
        spider_cls = type(f"{base_cls.__name__}_{adapter.name}", (base_cls,), {"custom_settings": custom})
        crawler = process.create_crawler(spider_cls)
        deferred = process.crawl(crawler, site=name)
        deferred.addBoth(_record_reason, name, crawler, reasons)
    from crawler.pipelines.index import prepare_extraction

    cache = overrides.get("SOKHUND_EXTRACT_CACHE", project_settings().getbool("SOKHUND_EXTRACT_CACHE"))
    prepare_extraction(list(site_names.values()), use_cache=_bool(cache))
    process.start()
    for name, reason in reasons.items():
        folder = jobdir(site_names[name], run_id)
        if reason == "disk_full":
            # parsed documents may not have reached disk: keep RUNNING so the next run re-crawls from the
            # start pages (as after a hard kill) instead of trusting a seen-set that covers them
            log.error("run %s of %s stopped on a full disk: the next run crawls it again", run_id, name)
            continue
        if reason.startswith("failed:"):
            # the site was down: its seen-set only holds failed requests; the next crawl starts afresh
            shutil.rmtree(folder, ignore_errors=True)
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "RUNNING").unlink(missing_ok=True)  # a graceful stop: the JOBDIR queue is complete
        if reason == "finished":
            (folder / "DONE").touch()
    for fh in locks:
        fh.close()
    return reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sökhund crawl worker (started by crawler.runner)")
    parser.add_argument("--sites", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--settings-json", default="{}")
    parser.add_argument("--parent-pid", type=int, help="die with this process (set by crawler.runner)")
    args = parser.parse_args(argv)
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    overrides = json.loads(args.settings_json)
    logging.getLogger("scrapy").setLevel(overrides.get("LOG_LEVEL", "INFO"))
    try:
        reasons = run(args.sites.split(","), paths.check_run_id(args.run_id), overrides)
    except (SiteBusy, MissingPipelineError, ValueError) as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 4
    print(json.dumps({"finish_reasons": reasons}), flush=True)
    return 0 if all(r in OK_REASONS for r in reasons.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
