"""The browser starts only when a page needs rendering: a site that may render (nordbazaar answers a
DDoS page by rendering it) but whose pages are all plain HTML is crawled without any Playwright driver or
chromium process. (tests/crawler/test_render.py covers the pages that do need the browser.)"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import psutil

from cli.demo import _site_env
from crawler.adapters import load_adapter
from crawler.render import needs_browser
from crawler.runner import run_crawl
from testbed.server import Testbed


def test_no_browser_process_while_no_page_needs_rendering(sokhund_home: Path) -> None:
    assert needs_browser(load_adapter("nordbazaar"))
    seen: set[str] = set()
    done = threading.Event()

    def watch(proc: subprocess.Popen[str]) -> None:
        def poll() -> None:
            try:
                root = psutil.Process(proc.pid)
                while not done.is_set() and root.is_running():
                    for child in root.children(recursive=True):
                        try:
                            seen.add(child.name())
                        except psutil.Error:
                            pass
                    done.wait(0.05)
            except psutil.Error:
                return

        threading.Thread(target=poll, daemon=True).start()

    with Testbed(seed=7, state_dir=sokhund_home / "testbed", rate_limit=None, ddos=False,
                 prehistory_days=1) as testbed:
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        result = run_crawl(["nordbazaar"], as_of=f"{testbed.today}T12:00:00+00:00", run_id="plain",
                           page_budget=40, on_process=watch, timeout=300)
    done.set()
    assert result.ok and result.pages >= 40
    assert not {name for name in seen if "node" in name or "chrom" in name or "playwright" in name}, seen
    assert "Starting download handler" not in Path(result.log_file).read_text(encoding="utf-8")
