"""Crawl benchmark: the same testbed world crawled twice — once with the full Sökhund pipeline
(adapters, detectors, WARC, extraction, indexing) and once by a bare Scrapy spider that only follows
links — at equal concurrency. Prints pages/s for both, their ratio, and peak RSS.

    .venv/bin/python benchmarks/crawl.py [--seed 7] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class PeakRss:
    """Polls a process and its children with psutil: the true peak RSS (Scrapy's own memory stat
    samples only once a minute)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, proc: subprocess.Popen[str]) -> None:
        self._thread = threading.Thread(target=self._poll, args=(proc.pid,), daemon=True)
        self._thread.start()

    def _poll(self, pid: int) -> None:
        import psutil

        try:
            root = psutil.Process(pid)
            while not self._stop.is_set() and root.is_running():
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
                time.sleep(0.05)
        except psutil.Error:
            return

    def stop(self) -> int:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--budget", type=int, default=20000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="sokhund-bench-")
    os.environ["SOKHUND_HOME"] = home

    from cli.demo import _site_env
    from crawler.adapters import load_all
    from crawler.runner import run_crawl
    from testbed.server import Testbed

    with Testbed(seed=args.seed, state_dir=Path(home) / "testbed", rate_limit=None, ddos=False) as testbed:
        adapters = load_all()
        sites = [n for n in adapters if n in testbed.urls and not any(p.render for p in adapters[n].pages.values())]
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        settings = {"CONCURRENT_REQUESTS": args.concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                    "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0}
        full_rss_watch = PeakRss()
        full = run_crawl(sites, as_of=f"{testbed.today}T12:00:00+00:00", run_id="bench-full",
                         page_budget=args.budget, settings=settings, on_process=full_rss_watch.watch)
        full_rss = full_rss_watch.stop()
        full_pages = full.pages
        full_elapsed = max(s.get("elapsed") or 0 for s in full.stats.values())

        spec = {"sites": {s: testbed.urls[s] for s in sites}, "cookies": testbed.session_cookies,
                "concurrency": args.concurrency, "budget": args.budget}
        bare_rss_watch = PeakRss()
        proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "_bare_spider.py"), json.dumps(spec)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        bare_rss_watch.watch(proc)
        stdout, _ = proc.communicate()
        bare = json.loads(stdout.strip().splitlines()[-1])
        bare["memusage_max"] = bare_rss_watch.stop()

    full_rate = full_pages / full_elapsed if full_elapsed else 0.0
    bare_rate = bare["pages"] / bare["elapsed"] if bare["elapsed"] else 0.0
    print(f"sites: {', '.join(sites)}; concurrency {args.concurrency}; seed {args.seed}")
    print(f"full pipeline : {full_pages:6d} pages in {full_elapsed:6.1f} s = {full_rate:7.1f} pages/s, "
          f"peak RSS {full_rss / 2**20:6.1f} MiB")
    print(f"bare spider   : {bare['pages']:6d} pages in {bare['elapsed']:6.1f} s = {bare_rate:7.1f} pages/s, "
          f"peak RSS {bare['memusage_max'] / 2**20:6.1f} MiB")
    print(f"ratio full/bare pages/s: {full_rate / bare_rate:.2f}" if bare_rate else "ratio: n/a")


if __name__ == "__main__":
    main()
