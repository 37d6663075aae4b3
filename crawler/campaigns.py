"""Campaigns: named, scheduled crawls of a set of sites, followed by alert evaluation.

A campaign is one YAML file. Shipped examples live in ``crawler/campaigns/``; the analyst's own in
``$SOKHUND_HOME/campaigns/`` (a file there overrides a shipped campaign of the same name)::

    name: sweden-daily
    description: Swedish markets and the forum, once a day
    sites: [flugsvamp, snackis]
    schedule:
      cron: "0 4 * * *"          # or: interval_seconds: 86400
      timezone: Europe/Stockholm # cron only; default Europe/Stockholm
    tor: false
    page_budget: 2000
    max_depth: 8
    alerts: [new_swedish_vendor, watchlist]   # rule names; omit for every enabled rule, [] for none

Each run is a :class:`~indexer.models.CampaignRun` upserted into the index (``running`` → ``ok``/``failed``)
with the crawl stats, the new vendors and the alerts fired. A crawl that raises is recorded as a failed
run; the scheduler goes on with the next one.

Scheduling uses APScheduler 3 with a persistent SQLite job store (``$SOKHUND_HOME/campaigns/jobs.sqlite``),
coalescing of missed runs and a misfire grace time. Jobs reference the top-level :func:`scheduled_run`
with the campaign name (and an optional crawl-function reference) as their only, picklable, arguments.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import signal
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler import paths
from crawler.yamlconfig import format_validation_error, read_mapping
from indexer.models import CampaignRun

log = logging.getLogger(__name__)

CAMPAIGNS_DIR = Path(__file__).parent / "campaigns"
CRAWL_FUNCTION_ENV = "SOKHUND_CRAWL_FUNCTION"  # "module:function" replacing crawler.runner.run_crawl
DEFAULT_CRAWL = "crawler.runner:run_crawl"
JOB_PREFIX = "campaign:"


class CampaignError(ValueError):
    """A campaign file is malformed or unknown; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Schedule(_Strict):
    cron: str | None = None  # standard 5-field crontab: minute hour day month day-of-week
    interval_seconds: float | None = Field(default=None, gt=0)
    timezone: str = "Europe/Stockholm"
    jitter_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron or interval_seconds")
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"bad cron expression {value!r} (want 'minute hour day month weekday'): {exc}") from exc
        return value

    def trigger(self) -> Any:
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=float(self.interval_seconds or 0), jitter=self.jitter_seconds)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.timezone})"
        return f"every {self.interval_seconds:g}s"


class Campaign(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    enabled: bool = True
    sites: list[str] = Field(min_length=1)
    schedule: Schedule
    tor: bool = False
    page_budget: int | None = Field(default=None, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    alerts: list[str] | None = None  # alert rule names to evaluate after each run; None = every enabled rule
    index_url: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)  # extra Scrapy settings for the crawl
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    run_on_start: bool = False  # `campaign serve` also runs it once right away
    source_file: str | None = None

    @field_validator("sites")
    @classmethod
    def _site_names(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not re.match(r"^[a-z0-9_]+$", s)]
        if bad:
            raise ValueError(f"not a site adapter name: {', '.join(map(repr, bad))}")
        return value


# ----------------------------------------------------------------------------------- loading
def load_campaign_file(path: str | Path) -> Campaign:
    path = Path(path)
    raw = read_mapping(path, "campaign", CampaignError)
    raw["source_file"] = str(path)
    try:
        return Campaign.model_validate(raw)
    except ValidationError as exc:
        raise CampaignError(format_validation_error(path, "campaign", exc)) from None


def campaign_dirs() -> list[Path]:
    """Shipped examples first, then the data directory's campaigns (which win on a name clash)."""
    return [CAMPAIGNS_DIR, paths.sub("campaigns")]


def campaign_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory in campaign_dirs():
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            files[path.stem] = path
    return files


def load_campaigns() -> dict[str, Campaign]:
    """Every campaign by name. A name defined twice in one directory is an error naming both files."""
    out: dict[str, Campaign] = {}
    for directory in campaign_dirs():
        here: dict[str, Path] = {}
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            campaign = load_campaign_file(path)
            if campaign.name in here:
                raise CampaignError(f"{path}: field 'name': campaign {campaign.name!r} is also defined in "
                                    f"{here[campaign.name]}")
            here[campaign.name] = path
            out[campaign.name] = campaign
    return out


def get_campaign(name_or_path: str) -> Campaign:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return load_campaign_file(candidate)
    campaigns = load_campaigns()
    if name_or_path not in campaigns:
        raise CampaignError(f"no campaign named {name_or_path!r}; known campaigns: "
                            f"{', '.join(sorted(campaigns)) or '(none)'} (in {', '.join(map(str, campaign_dirs()))})")
    return campaigns[name_or_path]


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
    return totals


def _rollup(backend: Any) -> str | None:
    """The analytics roll-up (vendor aggregates, Swedish score) before rules are evaluated, if installed."""
    try:
        from indexer.rollup import rollup
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
            ok = bool(getattr(result, "ok", True))
            run.status = "ok" if ok else "failed"
            if not ok:
                run.error = "crawl finished with errors (see stats and the crawl log)"
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


def _evaluate_after_run(backend: Any, campaign: Campaign, run_id: str, *, crawled: bool) -> dict[str, Any]:
    """Roll up and evaluate the campaign's rules after a crawl; after a failed crawl only retry pending
    deliveries (partial data of a failed crawl must not shift a site's baseline)."""
    from indexer.alerts import deliver, evaluate

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


# ----------------------------------------------------------------------------------- scheduling
def jobstore_path() -> Path:
    return paths.sub("campaigns") / "jobs.sqlite"


def scheduled_run(name: str, crawl: str | None = None, index_url: str | None = None) -> str:
    """The job function stored in the persistent job store (top-level, picklable string arguments).
    Re-reads the campaign file on every run, and never raises: failures become failed CampaignRuns."""
    try:
        campaign = get_campaign(name)
    except Exception as exc:
        return _record_failure(name, f"{type(exc).__name__}: {exc}", index_url)
    if not campaign.enabled:
        log.info("campaign %s is disabled; skipping", name)
        return ""
    try:
        return run_campaign(campaign, crawl=crawl, index_url=index_url).id
    except Exception as exc:  # e.g. the index itself is unreachable
        log.exception("campaign %s run failed", name)
        return _record_failure(name, f"{type(exc).__name__}: {exc}", index_url or campaign.index_url)


def _record_failure(name: str, error: str, index_url: str | None) -> str:
    from indexer.base import open_backend

    log.error("campaign %s: %s", name, error)
    run = CampaignRun(id=new_run_id(name), campaign=name, started_at=_now(), finished_at=_now(),
                      status="failed", error=error)
    try:
        backend = open_backend(index_url)
        try:
            backend.upsert([run])
        finally:
            backend.close()
    except Exception:
        log.exception("cannot record the failed run of campaign %s", name)
    return run.id


def build_scheduler(*, blocking: bool = False, max_workers: int = 4, jobstore: Path | None = None) -> Any:
    """A BlockingScheduler (``campaign serve``) or BackgroundScheduler with the persistent SQLite job store."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    path = jobstore or jobstore_path()
    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{path}")},
        executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=UTC,
    )


def schedule_campaigns(scheduler: Any, campaigns: list[Campaign], *, crawl: str | None = None,
                       defined: set[str] | None = None) -> list[Any]:
    """Add (or replace) one job per enabled campaign in ``campaigns``. Stored jobs of campaigns that no
    longer exist (or are disabled) are removed; those of other defined campaigns are paused, so serving a
    subset runs only that subset."""
    if crawl is not None and not isinstance(crawl, str):
        raise CampaignError("a scheduled crawl function must be a 'module:function' reference (it is persisted)")
    if crawl is not None:
        resolve_crawl(crawl)  # fail now, not at 4 a.m.
    wanted = {JOB_PREFIX + c.name for c in campaigns if c.enabled}
    still_defined = {JOB_PREFIX + n for n in (defined if defined is not None else set())}
    for job in scheduler.get_jobs():
        if not job.id.startswith(JOB_PREFIX) or job.id in wanted:
            continue
        if job.id in still_defined:
            scheduler.pause_job(job.id)
        else:
            scheduler.remove_job(job.id)
    jobs = []
    for campaign in campaigns:
        if not campaign.enabled:
            continue
        options: dict[str, Any] = {}
        if campaign.run_on_start:
            options["next_run_time"] = datetime.now(UTC)
        jobs.append(scheduler.add_job(
            scheduled_run, trigger=campaign.schedule.trigger(), id=JOB_PREFIX + campaign.name,
            name=campaign.name, args=[campaign.name], kwargs={"crawl": crawl, "index_url": campaign.index_url},
            replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=campaign.misfire_grace_seconds, **options,
        ))
    return jobs


def start_scheduler(names: list[str] | None = None, *, crawl: str | None = None, blocking: bool = False,
                    jobstore: Path | None = None) -> Any:
    """Load the campaigns (all, or ``names``), schedule them in the persistent job store and start.
    Background: returns the running scheduler (call ``shutdown()``). Blocking: returns when stopped."""
    campaigns = load_campaigns()
    if names:
        missing = [n for n in names if n not in campaigns]
        if missing:
            raise CampaignError(f"no campaign named {', '.join(missing)}; known: {', '.join(sorted(campaigns))}")
        selected = [campaigns[n] for n in names]
    else:
        selected = list(campaigns.values())
    if not any(c.enabled for c in selected):
        raise CampaignError("no enabled campaign to serve")
    if crawl is not None:
        resolve_crawl(crawl)  # a bad reference fails here, not inside the scheduler
    defined = {name for name, c in campaigns.items() if c.enabled}
    lock = _serve_lock(Path(jobstore or jobstore_path()))
    scheduler = build_scheduler(blocking=blocking, jobstore=jobstore)
    from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

    scheduler.add_listener(lambda _event: _release(lock), EVENT_SCHEDULER_SHUTDOWN)
    if blocking:
        # A blocking scheduler adds jobs to the store once started; schedule from its start event.
        from apscheduler.events import EVENT_SCHEDULER_STARTED

        def on_start(_event: Any) -> None:
            for job in schedule_campaigns(scheduler, selected, crawl=crawl, defined=defined):
                print(f"scheduled {job.name}: next run {job.next_run_time}", flush=True)

        scheduler.add_listener(on_start, EVENT_SCHEDULER_STARTED)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda _sig, _frame: scheduler.shutdown(wait=False))
        try:
            scheduler.start()
        finally:
            _release(lock)
        return scheduler
    try:
        scheduler.start(paused=True)
        schedule_campaigns(scheduler, selected, crawl=crawl, defined=defined)
    except BaseException:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        _release(lock)
        raise
    scheduler.resume()
    return scheduler


def _serve_lock(store: Path) -> Any:
    """One scheduler per job store: APScheduler 3 does not share a job store between processes, and two
    would run every job twice. Held (flock) until the scheduler shuts down."""
    import fcntl

    path = store.with_suffix(".lock")
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise CampaignError(f"another `sokhund campaign serve` (pid {owner}) already uses {store}; "
                            "stop it first (one scheduler per data directory)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _release(handle: Any) -> None:
    import fcntl

    if handle.closed:
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def stored_jobs(path: Path | None = None) -> dict[str, float | None]:
    """Job id → next run time (epoch seconds) from the persistent job store, without starting a scheduler."""
    path = path or jobstore_path()
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return {str(i): (float(t) if t is not None else None) for i, t in rows}


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
