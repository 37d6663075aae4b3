"""Pagination is not link depth: a vendor's 7 feedback pages are all read even with a shallow max_depth,
so feedback-based turnover does not undercount on markets with a long history."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from cli.demo import _site_env
from crawler.runner import run_crawl
from indexer.base import SearchFilters, open_backend
from testbed.server import Testbed

pytestmark = pytest.mark.slow


def test_every_feedback_row_is_read_whatever_the_depth_limit(sokhund_home: Path) -> None:
    testbed = Testbed(seed=7, state_dir=sokhund_home / "testbed")
    testbed.start()
    try:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        truth = testbed.truth()
        # Depth still limits real depth: at depth 1 no vendor page, so no feedback page, is reached.
        flat = run_crawl(["flugsvamp"], as_of=f"{testbed.today}T12:00:00+00:00", run_id="flat",
                         max_depth=1, timeout=600)
        assert flat.stats["flugsvamp"]["depth_limited"] > 0
        assert flat.stats["flugsvamp"]["items"].get("feedback", 0) == 0
        # home → vendor list → vendor → feedback page 1 is depth 3; pages 2..7 of it are pagination.
        result = run_crawl(["flugsvamp"], as_of=f"{testbed.today}T12:00:00+00:00", run_id="shallow",
                           max_depth=3, timeout=600)
    finally:
        testbed.stop()
    assert result.ok, result.stats
    expected = Counter(f["listing_id"] for f in truth["feedback"] if f["site"] == "flugsvamp")
    per_vendor = Counter(f["vendor_id"] for f in truth["feedback"] if f["site"] == "flugsvamp")
    assert max(per_vendor.values()) > 3 * 20  # some vendor has more feedback pages than max_depth
    backend = open_backend()
    try:
        got = Counter(d.get("listing_id") for d in backend.iter_docs("feedback", SearchFilters(site="flugsvamp")))
    finally:
        backend.close()
    assert sum(got.values()) == sum(expected.values())
    assert got == expected
