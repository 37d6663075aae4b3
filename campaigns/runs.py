"""Campaign runs: one crawl of a campaign's sites, then the roll-up and alert evaluation; and their history.

Each run is a :class:`~indexer.models.CampaignRun` upserted into the index (``running`` → ``ok`` /
``partial`` / ``failed``) with the crawl stats, per-site coverage, the new vendors and the alerts fired. A
run where every site failed (nothing fetched, session stopped, crawl cut off) is ``failed``, one where some
did is ``partial``; ``stats.site_failures`` says why per site. A crawl that raises is recorded as a failed
run; the scheduler goes on with the next one.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from campaigns.config import Campaign, CampaignError, get_campaign
from crawler.coverage import run_status
from indexer.models import CampaignRun

log = logging.getLogger(__name__)


CRAWL_FUNCTION_ENV = "SOKHUND_CRAWL_FUNCTION"  # "module:function" replacing crawler.runner.run_crawl


DEFAULT_CRAWL = "crawler.runner:run_crawl"


# ----------------------------------------------------------------------------------- one run
def resolve_crawl(crawl: Callable[..., Any] | str | None = None) -> Callable[..., Any]:
    """The crawl function: a callable, a ``module:function`` reference, ``$SOKHUND_CRAWL_FUNCTION``, or by
    default the real :func:`crawler.runner.run_crawl`."""
    if callable(crawl):
        return crawl
    ref = crawl or os.environ.get(CRAWL_FUNCTION_ENV) or DEFAULT_CRAWL
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise CampaignError(f"crawl function reference {ref!r} must look like 'package.module:function'")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise CampaignError(f"cannot import crawl function {ref!r}: {exc}") from exc
    if not callable(func):
        raise CampaignError(f"crawl function {ref!r} is not callable")
    return func


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(name: str) -> str:
    return f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def crawl_stats(result: Any) -> dict[str, Any]:
    """Pages, items, errors and invalid pages by kind from a ``CrawlResult`` whose ``stats`` is either per
    site (``{site: {pages, items, …}}``) or already totalled."""
    raw = getattr(result, "stats", None) or {}
    per_site = raw if raw and all(isinstance(v, dict) for v in raw.values()) and "pages" not in raw else {"_": raw}
    totals: dict[str, Any] = {"pages": 0, "items": 0, "errors": 0, "invalid_pages": {}, "items_by_kind": {}}
    for stats in per_site.values():
        for key in ("pages", "items", "errors"):
            value = stats.get(key, 0)
            if isinstance(value, dict):  # items per kind (listing, vendor, post …)
                for kind, n in value.items():
                    totals["items_by_kind"][kind] = totals["items_by_kind"].get(kind, 0) + int(n)
                    totals[key] += int(n)
            elif isinstance(value, int | float):
                totals[key] += int(value)
        for kind, n in (stats.get("invalid_pages") or {}).items():
            totals["invalid_pages"][kind] = totals["invalid_pages"].get(kind, 0) + int(n)
    if per_site.keys() != {"_"}:
        keep = ("pages", "captures", "items", "errors", "invalid_pages", "site_stopped", "finish_reason", "elapsed")
        totals["sites"] = {site: {k: s.get(k) for k in keep if k in s} for site, s in per_site.items()}
    reasons = getattr(result, "finish_reasons", None)
    if reasons:
        totals["finish_reasons"] = dict(reasons)
    coverage = getattr(result, "coverage", None)
    if coverage:
        totals["coverage"] = dict(coverage)
    return totals


def _per_site(result: Any, sites: list[str]) -> dict[str, dict[str, Any]] | None:
    raw = getattr(result, "stats", None) or {}
    if raw and not all(isinstance(v, dict) for v in raw.values()):
        return None  # totals only: no per-site verdict possible
    return {site: dict(raw.get(site) or {}) for site in sites}


def _site_failures(result: Any, sites: list[str]) -> dict[str, str]:
    per_site = _per_site(result, sites)
    return run_status(per_site)[1] if per_site is not None else {}


def _status(result: Any, sites: list[str]) -> tuple[str, str | None]:
    """``ok``, ``partial`` (some sites reached nothing or were stopped) or ``failed`` (all of them), with
    the reasons. A crawl whose sites all report pages but that did not end cleanly is ``partial``."""
    per_site = _per_site(result, sites)
    ok = bool(getattr(result, "ok", True))
    if per_site is None:
        return ("ok", None) if ok else ("failed", "crawl finished with errors (see stats and the crawl log)")
    status, failures = run_status(per_site)
    if failures:
        return status, "; ".join(f"{site}: {why}" for site, why in failures.items())
    if not ok:
        return "partial", "crawl finished with errors (see stats and the crawl log)"
    return "ok", None


def _rollup(backend: Any) -> str | None:
    """The analytics roll-up (vendor aggregates, Swedish score) before rules are evaluated, if installed."""
    try:
        from analytics.rollup import rollup
    except ImportError:
        return None
    try:
        rollup(backend)
    except Exception as exc:  # alerts still run on what is indexed
        log.exception("rollup failed")
        return f"{type(exc).__name__}: {exc}"
    return None


def run_campaign(
    campaign: str | Campaign,
    *,
    crawl: Callable[..., Any] | str | None = None,
    as_of: str | None = None,
    index_url: str | None = None,
    evaluate: bool = True,
) -> CampaignRun:
    """Run a campaign once, now: crawl, roll up, evaluate its alert rules, deliver pending alerts.
    Never raises for a failing crawl: the returned (and indexed) ``CampaignRun`` has ``status='failed'``."""
    from indexer.base import open_backend

    if isinstance(campaign, str):
        campaign = get_campaign(campaign)
    index_url = index_url or campaign.index_url
    run = CampaignRun(id=new_run_id(campaign.name), campaign=campaign.name, started_at=_now(), as_of=as_of,
                      status="running", stats={"sites": {s: {} for s in campaign.sites}})
    backend = open_backend(index_url)
    try:
        backend.upsert([run])
        result: Any = None
        try:
            _check_alert_rules(campaign)  # an unknown rule name is a failed run, before anything is crawled
            crawl_fn = resolve_crawl(crawl)
            result = crawl_fn(list(campaign.sites), as_of=as_of, run_id=run.id, use_tor=campaign.tor,
                              page_budget=campaign.page_budget, max_depth=campaign.max_depth,
                              index_url=index_url, settings=dict(campaign.settings) or None)
        except Exception as exc:
            run.status = "failed"
            run.error = f"{type(exc).__name__}: {exc}"
            run.stats["traceback"] = traceback.format_exc(limit=8)[-4000:]
            log.error("campaign %s run %s: crawl failed: %s", campaign.name, run.id, exc)
        if result is not None:
            run.stats.update(crawl_stats(result))
            new_vendors = list(getattr(result, "new_vendor_ids", []) or [])
            run.stats["new_vendors"] = len(new_vendors)
            run.stats["new_vendor_ids"] = new_vendors[:200]
            run.as_of = getattr(result, "as_of", None) or as_of
            run.status, run.error = _status(result, campaign.sites)
            if run.status != "ok":
                run.stats["site_failures"] = _site_failures(result, campaign.sites)
                if getattr(result, "log_file", None):
                    run.stats["log_file"] = result.log_file
        run.stats.update(_evaluate_after_run(backend, campaign, run.id, crawled=result is not None and evaluate))
    finally:
        run.finished_at = _now()
        try:
            backend.upsert([run])
        finally:
            backend.close()
    return run


def _check_alert_rules(campaign: Campaign) -> None:
    """The campaign's ``alerts:`` names exist (a typo would silently switch its alerts off)."""
    if not campaign.alerts:
        return
    from alerts.rules import AlertConfigError, load_config

    try:
        config = load_config()
    except AlertConfigError:
        return  # a broken rules file is reported after the crawl (alert_error); the crawl still runs
    try:
        config.enabled_rules(campaign.alerts)
    except AlertConfigError as exc:
        raise CampaignError(f"{campaign.source_file or campaign.name}: field 'alerts': {exc}") from None


def _evaluate_after_run(backend: Any, campaign: Campaign, run_id: str, *, crawled: bool) -> dict[str, Any]:
    """Roll up and evaluate the campaign's rules after a crawl; after a failed crawl only retry pending
    deliveries (partial data of a failed crawl must not shift a site's baseline)."""
    from alerts.evaluate import deliver, evaluate

    stats: dict[str, Any] = {"alerts": 0, "alert_ids": []}
    try:
        if crawled:
            error = _rollup(backend)
            if error:
                stats["rollup_error"] = error
            if campaign.alerts == []:
                stats["delivery"] = deliver().as_dict()
                return stats
            result = evaluate(backend, run_id, rules=campaign.alerts)
            stats["alerts"] = len(result.fired)
            stats["alert_ids"] = [a.id for a in result.fired]
            stats["delivery"] = result.delivery.as_dict()
        else:
            stats["delivery"] = deliver().as_dict()
    except Exception as exc:  # a broken rules file must not lose the run record
        log.exception("campaign %s: alert evaluation failed", campaign.name)
        stats["alert_error"] = f"{type(exc).__name__}: {exc}"
    return stats


def history(name: str | None = None, *, index_url: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """CampaignRun documents, newest first (all campaigns, or one)."""
    from indexer.base import SearchFilters, open_backend

    backend = open_backend(index_url)
    try:
        filters = SearchFilters(extra={"campaign": name}) if name else None
        runs = list(backend.iter_docs("campaign_run", filters))
    finally:
        backend.close()
    runs.sort(key=lambda r: (r.get("started_at") or "", r["id"]), reverse=True)
    return runs[:limit] if limit else runs


def wait_for_runs(name: str, count: int, *, timeout: float, index_url: str | None = None) -> list[dict[str, Any]]:
    """Poll the index until ``count`` finished runs of ``name`` exist (tests, demo)."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = [r for r in history(name, index_url=index_url) if r.get("status") != "running"]
        if len(runs) >= count:
            return runs
        time.sleep(0.2)
    return runs
