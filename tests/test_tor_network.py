"""The private Tor network (one boot per session) and Scrapy routing through it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures_tor import Sentinel, SiteServer
from tor.testnet import PrivateTorNetwork, socks_connect, tor_rss_bytes

pytestmark = [pytest.mark.tor, pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")]


def _routing(state: Any, **extra: Any) -> dict[str, Any]:
    return {"SOKHUND_TOR_SOCKS": state.socks, "SOKHUND_TOR_CONTROL": state.control,
            "SOKHUND_TOR_COOKIE": state.cookie_path, **extra}


def test_network_boots_on_loopback_only(tor_testnet: PrivateTorNetwork) -> None:
    state = tor_testnet.state
    assert state.boot_seconds < 60
    assert set(state.onions) == {"site_a", "site_b"} and len(set(state.onions.values())) == 2
    assert len(state.pids()) == 6  # authority, 3 relays, onion service node, client
    assert tor_rss_bytes(state.pids()) > 0
    for node in state.nodes:
        torrc = open(node.torrc).read()
        assert "UseDefaultFallbackDirs 0" in torrc and "TestingTorNetwork 1" in torrc
        assert "DirAuthority auth orport=" in torrc and " 127.0.0.1:" in torrc


def test_scrapy_fetches_onion_page(tor_testnet: PrivateTorNetwork, onion_http_server: SiteServer,
                                   tor_sentinel: Sentinel, run_tor_crawl: Any) -> None:
    state = tor_testnet.state
    result = run_tor_crawl({
        "sites": {"site_a": {"start": [state.url("site_a", "/list/fetch/5")]}},
        "settings": _routing(state),
    })
    urls = sorted(p["url"] for p in result["pages"])
    assert len(urls) == 6, result["errors"]
    assert all(p["status"] == 200 for p in result["pages"])
    assert all(state.onions["site_a"] in u for u in urls)
    assert sorted(onion_http_server.paths("/page/fetch/")) == sorted(f"/page/fetch/{i}" for i in range(5))
    assert result["onion_lookups"] == [] and tor_sentinel.hits == []
    assert result["stats"]["tor/responses"] == 6
