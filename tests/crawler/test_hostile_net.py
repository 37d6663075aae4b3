"""Nothing leaves where it should not: a hostile site on 127.0.0.1 tries to pull the crawl (and its
session cookie, and its DNS look-ups) elsewhere.

The crawls run the real worker under a honeypot resolver (``tests/dns_honeypot_worker.py``): every host
name that reaches the system resolver is logged, onion names are answered with 127.0.0.1, so a leak
lands on the recording "elsewhere" server instead of failing quietly. The product's resolver guards are
switched off in these crawls, so what is tested is the routing itself, not the last line of defence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tor.onion import onion_from_pubkey
from tor.testnet import free_ports

REPO = Path(__file__).resolve().parents[2]
ONION = onion_from_pubkey(bytes(range(32)))  # a valid v3 name; the honeypot answers it with 127.0.0.1
COOKIE = "sess=S3CRET"
NO_GUARDS = {"SOKHUND_TOR_GUARD_SYSTEM_RESOLVER": False,
             "TWISTED_DNS_RESOLVER": "scrapy.resolver.CachingThreadedResolver"}
LISTING = "<html><head><title>{t}</title></head><body><h1>{t}</h1><span class=price>800 kr</span></body></html>"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """A server on 127.0.0.1 that records every request; ``routes`` maps a path to (status, headers, body)."""

    routes: dict[str, tuple[int, dict[str, str], str]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def cookies(self, path: str) -> list[str]:
        return [h.headers.get("cookie", "") for h in self.hits if h.path == path]


def _serve(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            recorder.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, headers, body = recorder.routes.get(self.path, (200, {}, LISTING.format(t=self.path)))
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def hostile() -> Iterator[tuple[Recorder, Recorder]]:
    """(site, elsewhere): the site redirects to elsewhere in every way it can."""
    site, elsewhere = Recorder(), Recorder()
    servers = [_serve(site), _serve(elsewhere)]
    away = f"http://127.0.0.1:{elsewhere.port}"
    links = "".join(f"<a href='{p}'>{p}</a>" for p in
                    ("/item/1", "/go/http302", "/go/meta", "/go/onion", "/go/onion-dot", "/go/onsite"))
    site.routes.update({
        "/": (200, {}, f"<html><body>{links}</body></html>"),
        "/go/http302": (302, {"Location": f"{away}/stolen/302"}, ""),
        "/go/meta": (200, {}, f"<html><head><meta http-equiv=refresh content='0; url={away}/stolen/meta'>"
                              "</head><body>moved</body></html>"),
        "/go/onion": (302, {"Location": f"http://{ONION}:{elsewhere.port}/stolen/onion"}, ""),
        "/go/onion-dot": (301, {"Location": f"http://{ONION}.:{elsewhere.port}/stolen/onion-dot"}, ""),
        "/go/onsite": (302, {"Location": "/item/2"}, ""),
    })
    yield site, elsewhere
    for server in servers:
        server.shutdown()
        server.server_close()


def adapter_yaml(path: Path, name: str, base: str, network: str = "clearnet") -> Path:
    path.write_text(f"""
name: {name}
kind: market
network: {network}
base_url: {base}
start: ["/"]
politeness: {{concurrency: 2, page_budget: 50, max_depth: 3}}
pages:
  index: {{url_pattern: "^/$", follow: [{{css: "a::attr(href)"}}]}}
  go: {{url_pattern: "^/go/"}}
  listing:
    url_pattern: "^/item/(?P<lid>\\\\d+)"
    item: listing
    fields:
      listing_id: {{from_url: lid}}
      title: {{css: "h1::text"}}
      price: {{css: ".price::text", type: number}}
""", encoding="utf-8")
    return path


def run_worker(tmp: Path, sites: list[str], settings: dict[str, Any], env: dict[str, str] | None = None,
               cwd: Path = REPO) -> tuple[int, str, list[str], str]:
    """(exit code, output, names the system resolver was asked for, crawl log)."""
    dns_log, log_file = tmp / "dns.log", tmp / "crawl.log"
    dns_log.write_text("")
    overrides = {"LOG_FILE": str(log_file), "SOKHUND_PROGRESS_FILE": str(tmp / "progress.jsonl"), **settings}
    child_env = {**os.environ, "PYTHONPATH": str(REPO), "SOKHUND_HOME": str(tmp / "home"),
                 "SOKHUND_TEST_DNS_LOG": str(dns_log), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "tests.dns_honeypot_worker", "--sites", ",".join(sites),
                           "--run-id", "hostile", "--settings-json", json.dumps(overrides)],
                          cwd=cwd, env=child_env, capture_output=True, text=True, timeout=120)
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    return proc.returncode, proc.stdout + proc.stderr, dns_log.read_text().split(), log


def captures(home: Path) -> list[dict[str, Any]]:
    from indexer.sqlite import SQLiteBackend

    backend = SQLiteBackend(home / "index.sqlite")
    try:
        return list(backend.iter_docs("capture"))
    finally:
        backend.close()


def test_offsite_redirects_are_recorded_never_fetched_and_carry_no_cookie(
        hostile: tuple[Recorder, Recorder], tmp_path: Path) -> None:
    site, elsewhere = hostile
    adapter = adapter_yaml(tmp_path / "hostile.yaml", "hostile", f"http://127.0.0.1:{site.port}")
    rc, out, lookups, log = run_worker(tmp_path, [str(adapter)], NO_GUARDS,
                                       env={"SOKHUND_COOKIE_HOSTILE": COOKIE})
    assert rc == 0, out + log[-3000:]
    assert elsewhere.hits == [], f"an off-site redirect was fetched: {elsewhere.paths()}"
    assert lookups == [], f"the system resolver was asked for {lookups}"
    # the site itself gets its session cookie, also after an on-site redirect
    assert site.cookies("/") == [COOKIE] and site.cookies("/item/2") == [COOKIE]
    recorded = {c["url"].rsplit("/", 1)[-1]: c.get("parse_error") or "" for c in captures(tmp_path / "home")}
    for page in ("http302", "meta", "onion", "onion-dot"):
        assert "off-site redirect" in recorded[page] and "not followed" in recorded[page], (page, recorded)
    assert "http://127.0.0.1" in recorded["http302"] and ONION in recorded["onion"]


def test_session_cookies_never_go_to_other_hosts(hostile: tuple[Recorder, Recorder], tmp_path: Path) -> None:
    """A start page on a mirror the adapter does not list is another host: no cookie goes there."""
    site, elsewhere = hostile
    adapter = adapter_yaml(tmp_path / "scoped.yaml", "scoped", f"http://127.0.0.1:{site.port}")
    text = adapter.read_text().replace('start: ["/"]', f'start: ["/", "http://127.0.0.1:{elsewhere.port}/other"]')
    adapter.write_text(text)
    rc, out, _, log = run_worker(tmp_path, [str(adapter)], NO_GUARDS, env={"SOKHUND_COOKIE_SCOPED": COOKIE})
    assert rc == 0, out + log[-3000:]
    assert site.cookies("/") == [COOKIE]
    assert elsewhere.cookies("/other") == [""], "the session cookie went to another host"


def test_tor_crawl_with_cookies_and_tor_down_makes_no_dns_lookup(tmp_path: Path) -> None:
    """network: tor, a pasted session cookie, no cached Public Suffix List, tor not answering: the system
    resolver is asked for nothing at all (Scrapy's cookie handling used to download the suffix list)."""
    (dead_port,) = free_ports(1)
    home = tmp_path / "home"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions" / "onionshop.cookie").write_text(COOKIE + "\n")
    adapter = adapter_yaml(tmp_path / "onionshop.yaml", "onionshop", f"http://{ONION}", network="tor")
    empty_cache = tmp_path / "cache"
    rc, out, lookups, log = run_worker(
        tmp_path, [str(adapter)],
        {**NO_GUARDS, "SOKHUND_TOR_SOCKS": f"127.0.0.1:{dead_port}", "SOKHUND_TOR_MAX_WAIT": 2,
         "SOKHUND_TOR_PROBE_INTERVAL": 0.3},
        env={"XDG_CACHE_HOME": str(empty_cache), "TLDEXTRACT_CACHE": str(empty_cache), "HOME": str(tmp_path)})
    assert '"finish_reasons"' in out, out + log[-3000:]
    assert "Tor route is down" in log and "request not sent" in log, log[-3000:]
    assert lookups == [], f"a Tor crawl asked the system resolver for {lookups}"


def test_crawl_from_another_directory_uses_the_project_settings(
        hostile: tuple[Recorder, Recorder], tmp_path: Path) -> None:
    site, _ = hostile
    adapter = adapter_yaml(tmp_path / "elsewhere.yaml", "elsewhere", f"http://127.0.0.1:{site.port}")
    workdir = tmp_path / "somewhere"
    workdir.mkdir()
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SOKHUND_HOME": str(home)}
    sokhund = Path(sys.executable).parent / "sokhund"
    proc = subprocess.run([str(sokhund), "crawl", str(adapter), "--run-id", "cwd1", "--json"], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    agents = {h.headers.get("user-agent", "") for h in site.hits}
    assert agents and not any("Scrapy" in a for a in agents), agents
    log = (home / "runs" / "cwd1" / "crawl.log").read_text()
    assert "'BOT_NAME': 'sokhund'" in log and "crawler.middlewares.evidence.WarcCaptureMiddleware" in log
    assert "Telnet console listening" not in log and "Remote control" not in log
    assert list((home / "warc" / "elsewhere").glob("*.warc.gz")), "no WARC evidence written"
    from indexer.sqlite import SQLiteBackend

    backend = SQLiteBackend(home / "index.sqlite")
    try:
        titles = {d["title"] for d in backend.iter_docs("listing")}
    finally:
        backend.close()
    assert "/item/1" in titles
    assert not (workdir / ".sokhund").exists()


def test_crawl_refuses_to_start_without_its_pipeline(
        hostile: tuple[Recorder, Recorder], tmp_path: Path, sokhund_home: Path) -> None:
    from crawler.runner import CrawlError, run_crawl

    site, _ = hostile
    adapter = adapter_yaml(tmp_path / "nopipe.yaml", "nopipe", f"http://127.0.0.1:{site.port}")
    with pytest.raises(CrawlError, match="refusing to crawl nopipe.*IndexPipeline"):
        run_crawl([str(adapter)], run_id="nopipe",
                  settings={"ITEM_PIPELINES": {"crawler.pipelines.index.IndexPipeline": None}})
    assert site.hits == []


PLAIN_SCRAPY = r"""
import sys
from scrapy.crawler import CrawlerProcess
from crawler.spiders.market import MarketSpider
failures = []
process = CrawlerProcess({"TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False})
deferred = process.crawl(MarketSpider, site=sys.argv[1])
deferred.addErrback(lambda f: failures.append(f.getErrorMessage()))
process.start()
print("FAILURES", failures)
"""


def test_spider_refuses_plain_scrapy_settings(hostile: tuple[Recorder, Recorder], tmp_path: Path) -> None:
    """The spider itself, started by plain Scrapy (no project settings), refuses instead of crawling."""
    site, _ = hostile
    adapter = adapter_yaml(tmp_path / "plain.yaml", "plain", f"http://127.0.0.1:{site.port}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "SOKHUND_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", PLAIN_SCRAPY, str(adapter)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "refusing to crawl" in proc.stdout and "IndexPipeline" in proc.stdout, proc.stdout + proc.stderr
    assert site.hits == []
