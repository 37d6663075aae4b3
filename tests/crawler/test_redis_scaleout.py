"""Scale-out: two crawl workers share one frontier and dupe filter in a real Redis server on
127.0.0.1. Together they index the whole market, and no page is fetched by both."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.demo import _site_env
from crawler.runner import CrawlResult, run_crawl
from indexer.base import open_backend
from testbed.server import Testbed

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed (make setup installs it)")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def test_two_workers_share_one_frontier(sokhund_home: Path, redis_url: str) -> None:
    with Testbed(seed=3, state_dir=sokhund_home / "testbed", ddos=False, prehistory_days=7) as testbed:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        results: list[CrawlResult] = []
        settings = {"SOKHUND_REDIS_URL": redis_url, "CONCURRENT_REQUESTS": 4}

        def worker() -> None:
            results.append(run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="shared",
                                     settings=settings))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
            time.sleep(0.5)
        for thread in threads:
            thread.join(300)
        truth = {str(r["id"]) for r in testbed.truth()["active"]
                 if r["site"] == "flugsvamp" and r["kind"] == "listing" and r["day"] == 0}
    assert len(results) == 2 and all(r.ok for r in results)
    assert all(r.pages > 20 for r in results), [r.pages for r in results]  # both did real work
    backend = open_backend()
    try:
        listings = {str(d["listing_id"]) for d in backend.iter_docs("listing")}
        fetched = Counter(c["url"].split("/", 3)[-1] for c in backend.iter_docs("capture")
                          if c["status"] == 200 and not c["invalid_kind"])
    finally:
        backend.close()
    assert listings == truth
    twice = [u for u, n in fetched.items() if n > 1 and u not in ("", "saljare")]  # start pages: once per worker
    assert not twice, twice[:5]
