"""A demo-like world for the browser tests of the vendor, identities, alerts, trends and campaigns pages:
two campaign runs (the real crawl, roll-up and alert evaluation) of the testbed's Swedish and
international markets, where the testbed's new Swedish vendor joins on the second day, so its
"new Swedish vendor" alert fires; the testbed's planted hostile strings point at a loopback sentinel."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.dashboards.workbench.world import Sentinel

SITES = ("flugsvamp", "nordbazaar")


@dataclass
class PagesWorld:
    home: Path
    sentinel: Sentinel
    new_vendor_id: str
    alert_id: str
    runs: list[str]


def build(home: Path, sentinel: Sentinel, seed: int = 7) -> PagesWorld:
    """Crawl two days into ``home`` ($SOKHUND_HOME must point there)."""
    from campaigns.runs import run_campaign
    from cli.demo import _site_env
    from indexer.base import open_backend
    from indexer.models import Alert, Vendor
    from testbed.server import Testbed

    (home / "alerts").mkdir(parents=True, exist_ok=True)
    (home / "alerts" / "rules.yaml").write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")
    (home / "campaigns").mkdir(parents=True, exist_ok=True)
    (home / "campaigns" / "pages.yaml").write_text(
        f"name: pages\ndescription: both markets daily\nsites: [{', '.join(SITES)}]\n"
        "schedule: {cron: '0 4 * * *', timezone: Europe/Stockholm}\n", encoding="utf-8")
    saved = dict(os.environ)
    os.environ["SOKHUND_XSS_SENTINEL"] = sentinel.url  # the planted payloads would call it
    testbed = Testbed(seed=seed, state_dir=home / "testbed", new_swedish_vendor_day=1, ddos=False, rate_limit=None)
    testbed.start()
    try:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        runs = [run_campaign("pages", as_of=f"{testbed.today}T12:00:00+00:00").id]
        testbed.advance()
        runs.append(run_campaign("pages", as_of=f"{testbed.today}T12:00:00+00:00").id)
        site, slug = testbed.world.new_swedish_vendor
        name = testbed.world.vendors[(site, slug)].name
    finally:
        testbed.stop()
        os.environ.clear()
        os.environ.update(saved)
    vendor_id = Vendor.make_id(site, name)
    backend = open_backend(str(home / "index.sqlite"))
    try:
        assert backend.get("vendor", vendor_id), f"the new Swedish vendor {name} was not crawled"
        alert_id = Alert.make_id("new_swedish_vendor", vendor_id)
        assert backend.get("alert", alert_id), "the new Swedish vendor's alert did not fire"
    finally:
        backend.close()
    return PagesWorld(home, sentinel, vendor_id, alert_id, runs)
