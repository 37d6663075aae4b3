"""What the campaigns page shows: each campaign's definition and schedule, its last and next run, per-site
stats of its runs and their failures.

Runs are CampaignRun documents in the index (written by campaigns/runs.py). The definitions and the
scheduler's job store are read here as data, because tests/test_layout.py keeps dashboards/ from
importing campaigns/: the same YAML files (shipped examples, then ``$SOKHUND_HOME/campaigns``, which win
on a name clash) and the APScheduler job table (``$SOKHUND_HOME/campaigns/jobs.sqlite``, job id
``campaign:NAME``) that ``sokhund campaign status`` reads. A file that does not parse is listed with its
error; ``sokhund campaign list`` validates it fully."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from crawler import paths
from indexer.base import IndexBackend

SHIPPED = Path(__file__).resolve().parents[2] / "campaigns" / "definitions"
JOB_PREFIX = "campaign:"


def definition_dirs() -> list[Path]:
    return [SHIPPED, paths.home() / "campaigns"]


def definitions() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(name -> definition, errors). Later directories win on a name clash, like the scheduler."""
    found: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for directory in definition_dirs():
        if not directory.is_dir():
            continue
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                errors.append(f"{path}: {exc}")
                continue
            if not isinstance(data, dict) or not data.get("name"):
                errors.append(f"{path}: not a campaign (no name)")
                continue
            found[str(data["name"])] = {**data, "source_file": str(path)}
    return found, errors


def describe(schedule: dict[str, Any] | None) -> str:
    schedule = schedule or {}
    if schedule.get("cron"):
        return f"cron '{schedule['cron']}' ({schedule.get('timezone') or 'Europe/Stockholm'})"
    if schedule.get("interval_seconds"):
        return f"every {float(schedule['interval_seconds']):g}s"
    return "no schedule"


def next_by_schedule(schedule: dict[str, Any] | None, last_start: str | None, now: datetime) -> str | None:
    """When the schedule would fire next (if the scheduler is serving it)."""
    schedule = schedule or {}
    try:
        if schedule.get("cron"):
            from apscheduler.triggers.cron import CronTrigger

            zone = ZoneInfo(str(schedule.get("timezone") or "Europe/Stockholm"))
            fire = CronTrigger.from_crontab(str(schedule["cron"]), timezone=zone).get_next_fire_time(None, now)
            return fire.isoformat(timespec="minutes") if fire else None
        if schedule.get("interval_seconds"):
            step = timedelta(seconds=float(schedule["interval_seconds"]))
            start = datetime.fromisoformat(last_start) if last_start else now
            fire = start + step
            while fire < now:
                fire += step
            return fire.isoformat(timespec="minutes")
    except (ValueError, TypeError, KeyError):
        return None
    return None


def stored_jobs() -> dict[str, float | None]:
    path = paths.home() / "campaigns" / "jobs.sqlite"
    if not path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    except sqlite3.Error:
        return {}
    return {str(i): (float(t) if t is not None else None) for i, t in rows}


def _site_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    stats = run.get("stats") or {}
    failures = stats.get("site_failures") or {}
    rows = []
    for site, s in sorted((stats.get("sites") or {}).items()):
        items = s.get("items")
        rows.append({"site": site, "pages": s.get("pages"), "captures": s.get("captures"),
                     "item_counts": items if isinstance(items, dict) else {"items": items} if items else {},
                     "errors": s.get("errors"), "invalid_pages": s.get("invalid_pages") or {},
                     "finish_reason": s.get("finish_reason"), "stopped": s.get("site_stopped"),
                     "elapsed": s.get("elapsed"), "failure": failures.get(site)})
    return rows


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    stats = run.get("stats") or {}
    problems = [p for p in (run.get("error"), stats.get("rollup_error"), stats.get("alert_error")) if p]
    problems += [f"{site}: {why}" for site, why in (stats.get("site_failures") or {}).items()
                 if f"{site}: {why}" not in str(run.get("error"))]
    problems += [str(e) for e in ((stats.get("delivery") or {}).get("errors") or [])]
    return {**run, "sites": _site_rows(run), "problems": problems, "new_vendors": stats.get("new_vendors"),
            "alerts": stats.get("alerts"), "pages": stats.get("pages"), "items_total": stats.get("items"),
            "invalid_pages": stats.get("invalid_pages") or {}}


def build(backend: IndexBackend, limit: int = 100) -> dict[str, Any]:
    now = datetime.now(UTC)
    runs = sorted(backend.iter_docs("campaign_run"), key=lambda r: (str(r.get("started_at") or ""), r["id"]),
                  reverse=True)
    defs, errors = definitions()
    jobs = stored_jobs()
    last: dict[str, dict[str, Any]] = {}
    for run in runs:
        last.setdefault(str(run.get("campaign")), run)
    campaigns = []
    for name in sorted({*defs, *last}):
        d = defs.get(name)
        key = JOB_PREFIX + name
        if d is None:
            state = "not defined (runs only: sokhund crawl or the demo)"
        elif d.get("enabled") is False:
            state = "disabled"
        elif key not in jobs:
            state = "not scheduled (sokhund campaign serve has not stored it)"
        elif jobs[key] is None:
            state = "paused"
        else:
            state = "scheduled"
        stored = jobs.get(key)
        campaigns.append({
            "name": name, "definition": d, "state": state, "schedule": describe((d or {}).get("schedule")) if d else None,
            "sites": (d or {}).get("sites") or [],
            "next_run": datetime.fromtimestamp(stored, UTC).isoformat(timespec="minutes") if stored else None,
            "next_by_schedule": next_by_schedule((d or {}).get("schedule"), (last.get(name) or {}).get("started_at"), now)
                                if d and d.get("enabled") is not False else None,
            "last_run": summarise(last[name]) if name in last else None,
            "runs": sum(1 for r in runs if r.get("campaign") == name),
            "failed_runs": sum(1 for r in runs if r.get("campaign") == name and r.get("status") == "failed"),
        })
    return {"campaigns": campaigns, "runs": [summarise(r) for r in runs[:limit]], "total_runs": len(runs),
            "errors": errors, "now": now.isoformat(timespec="minutes")}
