"""A disk that fills during a crawl (a real tmpfs, real ENOSPC beyond the reserve): the crawl stops while
there is still room (``SOKHUND_DISK_RESERVE_MB``) with reason ``disk_full`` and a message naming the data
directory, no write in the crawl log failed, and after space is freed the same run is crawled again and
finishes. Without the guard a full disk could hang the engine on its on-disk request queue."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crawler.runner import run_crawl, unfinished_run
from tests.faults import tiny_disk

AS_OF = "2026-09-01T12:00:00+00:00"


@pytest.mark.slow
def test_crawl_stops_at_the_reserve_and_the_run_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.demo import _site_env
    from testbed.server import Testbed

    tb = Testbed(seed=5, state_dir=tmp_path / "testbed")
    tb.start()
    try:
        with tiny_disk(tmp_path / "home", 3000) as disk:
            for key, value in {**_site_env(tb.urls, tb.session_cookies), "SOKHUND_HOME": str(disk),
                               "SOKHUND_MIN_FREE_MB": "0", "SOKHUND_DISK_RESERVE_MB": "2.6"}.items():
                monkeypatch.setenv(key, value)
            first = run_crawl(["flugsvamp"], run_id="r1", as_of=AS_OF, page_budget=150)
            assert not first.ok and first.finish_reasons["flugsvamp"] == "disk_full"
            message = first.stats["flugsvamp"]["disk_full"]
            assert str(disk) in message and "SOKHUND_DISK_RESERVE_MB" in message
            assert "No space left" not in (disk / "runs" / "r1" / "crawl.log").read_text(encoding="utf-8")
            assert unfinished_run("flugsvamp") == "r1"
            subprocess.run(["mount", "-o", "remount,size=200000k", str(disk)], check=True, timeout=20)
            second = run_crawl(["flugsvamp"], run_id="r1", as_of=AS_OF, page_budget=150)
            assert second.ok, second.finish_reasons
            assert second.stats["flugsvamp"]["items"].get("listing", 0) >= first.stats["flugsvamp"]["items"]["listing"]
    finally:
        tb.stop()
