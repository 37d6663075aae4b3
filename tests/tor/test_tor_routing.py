"""Routing decisions of tor/scrapy_routing.py that need no tor process (the real-tor checks are in
test_tor_network.py and test_tor_failclosed.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.settings import Settings

from tor.scrapy_routing import TorRouter, TorRouteSettings, TorUnavailableError

ONION = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"


class FakeStats:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count

    def set_value(self, key: str, value: Any) -> None:
        self.values[key] = value


def _router(adapter: Any = None, **settings: Any) -> TorRouter:
    crawler = SimpleNamespace(spider=SimpleNamespace(adapter=adapter), stats=FakeStats(), engine=None,
                              signals=SimpleNamespace(connect=lambda *a, **k: None))
    return TorRouter(crawler, TorRouteSettings.from_settings(Settings(settings)))


def test_onion_hosts_always_go_through_tor() -> None:
    router = _router()
    assert router.is_tor_request(Request(f"http://{ONION}/listing/1"))
    assert router.is_tor_request(Request(f"https://www.{ONION.upper()}:8443/"))
    assert not router.is_tor_request(Request("https://clearnet.example/"))


def test_tor_sites_by_meta_setting_and_adapter() -> None:
    adapter = SimpleNamespace(name="flugsvamp", network="tor")
    router = _router(adapter, SOKHUND_TOR_SITES="mirrorsite, other")
    clear = "http://127.0.0.1:8080/"
    assert router.is_tor_request(Request(clear, meta={"network": "tor"}))
    assert router.is_tor_request(Request(clear, meta={"site": "mirrorsite"}))
    assert router.is_tor_request(Request(clear, meta={"site": "flugsvamp"}))
    assert not router.is_tor_request(Request(clear, meta={"site": "no_such_site_anywhere"}))
    assert not router.is_tor_request(Request(clear))


def test_isolation_credentials_per_site_and_rotation() -> None:
    router = _router(SOKHUND_TOR_SOCKS="127.0.0.1:9150")
    assert router.isolation_key(Request(f"http://{ONION}/", meta={"site": "alpha"})) == "alpha"
    assert router.isolation_key(Request(f"http://{ONION}/")) == ONION
    assert router.proxy_url("alpha") == "socks5h://alpha:sokhund-0@127.0.0.1:9150"
    assert router.proxy_url("beta") == "socks5h://beta:sokhund-0@127.0.0.1:9150"
    result = router.rotate("alpha")
    assert result.generation == 1 and result.newnym == "no control port"
    assert router.proxy_url("alpha") == "socks5h://alpha:sokhund-1@127.0.0.1:9150"
    assert router.proxy_url("beta").endswith("beta:sokhund-0@127.0.0.1:9150")
    assert router.stats.values["tor/rotations"] == 1


def test_default_route_and_switching_tor_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOKHUND_TOR_SOCKS", raising=False)
    assert _router().config.socks == ("127.0.0.1", 9050)
    monkeypatch.setenv("SOKHUND_TOR_SOCKS", "127.0.0.1:9999")
    assert _router().config.socks == ("127.0.0.1", 9999)
    off = _router(SOKHUND_TOR_SOCKS="none")
    assert off.config.socks is None and not off.up
    with pytest.raises(TorUnavailableError, match="no Tor route configured"):
        off.proxy_url("alpha")


def test_bad_endpoint_setting_is_readable() -> None:
    with pytest.raises(ValueError, match="bad tor endpoint 'localhost:socks'"):
        _router(SOKHUND_TOR_SOCKS="localhost:socks")


def test_scrapy_settings_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    from tor.scrapy_routing import routing_not_installed, scrapy_settings

    monkeypatch.setenv("SOKHUND_TOR_SOCKS", "127.0.0.1:9150")
    monkeypatch.setenv("SOKHUND_TOR_CONTROL", "127.0.0.1:9151")
    bundle = scrapy_settings(SimpleNamespace(name="flugsvamp"))
    assert bundle["DOWNLOAD_HANDLERS"]["http"] == "tor.scrapy_routing.TorDownloadHandler"
    assert bundle["SOKHUND_TOR_SITES"] == ["flugsvamp"] and bundle["SOKHUND_TOR_CONTROL"] == "127.0.0.1:9151"
    assert bundle["SOKHUND_BROWSER_PROXY"] == "socks5://127.0.0.1:9150"
    assert routing_not_installed(Settings(bundle)) is None
    playwright = {"http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                  "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"}
    reason = routing_not_installed(Settings({**bundle, "DOWNLOAD_HANDLERS": playwright}))
    assert reason and "SOKHUND_TOR_FALLBACK_HANDLER" in reason
