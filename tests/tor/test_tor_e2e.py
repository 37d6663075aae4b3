"""End to end over Tor: the Swedish testbed market as a v3 onion service on the private Tor network,
crawled through tor (fail closed), checked against ground truth like the HTTP crawl."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.runner import run_crawl
from indexer.base import open_backend
from testbed.server import Testbed
from tor.testnet import PrivateTorNetwork

pytestmark = [pytest.mark.tor, pytest.mark.slow]


def test_swedish_market_over_onion(tor_testnet: PrivateTorNetwork, sokhund_home: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    state = tor_testnet.state
    # a week of prehistory (a third of the feedback pages): fewer pages through the slow private network
    with Testbed(seed=13, state_dir=sokhund_home / "testbed", rate_limit=None, prehistory_days=7) as testbed:
        port = int(testbed.urls["flugsvamp"].rsplit(":", 1)[1])
        onion = tor_testnet.publish("flugsvamp_e2e", "127.0.0.1", port)
        request_cleanup = tor_testnet.unpublish
        monkeypatch.setenv("SOKHUND_SITE_FLUGSVAMP_URL", f"http://{onion}")
        monkeypatch.setenv("SOKHUND_COOKIE_FLUGSVAMP",
                           "; ".join(f"{k}={v}" for k, v in testbed.session_cookies["flugsvamp"].items()))
        monkeypatch.setenv("SOKHUND_TOR_SOCKS", state.socks)
        monkeypatch.setenv("SOKHUND_TOR_CONTROL", state.control)
        monkeypatch.setenv("SOKHUND_TOR_COOKIE", state.cookie_path)
        try:
            result = run_crawl(["flugsvamp"], as_of=f"{testbed.today}T12:00:00+00:00", run_id="onion0",
                               use_tor=True, settings={"CONCURRENT_REQUESTS": 8}, timeout=600)
        finally:
            request_cleanup("flugsvamp_e2e")  # the session's network goes back to its own onions
        truth = testbed.truth()
    assert result.ok, result.finish_reasons
    listings = {str(r["id"]) for r in truth["active"] if r["site"] == "flugsvamp" and r["kind"] == "listing" and r["day"] == 0}
    names = {(v["site"], str(v["vendor_id"])): v["vendor"] for v in truth["vendors"]}
    vendors = {names[("flugsvamp", str(r["id"]))] for r in truth["active"]
               if r["site"] == "flugsvamp" and r["kind"] == "vendor" and r["day"] == 0}
    backend = open_backend()
    try:
        seen = {str(o["listing_id"]) for o in backend.iter_docs("listing_observation")}
        seen_vendors = {v["name"] for v in backend.iter_docs("vendor_observation")}
        captures = list(backend.iter_docs("capture"))
    finally:
        backend.close()
    assert len(listings & seen) / len(listings) >= 0.99
    assert vendors <= seen_vendors
    # every fetch went to the onion (through tor); none to the testbed's loopback port directly
    assert captures and all(c["url"].startswith(f"http://{onion}/") for c in captures)
    assert os.environ["SOKHUND_SITE_FLUGSVAMP_URL"].endswith(".onion")
