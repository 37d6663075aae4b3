"""One bad campaign file does not break the others: listing, running and serving still see the good ones,
and asking for the bad one names its file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from campaigns.config import CampaignError, get_campaign, load_campaigns

REPO = Path(__file__).resolve().parents[2]
GOOD = "name: good-one\nsites: [flugsvamp]\nschedule: {interval_seconds: 60}\nalerts: []\n"
BAD = "name: broken\nsites: [flugsvamp]\nschedule: {cron: '61 * * * *'}\n"


def _write(home: Path, name: str, body: str | bytes) -> Path:
    folder = home / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def test_a_bad_file_does_not_hide_the_good_campaigns(sokhund_home: Path) -> None:
    _write(sokhund_home, "good-one", GOOD)
    bad = _write(sokhund_home, "broken", BAD)
    latin = _write(sokhund_home, "latin", "name: latin\ndescription: S\xe4ljare\n".encode("latin-1"))
    errors: list[CampaignError] = []
    found = load_campaigns(errors=errors)
    assert "good-one" in found and "sweden-daily" in found
    assert sorted(str(e).split(":", 1)[0] for e in errors) == sorted([str(bad), str(latin)])
    assert get_campaign("good-one").sites == ["flugsvamp"]
    with pytest.raises(CampaignError, match=r"broken.yaml[\s\S]*field 'schedule.cron'"):
        get_campaign("broken")
    with pytest.raises(CampaignError, match="latin.yaml: not UTF-8"):
        get_campaign("latin")


def test_campaign_list_shows_the_good_and_names_the_bad(sokhund_home: Path) -> None:
    _write(sokhund_home, "good-one", GOOD)
    bad = _write(sokhund_home, "broken", BAD)
    proc = subprocess.run([sys.executable, "-m", "cli.main", "campaign", "list"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert "good-one" in proc.stdout and "sweden-daily" in proc.stdout
    assert str(bad) in proc.stderr and "schedule.cron" in proc.stderr
    assert proc.returncode == 1
