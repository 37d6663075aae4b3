"""A daily crawl with the unchanged-text cache indexes exactly what it indexes extracting every text: two
days of a small world crawled into two data directories, once with the cache (the second day reads most
texts from it) and once without, give the same listings, vendors, posts, feedback and observations."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from cli.demo import _site_env
from crawler.runner import run_crawl
from indexer.base import open_backend
from testbed.server import Testbed

pytestmark = pytest.mark.slow
KINDS = ("listing", "listing_observation", "vendor", "vendor_observation", "post", "feedback")
SITES = ["flugsvamp", "snackis"]
_PORT = re.compile(r"http://127\.0\.0\.1:\d+")


def _crawl_two_days(home: Path, cache: bool) -> tuple[dict[str, list[dict[str, Any]]], str]:
    os.environ["SOKHUND_HOME"] = str(home)
    testbed = Testbed(seed=7, state_dir=home / "testbed", rate_limit=None, ddos=False, prehistory_days=2)
    testbed.start()
    logs = ""
    try:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        for day in (0, 1):
            if day:
                testbed.advance(1)
            result = run_crawl(SITES, as_of=f"{testbed.today}T12:00:00+00:00", run_id=f"day{day}",
                               settings={"SOKHUND_EXTRACT_CACHE": cache}, timeout=600)
            assert result.ok, result.stats
            logs += Path(result.log_file).read_text(encoding="utf-8")
    finally:
        testbed.stop()
    backend = open_backend()
    try:
        docs = {kind: [_comparable(d) for d in backend.iter_docs(kind)] for kind in KINDS}
    finally:
        backend.close()
    return docs, logs


def _comparable(doc: Any) -> Any:
    # capture ids carry the fetch time, URLs the testbed's port, digests pages with those URLs in them
    if isinstance(doc, dict):
        return {k: _comparable(v) for k, v in doc.items() if k not in ("capture_id", "capture_sha256")}
    if isinstance(doc, list):
        return [_comparable(v) for v in doc]
    return _PORT.sub("http://testbed", doc) if isinstance(doc, str) else doc


def test_crawl_with_the_cache_indexes_the_same_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKHUND_HOME", str(tmp_path))  # restored afterwards
    cached, logs = _crawl_two_days(tmp_path / "cached", cache=True)
    plain, _ = _crawl_two_days(tmp_path / "plain", cache=False)
    assert "'sokhund/extract_cache/hits'" in logs  # the cache was used on the second day
    hits = [int(line.split(":")[-1].strip(" ,}")) for line in logs.splitlines() if "extract_cache/hits'" in line]
    assert max(hits) > 0
    assert sum(len(v) for v in cached.values()) > 100
    for kind in KINDS:
        assert len(cached[kind]) == len(plain[kind]), kind
        for a, b in zip(cached[kind], plain[kind], strict=True):
            assert a == b, (kind, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})
