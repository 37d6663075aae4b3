"""pytest plugin for the Tor tests (listed in tests/conftest.py ``pytest_plugins``).

Session fixtures (one private network per test session):

* ``tor_binary``        – path of ``tor``; skips the test (with the reason) ONLY when tor is not installed.
* ``onion_http_server`` – :class:`SiteServer`, a small HTTP site on 127.0.0.1 that records every hit.
* ``tor_sentinel``      – :class:`Sentinel`, a TCP listener on 127.0.0.1 that records every connection.
                          Its port is the onions' virtual port, so a request that left Tor and went
                          "direct" to an onion name resolved to 127.0.0.1 would land here.
* ``tor_testnet``       – :class:`tor.testnet.PrivateTorNetwork` (``.state``: onions, SOCKS/control ports)
                          exposing the site as two onion services, ``site_a`` and ``site_b``.

Function fixtures:

* ``offline_tor``       – :class:`tor.controller.TorController` of a tor with ``DisableNetwork 1``.
* ``run_tor_crawl``     – runs ``python -m tests.tor_crawl`` (a minimal Scrapy crawl through
                          ``tor.scrapy_routing``) and returns its JSON result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tor.controller import TorController
from tor.testnet import PrivateTorNetwork, ServiceTarget, TestnetState

REPO = Path(__file__).resolve().parents[1]


# ---- local servers -------------------------------------------------------------------------------------


class _SiteHandler(BaseHTTPRequestHandler):
    """``/list/<prefix>/<n>`` links to ``/page/<prefix>/<i>``; ``/ban/<key>`` answers 403 "banned" once."""

    server: SiteServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.server.record(self.path, self.headers.get("Host", ""))
        match = re.fullmatch(r"/list/(\w+)/(\d+)", self.path)
        if match:
            prefix, n = match.group(1), int(match.group(2))
            links = "".join(f'<a href="/page/{prefix}/{i}">p{i}</a>\n' for i in range(n))
            return self._send(200, f"<html><body><h1>list {prefix}</h1>{links}</body></html>")
        match = re.fullmatch(r"/page/(\w+)/(\d+)", self.path)
        if match:
            time.sleep(self.server.delay)
            return self._send(200, f"<html><body><p>page {match.group(1)} {match.group(2)}</p></body></html>")
        match = re.fullmatch(r"/ban/(\w+)", self.path)
        if match:
            key = match.group(1)
            with self.server.lock:
                first = key not in self.server.banned
                self.server.banned.add(key)
            if first:
                return self._send(403, "<html><body>You are banned. Access denied.</body></html>")
            return self._send(200, f"<html><body><p>welcome back {key}</p></body></html>")
        return self._send(200, "<html><body>sokhund onion test site</body></html>")

    def _send(self, status: int, html: str) -> None:
        body = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SiteHandler)
        self.lock = threading.Lock()
        self.hits: list[tuple[float, str, str]] = []  # (time, path, Host header)
        self.banned: set[str] = set()
        self.delay = 0.0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def record(self, path: str, host: str) -> None:
        with self.lock:
            self.hits.append((time.time(), path, host))

    def paths(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [p for _, p, _ in self.hits if p.startswith(prefix)]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Sentinel:
    """Records every TCP connection to 127.0.0.1:port (a request that bypassed Tor)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.hits: list[tuple[float, str]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                try:
                    first = conn.recv(200).decode("latin-1", "replace").splitlines()[:1]
                except OSError:
                    first = []
                self.hits.append((time.time(), first[0] if first else f"connection from {addr}"))

    def stop(self) -> None:
        self._stop = True
        self.sock.close()


# ---- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tor_binary() -> str:
    path = shutil.which("tor") or ("/usr/sbin/tor" if os.access("/usr/sbin/tor", os.X_OK) else None)
    if path is None:
        pytest.skip("the 'tor' binary is not installed (Debian package 'tor'): private-network tests skipped")
    return path


@pytest.fixture(scope="session")
def onion_http_server() -> Iterator[SiteServer]:
    server = SiteServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tor_sentinel() -> Iterator[Sentinel]:
    sentinel = Sentinel()
    yield sentinel
    sentinel.stop()


@pytest.fixture(scope="session")
def tor_testnet(
    tor_binary: str, onion_http_server: SiteServer, tor_sentinel: Sentinel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateTorNetwork]:
    target = ServiceTarget("127.0.0.1", onion_http_server.port, virtual_port=tor_sentinel.port)
    network = PrivateTorNetwork(tmp_path_factory.mktemp("tornet"), {"site_a": target, "site_b": target},
                                tor_cmd=tor_binary)
    try:
        network.up(timeout=55, attempts=2)
        yield network
    finally:
        network.down()


@pytest.fixture()
def tor_state(tor_testnet: PrivateTorNetwork) -> TestnetState:
    return tor_testnet.state


@pytest.fixture()
def offline_tor(tor_binary: str, tmp_path: Path) -> Iterator[TorController]:
    ctl = TorController.launch(tmp_path / "tor", {"DisableNetwork": "1"}, tor_cmd=tor_binary,
                               completion_percent=0, timeout=30)
    try:
        yield ctl
    finally:
        ctl.close()


@pytest.fixture()
def run_tor_crawl(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``run_tor_crawl(config, timeout=120, wait=True)`` → the crawl's JSON result (or the Popen).
    Crawl processes still running at teardown (a failed test) are killed."""
    counter = {"n": 0}
    started: list[subprocess.Popen[bytes]] = []

    def run(config: dict[str, Any], timeout: float = 120, wait: bool = True) -> Any:
        counter["n"] += 1
        cfg_path = tmp_path / f"crawl{counter['n']}.json"
        out_path = tmp_path / f"crawl{counter['n']}-out.json"
        config = {**config, "out": str(out_path), "progress": str(out_path.with_suffix(".progress"))}
        cfg_path.write_text(json.dumps(config))
        env = {**os.environ, "PYTHONPATH": str(REPO), "SOKHUND_HOME": str(tmp_path / "home")}
        log_path = out_path.with_suffix(".log")
        proc = subprocess.Popen([sys.executable, "-m", "tests.tor_crawl", str(cfg_path)], cwd=REPO, env=env,
                                stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        started.append(proc)
        proc.out_path = out_path  # type: ignore[attr-defined]
        proc.log_path = log_path  # type: ignore[attr-defined]
        proc.progress_path = Path(config["progress"])  # type: ignore[attr-defined]
        if not wait:
            return proc
        return finish_crawl(proc, timeout)

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def finish_crawl(proc: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, Any]:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"crawl timed out; log:\n{proc.log_path.read_text()[-4000:]}") from None  # type: ignore[attr-defined]
    out = proc.out_path  # type: ignore[attr-defined]
    if proc.returncode != 0 or not out.exists():
        raise AssertionError(f"crawl failed ({proc.returncode}); log:\n{proc.log_path.read_text()[-4000:]}")  # type: ignore[attr-defined]
    result: dict[str, Any] = json.loads(out.read_text())
    result["log"] = proc.log_path.read_text()  # type: ignore[attr-defined]
    return result
