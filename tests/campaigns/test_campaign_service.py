"""`sokhund campaign status`, and the systemd unit for `campaign serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from campaigns import scheduler as campaign_scheduler
from campaigns.runs import run_campaign
from crawler.coverage import record_run
from indexer.base import open_backend

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "campaigns" / "systemd" / "sokhund-campaign.service"
FLAKY = "tests.alerts_support:flaky_crawl"
CAMPAIGN = """
name: test-status
sites: [flugsvamp]
schedule: {interval_seconds: 3600}
alerts: [new_swedish_vendor]
"""


def test_status_shows_state_last_and_next_run(sokhund_home, capsys):
    from cli.main import main

    (sokhund_home / "campaigns").mkdir()
    (sokhund_home / "campaigns" / "test-status.yaml").write_text(CAMPAIGN, encoding="utf-8")
    (sokhund_home / "alerts").mkdir()
    (sokhund_home / "alerts" / "rules.yaml").write_text("channels:\n  - {name: stdout, enabled: false}\n")
    run_campaign("test-status", crawl=FLAKY)  # FLAKY fails its first call
    backend = open_backend()
    try:
        record_run(backend, "by-hand", as_of="2024-05-09T06:00:00+00:00", sites=["snackis"],
                   site_stats={"snackis": {"pages": 4, "finish_reason": "finished"}}, coverage={})
    finally:
        backend.close()

    assert main(["campaign", "status", "--json"]) == 0
    rows = {r["campaign"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["test-status"]["state"] == "not scheduled" and rows["test-status"]["last_run"]["status"] == "failed"
    assert rows["manual"]["last_run"]["id"] == "by-hand" and rows["manual"]["last_run"]["status"] == "ok"
    assert rows["sweden-daily"]["last_run"] is None

    scheduler = campaign_scheduler.start_scheduler(["test-status"], crawl=FLAKY)
    try:
        assert main(["campaign", "status"]) == 0
        out = capsys.readouterr().out
    finally:
        scheduler.shutdown(wait=True)
    assert f"test-status: scheduled, served by pid {os.getpid()}" in out
    assert "last run: " in out and "failed" in out and "next run: " in out
    assert main(["campaign", "status"]) == 0
    assert "test-status: scheduled, not served" in capsys.readouterr().out


def test_systemd_unit_is_valid(tmp_path):
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/sokhund/.venv/bin/sokhund campaign serve" in text and "KillSignal=SIGTERM" in text
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    # verify checks that ExecStart exists: point the unit at this checkout's entry point
    sokhund = Path(ROOT / ".venv" / "bin" / "sokhund")
    if not sokhund.exists():
        pytest.skip(f"{sokhund} missing (make setup)")
    result = _verify(tmp_path, text)
    assert result.returncode == 0 and UNIT.name not in result.stderr, result.stderr
    broken = _verify(tmp_path, text.replace("ExecStart=", "ExecStart=sokhund-not-installed "))
    assert broken.returncode != 0  # the check can fail


def _verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/sokhund", str(ROOT)), encoding="utf-8")
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                          timeout=60)
