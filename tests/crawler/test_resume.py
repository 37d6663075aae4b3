"""A crawl killed mid-way resumes where it stopped: nothing lost, nothing duplicated.

Graceful kill (SIGTERM, what `kill PID` and Ctrl-C send): Scrapy's JOBDIR keeps the queue and the
seen-set, so the resumed run fetches each remaining page once. Hard kill (SIGKILL): the queue cannot be
trusted, so the run restarts from its start pages; deterministic ids keep the index free of duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from cli.demo import _site_env
from crawler.runner import CrawlError, run_crawl, unfinished_run
from indexer.base import open_backend
from testbed.server import Testbed

pytestmark = pytest.mark.slow

START_PAGES = {"/", "/saljare"}


class _Stop(Exception):
    pass


def _crawl_and_kill(sig: int, after_pages: int, settings: dict | None = None) -> None:
    procs: list[subprocess.Popen[str]] = []

    def progress(latest: dict) -> None:
        pages = sum(row.get("pages", 0) for row in latest.values())
        if pages >= after_pages and procs and procs[0].poll() is None:
            procs[0].send_signal(sig)
            procs[0].wait(60)
            raise _Stop

    with pytest.raises((_Stop, CrawlError)):
        run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="r1", progress=progress,
                  on_process=procs.append, settings=settings)


@pytest.fixture()
def testbed(sokhund_home: Path) -> Testbed:
    tb = Testbed(seed=5, state_dir=sokhund_home / "testbed", prehistory_days=7)  # fewer feedback pages
    tb.start()
    os.environ.update(_site_env(tb.urls, tb.session_cookies))
    yield tb
    tb.stop()


def _check_complete(testbed: Testbed) -> Counter:
    truth = {str(r["id"]) for r in testbed.truth()["active"] if r["site"] == "flugsvamp" and r["kind"] == "listing"}
    backend = open_backend()
    try:
        observed = [str(o["listing_id"]) for o in backend.iter_docs("listing_observation")]
        fetched = Counter(
            c["url"].split("/", 3)[-1] for c in backend.iter_docs("capture") if c["status"] == 200 and not c["invalid_kind"]
        )
    finally:
        backend.close()
    assert set(observed) == truth, f"missing {len(truth - set(observed))} listings"
    assert len(observed) == len(set(observed)), "duplicate observations"
    return fetched


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_kill_resumes_without_refetching(testbed: Testbed, sig: int) -> None:
    _crawl_and_kill(sig, after_pages=120)
    assert unfinished_run("flugsvamp") == "r1"
    result = run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="r1")
    assert result.ok
    assert unfinished_run("flugsvamp") is None
    fetched = _check_complete(testbed)
    twice = {path: n for path, n in fetched.items() if n > 1 and "/" + path not in START_PAGES}
    assert not twice, f"pages fetched again after resume: {list(twice)[:5]}"


def test_hard_kill_recrawls_without_duplicates(testbed: Testbed) -> None:
    _crawl_and_kill(signal.SIGKILL, after_pages=120)
    result = run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="r1")
    assert result.ok
    _check_complete(testbed)


def test_graceful_kill_keeps_every_row_of_the_pages_it_fetched(testbed: Testbed) -> None:
    """Rows travel in batches (one Scrapy item per page, the extractor's and the index's batches). With
    batches so big that nothing reached the index before the kill, every row of every page the first run
    fetched (which the resumed run does not fetch again) must still be in the index afterwards."""
    hold = {"SOKHUND_EXTRACT_BATCH": 1_000_000, "SOKHUND_INDEX_BATCH": 1_000_000}
    _crawl_and_kill(signal.SIGTERM, after_pages=120, settings=hold)
    result = run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="r1", settings=hold)
    assert result.ok
    _check_complete(testbed)
    truth = testbed.truth()
    backend = open_backend()
    try:
        feedback = Counter(str(d["listing_id"]) for d in backend.iter_docs("feedback"))
        vendors = {d["name"] for d in backend.iter_docs("vendor")}
    finally:
        backend.close()
    # feedback is deduplicated on (listing, date, rating, text, buyer): the world may repeat a row
    rows = {(f["listing_id"], f["date"], f["rating"], f["text"], f["buyer"]) for f in truth["feedback"]
            if f["site"] == "flugsvamp"}
    expected = Counter(str(row[0]) for row in rows)
    assert sum(feedback.values()) == sum(expected.values()) and feedback == expected
    active = {str(r["id"]) for r in truth["active"] if r["site"] == "flugsvamp" and r["kind"] == "vendor"}
    assert vendors == {v["vendor"] for v in truth["vendors"] if v["site"] == "flugsvamp" and str(v["vendor_id"]) in active}
