"""Fail-closed routing: a Tor request is never sent directly and its onion name never reaches the system
resolver, whatever happens to tor. The crawl process installs a *honeypot* resolver (records .onion
look-ups and answers 127.0.0.1) and the onions' virtual port is a sentinel listener on 127.0.0.1, so any
leak would be recorded, not just fail."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from tests.fixtures_tor import REPO, Sentinel, SiteServer, finish_crawl
from tor.testnet import PrivateTorNetwork, free_ports

pytestmark = [pytest.mark.tor, pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")]

# the resolver guards are defence in depth: switch them off here so that only the routing is tested
NO_GUARDS = {"SOKHUND_TOR_GUARD_SYSTEM_RESOLVER": False, "TWISTED_DNS_RESOLVER": "scrapy.resolver.CachingThreadedResolver"}


def _lines(path: Any) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_kill_tor_mid_crawl_pauses_and_resumes(
    tor_testnet: PrivateTorNetwork, onion_http_server: SiteServer, tor_sentinel: Sentinel, run_tor_crawl: Any
) -> None:
    state = tor_testnet.state
    client = tor_testnet.add_client("client_fc")  # our own client: killing it leaves the session's alone
    pages = 30
    onion_http_server.delay = 0.15
    try:
        proc = run_tor_crawl({
            "sites": {"site_a": {"start": [state.url("site_a", f"/list/fc/{pages}")]}},
            "settings": {"SOKHUND_TOR_SOCKS": f"127.0.0.1:{client.socks_port}",
                         "SOKHUND_TOR_CONTROL": f"127.0.0.1:{client.control_port}",
                         "SOKHUND_TOR_PROBE_INTERVAL": 0.3, "CONCURRENT_REQUESTS": 2,
                         "CONCURRENT_REQUESTS_PER_DOMAIN": 2, **NO_GUARDS},
        }, wait=False)
        deadline = time.monotonic() + 60
        while _lines(proc.progress_path) < 6:
            assert proc.poll() is None, proc.log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "crawl made no progress"
            time.sleep(0.05)
        tor_testnet.stop_node("client_fc")  # SIGKILL: tor dies mid-crawl
        time.sleep(0.5)  # requests already inside the dead tor fail now
        hits_while_down = len(onion_http_server.paths("/page/fc/"))
        time.sleep(3)
        assert proc.poll() is None, "the crawl must wait for tor, not finish"
        assert len(onion_http_server.paths("/page/fc/")) == hits_while_down, "a request reached the site without tor"
        assert tor_sentinel.hits == []
        tor_testnet.start_node("client_fc")
        result = finish_crawl(proc, timeout=90)
    finally:
        onion_http_server.delay = 0.0
        if tor_testnet.state.node("client_fc").pid:
            tor_testnet.stop_node("client_fc")
    fetched = {p["url"] for p in result["pages"] if p["status"] == 200}
    expected = {state.url("site_a", f"/page/fc/{i}") for i in range(pages)} | {state.url("site_a", f"/list/fc/{pages}")}
    assert fetched == expected, (sorted(expected - fetched), result["errors"])  # nothing lost
    assert result["errors"] == []
    assert result["onion_lookups"] == [], "the system resolver saw an onion name"
    assert tor_sentinel.hits == [], "a request bypassed tor"
    stats = result["stats"]
    assert stats["tor/down_events"] >= 1 and stats.get("tor/paused_seconds", 0) >= 3
    assert "crawl paused" in result["log"] and "crawl resumed" in result["log"]


def test_tor_never_up_means_nothing_sent(
    onion_http_server: SiteServer, tor_sentinel: Sentinel, tor_testnet: PrivateTorNetwork, run_tor_crawl: Any
) -> None:
    (dead_port,) = free_ports(1)
    state = tor_testnet.state
    before = len(onion_http_server.hits)
    result = run_tor_crawl({
        "sites": {"site_a": {"start": [state.url("site_a", "/list/dead/3")]},
                  "mirror": {"start": [f"http://127.0.0.1:{tor_sentinel.port}/clearnet-looking"]}},
        "settings": {"SOKHUND_TOR_SOCKS": f"127.0.0.1:{dead_port}", "SOKHUND_TOR_MAX_WAIT": 2,
                     "SOKHUND_TOR_PROBE_INTERVAL": 0.3, "SOKHUND_TOR_SITES": ["mirror"], **NO_GUARDS},
    })
    assert result["pages"] == []
    assert len(result["errors"]) == 2 and all("TorUnavailableError" in e for e in result["errors"]), result["errors"]
    assert result["onion_lookups"] == [] and tor_sentinel.hits == []
    assert len(onion_http_server.hits) == before


def test_tor_switched_off_fails_requests_without_sending(tor_sentinel: Sentinel, run_tor_crawl: Any) -> None:
    onion = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"
    result = run_tor_crawl({
        "sites": {"site_a": {"start": [f"http://{onion}:{tor_sentinel.port}/"]}},
        "settings": {"SOKHUND_TOR_SOCKS": "none", **NO_GUARDS},
    })
    assert result["pages"] == [] and "no Tor route configured" in result["errors"][0]
    assert result["onion_lookups"] == [] and tor_sentinel.hits == []


def test_bad_onion_address_is_refused_with_reason(tor_sentinel: Sentinel, run_tor_crawl: Any) -> None:
    result = run_tor_crawl({
        "sites": {"old": {"start": [f"http://silkroad7rn2puhj.onion:{tor_sentinel.port}/"]}},
        "settings": {"SOKHUND_TOR_SOCKS": "127.0.0.1:9", **NO_GUARDS},
    })
    assert result["pages"] == [] and "v2 onion address" in result["errors"][0]
    assert result["onion_lookups"] == [] and tor_sentinel.hits == []


def test_missing_tor_handler_refuses_tor_requests(tor_sentinel: Sentinel, run_tor_crawl: Any) -> None:
    """Middleware installed but http/https served by Scrapy's plain handler: Tor requests are refused."""
    onion = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"
    plain = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
    result = run_tor_crawl({
        "sites": {"site_a": {"start": [f"http://{onion}:{tor_sentinel.port}/"]},
                  "mirror": {"start": [f"http://127.0.0.1:{tor_sentinel.port}/mirror"], "network": "tor"}},
        "settings": {"DOWNLOAD_HANDLERS": {"http": plain, "https": plain}, **NO_GUARDS},
    })
    assert result["pages"] == [] and len(result["errors"]) == 2
    assert all("TorRoutingNotInstalled" in e and "DOWNLOAD_HANDLERS" in e for e in result["errors"])
    assert result["onion_lookups"] == [] and tor_sentinel.hits == []


GUARD_SCRIPT = r"""
import socket
from twisted.internet.error import DNSLookupError
from tor.scrapy_routing import OnionRefusingResolver, install_system_resolver_guard, refused_lookups
from twisted.internet import reactor
install_system_resolver_guard()
for call in (lambda: socket.getaddrinfo("abc.onion", 80), lambda: socket.gethostbyname("x.ONION."),
             lambda: socket.gethostbyname_ex(b"y.onion")):
    try:
        call()
    except socket.gaierror as exc:
        assert "refusing to resolve onion name" in str(exc), exc
    else:
        raise SystemExit("resolved an onion name")
assert socket.getaddrinfo("127.0.0.1", 80)
resolver = OnionRefusingResolver(reactor, 0, 5.0)
failures = []
resolver.getHostByName("market.onion").addErrback(lambda f: failures.append(f.check(DNSLookupError)))
assert failures == [DNSLookupError], failures
print("ok", refused_lookups)
"""


def test_resolver_guards_refuse_onion_names() -> None:
    out = subprocess.run([sys.executable, "-c", GUARD_SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ['abc.onion', 'x.ONION.', 'y.onion']")
