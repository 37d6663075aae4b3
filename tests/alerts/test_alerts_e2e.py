"""End to end (slow): campaign runs with the REAL crawl (crawler.runner.run_crawl) of the testbed on
127.0.0.1. The first crawl is the baseline and fires nothing; the crawl on the day the testbed adds its
one new Swedish vendor fires exactly that vendor; a watch-list entry on its contact handle retro-hunts it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alerts.evaluate import list_alerts, retro_hunt
from alerts.rules import add_watch
from campaigns.runs import run_campaign
from indexer.base import open_backend
from indexer.models import Vendor

pytestmark = pytest.mark.slow


def test_campaign_with_real_crawl_alerts_on_the_new_swedish_vendor(sokhund_home: Path) -> None:
    from cli.demo import _site_env
    from testbed.server import Testbed

    (sokhund_home / "alerts").mkdir(exist_ok=True)
    (sokhund_home / "alerts" / "rules.yaml").write_text("channels:\n  - {name: stdout, enabled: false}\n")
    (sokhund_home / "campaigns").mkdir(exist_ok=True)
    (sokhund_home / "campaigns" / "sv.yaml").write_text(
        "name: sv\nsites: [flugsvamp]\nschedule: {interval_seconds: 86400}\n")
    # a week of prehistory instead of 30 days: a third of the feedback pages to crawl, the same vendors
    testbed = Testbed(seed=7, state_dir=sokhund_home / "testbed", new_swedish_vendor_day=1, ddos=False,
                      rate_limit=None, prehistory_days=7)
    testbed.start()
    saved = dict(os.environ)
    try:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        baseline = run_campaign("sv", as_of=f"{testbed.today}T12:00:00+00:00")
        # the baseline crawl: nothing is new yet (history agrees with the alerts; it used to count every vendor)
        assert baseline.status == "ok" and baseline.stats["alerts"] == 0 and baseline.stats["new_vendors"] == 0
        assert baseline.stats["coverage"]["flugsvamp"]["complete"]
        testbed.advance()
        second = run_campaign("sv", as_of=f"{testbed.today}T12:00:00+00:00")
        site, slug = testbed.world.new_swedish_vendor
        truth = testbed.world.vendors[(site, slug)]
    finally:
        testbed.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert second.status == "ok" and second.stats["alerts"] == 1 and second.stats["new_vendors"] >= 1
    backend = open_backend()
    try:
        (alert,) = list_alerts(backend)
        assert alert["entity"] == Vendor.make_id(site, truth.name)
        assert alert["details"]["swedish_signals"] and alert["evidence"][0]["sha256"]
        handle = truth.contacts[0].split(":", 1)[1].strip()  # "Wickr: gronbrevet52"
        entry, _ = add_watch("contact", handle)
        hits = retro_hunt(backend, entry)
        assert Vendor.make_id(site, truth.name) in {a.entity for a in hits}
    finally:
        backend.close()
