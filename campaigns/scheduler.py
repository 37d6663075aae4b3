"""The campaign scheduler.

Scheduling uses APScheduler 3 with a persistent SQLite job store (``$SOKHUND_HOME/campaigns/jobs.sqlite``),
coalescing of missed runs and a misfire grace time. A restart keeps each job's persisted next run time (as
long as the campaign's schedule is unchanged): runs that fell due while nothing was serving are run once
(coalesced) if the latest of them is at most ``misfire_grace_seconds`` late, otherwise recorded as a
``missed`` CampaignRun and the schedule goes on. Jobs reference the top-level :func:`scheduled_run`
with the campaign name (and an optional crawl-function reference) as their only, picklable, arguments.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaigns.config import Campaign, CampaignError, get_campaign, load_campaigns
from campaigns.runs import _now, new_run_id, resolve_crawl, run_campaign
from crawler import paths
from indexer.models import CampaignRun

log = logging.getLogger(__name__)

JOB_PREFIX = "campaign:"


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
        trigger = campaign.schedule.trigger()
        stored = scheduler.get_job(JOB_PREFIX + campaign.name)
        if campaign.run_on_start:
            options["next_run_time"] = datetime.now(UTC)
        elif stored is not None and stored.next_run_time is not None and str(stored.trigger) == str(trigger):
            # Keep the persisted next run time: one that passed while nobody served is run once now
            # (coalesced) if it is at most misfire_grace_seconds late, else reported missed.
            options["next_run_time"] = stored.next_run_time
            if stored.next_run_time < datetime.now(UTC):
                log.warning("campaign %s: run due at %s was missed while not serving; catching up (grace %d s)",
                            campaign.name, stored.next_run_time.isoformat(), campaign.misfire_grace_seconds)
        jobs.append(scheduler.add_job(
            scheduled_run, trigger=trigger, id=JOB_PREFIX + campaign.name,
            name=campaign.name, args=[campaign.name], kwargs={"crawl": crawl, "index_url": campaign.index_url},
            replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=campaign.misfire_grace_seconds, **options,
        ))
    return jobs


def start_scheduler(names: list[str] | None = None, *, crawl: str | None = None, blocking: bool = False,
                    jobstore: Path | None = None) -> Any:
    """Load the campaigns (all, or ``names``), schedule them in the persistent job store and start.
    Background: returns the running scheduler (call ``shutdown()``). Blocking: returns when stopped."""
    errors: list[CampaignError] = []
    campaigns = load_campaigns(errors=errors)
    for error in errors:  # one broken file does not stop the others from being served
        log.error("campaign file skipped: %s", error)
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
    from apscheduler.events import EVENT_JOB_MISSED, EVENT_SCHEDULER_SHUTDOWN

    scheduler.add_listener(lambda _event: _release(lock), EVENT_SCHEDULER_SHUTDOWN)
    scheduler.add_listener(_record_missed, EVENT_JOB_MISSED)
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


def _record_missed(event: Any) -> None:
    """A run more than its grace time late (the scheduler was down) is dropped by APScheduler; keep a
    ``missed`` CampaignRun so the history shows the gap instead of hiding it."""
    if not str(event.job_id).startswith(JOB_PREFIX):
        return
    name = event.job_id[len(JOB_PREFIX):]
    from indexer.base import open_backend

    due = event.scheduled_run_time.isoformat(timespec="seconds")
    run = CampaignRun(id=f"{name}-missed-{event.scheduled_run_time.strftime('%Y%m%dT%H%M%S')}", campaign=name,
                      started_at=_now(), finished_at=_now(), status="missed",
                      error=f"run due at {due} was missed: later than the misfire grace time")
    log.error("campaign %s: %s", name, run.error)
    try:
        backend = open_backend()
        try:
            backend.upsert([run])
        finally:
            backend.close()
    except Exception:
        log.exception("cannot record the missed run of campaign %s", name)


def _serve_lock(store: Path) -> Any:
    """One scheduler per job store: APScheduler 3 does not share a job store between processes, and two
    would run every job twice. Held (flock) until the scheduler shuts down."""
    from crawler.pidlock import LockHeld, hold_pid_lock

    try:
        return hold_pid_lock(store.with_suffix(".lock"))
    except LockHeld as held:
        raise CampaignError(f"another `sokhund campaign serve` (pid {held.owner}) already uses {store}; "
                            "stop it first (one scheduler per data directory)") from None


def serving_pid(store: Path | None = None) -> int | None:
    """The pid of the `campaign serve` holding the job store's lock, or None when nothing serves it."""
    import fcntl

    path = Path(store or jobstore_path()).with_suffix(".lock")
    if not path.exists():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


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
