"""``sokhund campaign``: list, run once, serve on schedule, and show the history of campaigns."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

EXIT_CODES = {"ok": 0, "failed": 1, "partial": 2}  # `campaign run`: a run that reached nothing is an error


def register(sub: Any) -> None:
    p = sub.add_parser(
        "campaign",
        help="scheduled crawls (list, run, serve, status, history)",
        description="A campaign is a YAML file (campaigns/definitions/ and $SOKHUND_HOME/campaigns/): sites, a "
        "schedule (cron or interval), Tor, budgets and the alert rules to evaluate after each run.",
    )
    s = p.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)

    q = s.add_parser("list", help="list campaigns, their schedule and next run")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = s.add_parser("run", help="run one campaign once, now (crawl, then alerts)")
    q.add_argument("name", help="campaign name or path to a campaign YAML file")
    q.add_argument("--as-of", help="ISO time to stamp observations with (default: now)")
    q.add_argument("--index", help="index URL (default: the campaign's, else embedded SQLite)")
    q.add_argument("--crawl", help="crawl function 'module:function' (default: crawler.runner:run_crawl)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_run)

    q = s.add_parser("serve", help="run campaigns on their schedules until stopped (persistent job store)")
    q.add_argument("names", nargs="*", metavar="NAME", help="campaigns to serve (default: all enabled)")
    q.add_argument("--crawl", help="crawl function 'module:function' (default: crawler.runner:run_crawl)")
    q.set_defaults(func=cmd_serve)

    q = s.add_parser("status", help="each campaign's state, last run and next run (and the last manual crawl)")
    q.add_argument("--index", help="index URL (default: embedded SQLite)")
    q.add_argument("--json", action="store_true", help="one JSON object per campaign")
    q.set_defaults(func=cmd_status)

    q = s.add_parser("history", help="past runs with their stats, newest first")
    q.add_argument("name", nargs="?", help="only this campaign")
    q.add_argument("--limit", type=int, default=20)
    q.add_argument("--index", help="index URL (default: embedded SQLite)")
    q.add_argument("--json", action="store_true", help="one JSON CampaignRun per line")
    q.set_defaults(func=cmd_history)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "paused"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def cmd_list(args: argparse.Namespace) -> int:
    from campaigns.config import CampaignError, load_campaigns
    from campaigns.scheduler import JOB_PREFIX, stored_jobs

    errors: list[CampaignError] = []
    campaigns = load_campaigns(errors=errors)
    for error in errors:  # a broken file is reported; the others are still listed
        print(error, file=sys.stderr)
    jobs = stored_jobs()
    if args.json:
        for c in campaigns.values():
            row = c.model_dump()
            row["next_run"] = _when(jobs[JOB_PREFIX + c.name]) if JOB_PREFIX + c.name in jobs else None
            print(json.dumps(row, ensure_ascii=False))
        return 1 if errors else 0
    if not campaigns:
        print("no campaigns; add YAML files to campaigns/definitions/ or $SOKHUND_HOME/campaigns/")
    for c in campaigns.values():
        key = JOB_PREFIX + c.name
        nxt = _when(jobs[key]) if key in jobs else "not scheduled (campaign serve)"
        state = "" if c.enabled else " [disabled]"
        print(f"{c.name}{state}: {', '.join(c.sites)} — {c.schedule.describe()}, tor={'on' if c.tor else 'off'}, "
              f"budget={c.page_budget or 'adapter'}, depth={c.max_depth or 'adapter'}; next: {nxt}")
        print(f"    alerts: {', '.join(c.alerts) if c.alerts is not None else 'all enabled rules'}; file: {c.source_file}")
    return 1 if errors else 0


def _stats_line(run: dict[str, Any]) -> str:
    st = run.get("stats") or {}
    invalid = ", ".join(f"{k}={v}" for k, v in (st.get("invalid_pages") or {}).items()) or "0"
    return (f"pages={st.get('pages', 0)} items={st.get('items', 0)} errors={st.get('errors', 0)} "
            f"invalid[{invalid}] new_vendors={st.get('new_vendors', 0)} alerts={st.get('alerts', 0)}")


def cmd_run(args: argparse.Namespace) -> int:
    from campaigns.runs import run_campaign

    run = run_campaign(args.name, crawl=args.crawl, as_of=args.as_of, index_url=args.index)
    if args.json:
        print(json.dumps(run.to_dict(), ensure_ascii=False))
    else:
        print(f"{run.campaign} run {run.id}: {run.status} — {_stats_line(run.to_dict())}")
        failures = run.stats.get("site_failures") or {}
        for site, why in failures.items():
            print(f"  {site}: {why}")
        if run.error and not failures:
            print(f"  error: {run.error.splitlines()[0]}")
    return EXIT_CODES.get(run.status, 1)


def cmd_serve(args: argparse.Namespace) -> int:
    from campaigns.scheduler import jobstore_path, start_scheduler

    print(f"serving campaigns (job store {jobstore_path()}); Ctrl-C or SIGTERM to stop", flush=True)
    start_scheduler(args.names or None, crawl=args.crawl, blocking=True)
    print("scheduler stopped")
    return 0


def campaign_status(index_url: str | None = None) -> list[dict[str, Any]]:
    """Per campaign (and the manual crawls): state, last run and next run."""
    from campaigns.config import load_campaigns
    from campaigns.runs import history
    from campaigns.scheduler import JOB_PREFIX, serving_pid, stored_jobs
    from crawler.coverage import MANUAL

    jobs = stored_jobs()
    server = serving_pid()
    last: dict[str, dict[str, Any]] = {}
    for run in history(index_url=index_url):  # newest first
        last.setdefault(str(run.get("campaign")), run)
    rows = []
    for c in load_campaigns().values():
        key = JOB_PREFIX + c.name
        if not c.enabled:
            state = "disabled"
        elif key not in jobs:
            state = "not scheduled"
        elif jobs[key] is None:
            state = "paused"
        else:
            state = "scheduled" + (f", served by pid {server}" if server else ", not served (campaign serve is not running)")
        rows.append({"campaign": c.name, "state": state, "schedule": c.schedule.describe(),
                     "next_run": _when(jobs[key]) if jobs.get(key) is not None else None,
                     "last_run": _run_summary(last.get(c.name))})
    if MANUAL in last:
        rows.append({"campaign": MANUAL, "state": "manual crawls (sokhund crawl)", "schedule": None,
                     "next_run": None, "last_run": _run_summary(last[MANUAL])})
    return rows


def _run_summary(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run["id"], "status": run.get("status"), "started_at": run.get("started_at"),
            "finished_at": run.get("finished_at"), "error": run.get("error")}


def cmd_status(args: argparse.Namespace) -> int:
    rows = campaign_status(args.index)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    for row in rows:
        last = row["last_run"]
        print(f"{row['campaign']}: {row['state']}" + (f" — {row['schedule']}" if row["schedule"] else ""))
        when = f"{str(last['started_at'])[:19]} {last['status']} ({last['id']})" if last else "never"
        print(f"    last run: {when}" + (f"; next run: {row['next_run']}" if row["next_run"] else ""))
        if last and last.get("error"):
            print(f"    error: {str(last['error']).splitlines()[0][:200]}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from campaigns.runs import history

    runs = history(args.name, index_url=args.index, limit=args.limit)
    if args.json:
        for run in runs:
            print(json.dumps(run, ensure_ascii=False))
        return 0
    if not runs:
        print("no campaign runs yet")
    for run in runs:
        print(f"{run.get('started_at', '')[:19]}  {run.get('status', ''):7} {run.get('campaign')}  {run['id']}")
        print(f"    {_stats_line(run)}")
        if run.get("error"):
            print(f"    error: {str(run['error']).splitlines()[0][:200]}")
    return 0
