"""Campaign runs that reached nothing fail (non-zero exit, reasons per site), partly failing runs are
partial, and manual crawls show up in the campaign history with their coverage."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from campaigns.runs import run_campaign
from tests.alerts_support import free_port

CAMPAIGN = """
name: two-sites
sites: [flugsvamp, snackis]
schedule: {interval_seconds: 3600}
page_budget: 20
alerts: [new_swedish_vendor]
"""


def _setup(home: Path, monkeypatch) -> None:
    (home / "campaigns").mkdir(parents=True, exist_ok=True)
    (home / "campaigns" / "two-sites.yaml").write_text(CAMPAIGN, encoding="utf-8")
    (home / "alerts").mkdir(parents=True, exist_ok=True)
    (home / "alerts" / "rules.yaml").write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")
    for site in ("flugsvamp", "snackis"):  # nothing listens on these ports
        monkeypatch.setenv(f"SOKHUND_SITE_{site.upper()}_URL", f"http://127.0.0.1:{free_port()}")


def test_campaign_that_reached_nothing_fails_and_manual_crawl_is_in_history(sokhund_home, monkeypatch, capsys):
    from cli.main import main

    _setup(sokhund_home, monkeypatch)
    assert main(["campaign", "run", "two-sites"]) == 1
    out = capsys.readouterr().out
    assert "two-sites run" in out and ": failed" in out
    assert "flugsvamp: no page fetched" in out and "snackis: no page fetched" in out

    main(["crawl", "flugsvamp", "--new"])  # by hand; its exit code is the crawl command's business
    capsys.readouterr()
    assert main(["campaign", "history", "--json"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["campaign"] for r in runs] == ["manual", "two-sites"]
    manual, scheduled = runs
    assert manual["status"] == "failed" and manual["stats"]["trigger"] == "manual"
    assert manual["stats"]["coverage"]["flugsvamp"]["complete"] is False
    assert set(scheduled["stats"]["coverage"]) == {"flugsvamp", "snackis"}
    assert scheduled["stats"]["site_failures"]["snackis"].startswith("no page fetched")


def test_some_sites_failing_is_partial(sokhund_home, monkeypatch):
    _setup(sokhund_home, monkeypatch)

    def crawl(sites, **kw):
        stats = {"flugsvamp": {"pages": 12, "items": {"listing": 4}, "errors": 0, "finish_reason": "finished"},
                 "snackis": {"pages": 3, "errors": 1, "finish_reason": "finished",
                             "site_stopped": "login wall: the session has expired"}}
        return SimpleNamespace(ok=True, as_of=kw["as_of"], stats=stats, new_vendor_ids=[])

    run = run_campaign("two-sites", crawl=crawl, as_of="2024-03-01T06:00:00+00:00")
    assert run.status == "partial"
    assert run.stats["site_failures"] == {"snackis": "site stopped: login wall: the session has expired"}
    assert "snackis: site stopped" in (run.error or "")
