"""Campaigns: YAML validation, one run, history, and `serve` on a 1-second schedule with a persistent job store."""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
from pathlib import Path

import pytest

from campaigns import runs as campaign_runs
from campaigns import scheduler as campaign_scheduler
from campaigns.config import CampaignError, get_campaign, load_campaigns
from campaigns.runs import run_campaign
from indexer.base import open_backend

FLAKY = "tests.alerts_support:flaky_crawl"


def _campaign(home: Path, name: str, body: str) -> Path:
    folder = home / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _quiet_alerts(home: Path) -> None:
    path = home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")


TEST_CAMPAIGN = """
name: test-fast
sites: [flugsvamp]
schedule: {interval_seconds: 1}
page_budget: 50
max_depth: 3
alerts: [new_swedish_vendor]
misfire_grace_seconds: 30
"""


def test_shipped_campaigns_load(sokhund_home):
    found = load_campaigns()
    assert {"sweden-daily", "international-hourly"} <= set(found)
    assert found["sweden-daily"].schedule.cron == "0 4 * * *"
    assert campaign_runs.resolve_crawl(None).__module__ == "crawler.runner"  # the default is the real crawl


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("name: x\nsites: [flugsvamp]\nschedule: {cron: '61 * * * *'}\n", "schedule.cron"),
        ("name: x\nsites: [flugsvamp]\nschedule: {cron: '0 4 * * *', interval_seconds: 5}\n", "schedule"),
        ("name: x\nsites: []\nschedule: {interval_seconds: 5}\n", "sites"),
        ("name: x\nsites: [flugsvamp]\nschedule: {interval_seconds: 5}\npage_budget: 0\n", "page_budget"),
        ("name: x\nsites: [flugsvamp]\nschedule: {interval_seconds: 5}\ntorr: true\n", "torr"),
        ("name: x\nsites: [flugsvamp]\nschedule: {interval_seconds: 5, timezone: Mars/Olympus}\n", "schedule.timezone"),
    ],
)
def test_bad_campaign_yaml_names_file_and_field(sokhund_home, body, field):
    path = _campaign(sokhund_home, "bad", body)
    with pytest.raises(CampaignError) as err:
        load_campaigns()
    assert str(path) in str(err.value) and f"field '{field}'" in str(err.value)


def test_unknown_alert_rule_in_campaign_is_a_failed_run(sokhund_home):
    _quiet_alerts(sokhund_home)
    path = _campaign(sokhund_home, "typo",
                     TEST_CAMPAIGN.replace("test-fast", "typo").replace("new_swedish_vendor", "nwe"))
    crawled = []
    run = run_campaign("typo", crawl=lambda sites, **kw: crawled.append(sites))
    assert run.status == "failed" and "unknown alert rule(s) nwe" in run.error, (run.status, run.error)
    assert str(path) in run.error and "field 'alerts'" in run.error
    assert crawled == []  # nothing is crawled for a campaign whose alerts could never fire


def test_run_once_records_failed_then_ok_runs_with_stats(sokhund_home, capsys):
    from cli.main import main

    _quiet_alerts(sokhund_home)
    _campaign(sokhund_home, "test-fast", TEST_CAMPAIGN)
    failed = run_campaign("test-fast", crawl=FLAKY)
    assert failed.status == "failed" and "simulated crawl failure" in failed.error
    ok = run_campaign("test-fast", crawl=FLAKY)  # baseline crawl: vendor2, no alert
    assert ok.status == "ok" and ok.stats["alerts"] == 0
    assert ok.stats["pages"] == 10 and ok.stats["items"] == 5 and ok.stats["items_by_kind"] == {"listing": 3, "vendor": 2} and ok.stats["invalid_pages"] == {"ddos": 1}
    third = run_campaign("test-fast", crawl=FLAKY)  # vendor3 is new after the baseline: one alert
    assert third.stats["alerts"] == 1 and third.stats["new_vendors"] == 1

    backend = open_backend()
    try:
        stored = backend.get("campaign_run", third.id)
        assert stored["status"] == "ok" and stored["finished_at"] and stored["stats"]["alert_ids"]
        assert backend.get("alert", stored["stats"]["alert_ids"][0])["campaign_run"] == third.id
    finally:
        backend.close()

    assert main(["campaign", "history", "test-fast", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]
    assert main(["campaign", "history"]) == 0
    assert "simulated crawl failure" in capsys.readouterr().out


def test_serve_survives_failing_crawl_and_persists_job(sokhund_home):
    _quiet_alerts(sokhund_home)
    _campaign(sokhund_home, "test-fast", TEST_CAMPAIGN)
    scheduler = campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY)
    try:
        with pytest.raises(CampaignError, match="one scheduler per data directory"):
            campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY)
        runs = campaign_runs.wait_for_runs("test-fast", 3, timeout=20)
    finally:
        scheduler.shutdown(wait=True)
    statuses = [r["status"] for r in sorted(runs, key=lambda r: r["started_at"] + r["id"])]
    assert len(statuses) >= 3, statuses
    assert statuses[0] == "failed" and statuses[1:3] == ["ok", "ok"]  # the failure did not stop the schedule

    store = campaign_scheduler.jobstore_path()
    assert store.exists() and store.parent == sokhund_home / "campaigns"
    db = sqlite3.connect(store)
    try:
        (job_id, state), = db.execute("SELECT id, job_state FROM apscheduler_jobs").fetchall()
    finally:
        db.close()
    job = pickle.loads(state)
    assert job_id == "campaign:test-fast"
    assert job["func"] == "campaigns.scheduler:scheduled_run" and job["args"] == ("test-fast",)
    assert job["coalesce"] is True and job["misfire_grace_time"] == 30
    assert "campaign:test-fast" in campaign_scheduler.stored_jobs()

    # A restarted scheduler picks the stored job up again (and replaces it with the current YAML).
    time.sleep(0.2)
    _campaign(sokhund_home, "other", TEST_CAMPAIGN.replace("test-fast", "other"))
    scheduler = campaign_scheduler.start_scheduler(["test-fast", "other"], crawl=FLAKY)
    scheduler.shutdown(wait=True)
    scheduler = campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY)
    try:  # serving a subset pauses the other stored jobs
        jobs = {j.id: j.next_run_time for j in scheduler.get_jobs()}
        assert set(jobs) == {"campaign:test-fast", "campaign:other"} and jobs["campaign:other"] is None
    finally:
        scheduler.shutdown(wait=True)


def test_campaign_cli_list_and_run(sokhund_home, capsys, monkeypatch):
    from cli.main import main

    _quiet_alerts(sokhund_home)
    _campaign(sokhund_home, "test-fast", TEST_CAMPAIGN)
    assert main(["campaign", "list"]) == 0
    out = capsys.readouterr().out
    assert "test-fast: flugsvamp — every 1s" in out and "sweden-daily" in out
    monkeypatch.setenv(campaign_runs.CRAWL_FUNCTION_ENV, FLAKY)
    assert main(["campaign", "run", "test-fast"]) == 1  # the flaky crawl fails first
    assert "failed" in capsys.readouterr().out
    assert main(["campaign", "run", "test-fast", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    assert get_campaign("test-fast").alerts == ["new_swedish_vendor"]


HOURLY = TEST_CAMPAIGN.replace("interval_seconds: 1", "interval_seconds: 3600")


def _stop_with_next_run(scheduler, seconds_ago: float) -> None:
    """Stop the scheduler, then pretend it stayed down until ``seconds_ago`` past its next run: the job
    store says the next run was due then (as it would after a real stop and a later restart)."""
    from datetime import UTC, datetime, timedelta

    scheduler.shutdown(wait=True)
    due = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    db = sqlite3.connect(campaign_scheduler.jobstore_path())
    try:
        (state,) = db.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'campaign:test-fast'").fetchone()
        job = pickle.loads(state)
        job["next_run_time"] = due
        db.execute("UPDATE apscheduler_jobs SET next_run_time = ?, job_state = ? WHERE id = 'campaign:test-fast'",
                   (due.timestamp(), pickle.dumps(job)))
        db.commit()
    finally:
        db.close()


def test_restart_catches_up_a_missed_run_once(sokhund_home):
    _quiet_alerts(sokhund_home)
    _campaign(sokhund_home, "test-fast", HOURLY)
    _stop_with_next_run(campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY), seconds_ago=10)
    scheduler = campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY)
    try:
        runs = campaign_runs.wait_for_runs("test-fast", 1, timeout=20)
        time.sleep(0.5)  # a second (uncoalesced) run would show up here
        runs = campaign_runs.history("test-fast")
        next_run = scheduler.get_job("campaign:test-fast").next_run_time
    finally:
        scheduler.shutdown(wait=True)
    assert len(runs) == 1 and runs[0]["status"] in ("ok", "failed")  # FLAKY fails its first call
    assert next_run.timestamp() > time.time() + 3000  # then back on the hourly schedule


def test_restart_after_the_grace_time_records_a_missed_run(sokhund_home):
    _quiet_alerts(sokhund_home)
    _campaign(sokhund_home, "test-fast", HOURLY)  # misfire_grace_seconds: 30
    _stop_with_next_run(campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY), seconds_ago=600)
    scheduler = campaign_scheduler.start_scheduler(["test-fast"], crawl=FLAKY)
    try:
        runs = campaign_runs.wait_for_runs("test-fast", 1, timeout=20)
    finally:
        scheduler.shutdown(wait=True)
    assert [r["status"] for r in runs] == ["missed"] and "misfire grace time" in runs[0]["error"]
