"""Crawl benchmark: the same testbed world crawled by the full Sökhund pipeline (adapters, detectors, WARC,
extraction, indexing) and by a bare Scrapy spider that only follows links, at equal concurrency, on a
world with the testbed's default history ("day 0") and on one with a long history (feedback pages grow).

Prints, per world and repeat and as the median over repeats: pages/s of both and their ratio (the target
is >= 0.5), CPU ms per page of both (the worker process tree's user+sys time), items per page and CPU ms
per item, and the peak RSS of each process tree (psutil, polled every 50 ms). Ratios are taken within one
repeat (the machine may be busy with other work).

    .venv/bin/python benchmarks/crawl.py [--repeats 3] [--history-days 150] [--seed 7] [--concurrency 8]
    .venv/bin/python benchmarks/crawl.py --profile        # + the per-stage CPU split (py-spy)
    .venv/bin/python benchmarks/crawl.py --next-day       # + a re-crawl of the next day (unchanged texts)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class PeakRss:
    """Polls a process and its children with psutil: the true peak RSS (Scrapy's own memory stat
    samples only once a minute)."""

    def __init__(self) -> None:
        self.peak = 0
        self.pid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, proc: subprocess.Popen[str]) -> None:
        self.pid = proc.pid
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


def _children_cpu() -> float:
    """User+sys seconds of every waited-for child process (and their waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def crawl_full(testbed: Any, sites: list[str], args: argparse.Namespace, run_id: str,
               profile_out: Path | None = None) -> dict[str, Any]:
    from crawler.runner import run_crawl

    settings = {"CONCURRENT_REQUESTS": args.concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0}
    watch = PeakRss()
    spies: list[subprocess.Popen[bytes]] = []

    def on_process(proc: subprocess.Popen[str]) -> None:
        watch.watch(proc)
        if profile_out is not None:
            from benchmarks._profile import record

            spies.append(record(proc.pid, profile_out))

    cpu0 = _children_cpu()
    result = run_crawl(sites, as_of=f"{testbed.today}T12:00:00+00:00", run_id=run_id, page_budget=args.budget,
                       settings=settings, on_process=on_process)
    cpu = _children_cpu() - cpu0
    for spy in spies:
        spy.wait(60)
    items = sum(sum((s.get("items") or {}).values()) for s in result.stats.values())
    elapsed = max(s.get("elapsed") or 0 for s in result.stats.values())
    return {"pages": result.pages, "elapsed": elapsed, "cpu": cpu, "rss": watch.stop(), "items": items,
            "ok": result.ok}


def crawl_bare(testbed: Any, sites: list[str], args: argparse.Namespace) -> dict[str, Any]:
    spec = {"sites": {s: testbed.urls[s] for s in sites}, "cookies": testbed.session_cookies,
            "concurrency": args.concurrency, "budget": args.budget}
    watch = PeakRss()
    cpu0 = _children_cpu()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "_bare_spider.py"), json.dumps(spec)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    watch.watch(proc)
    stdout, _ = proc.communicate()
    cpu = _children_cpu() - cpu0
    bare = json.loads(stdout.strip().splitlines()[-1])
    return {"pages": bare["pages"], "elapsed": bare["elapsed"], "cpu": cpu, "rss": watch.stop()}


def _rate(run: dict[str, Any]) -> float:
    return run["pages"] / run["elapsed"] if run["elapsed"] else 0.0


def _line(label: str, run: dict[str, Any]) -> str:
    items = f", {run['items']:6d} items ({run['items'] / max(run['pages'], 1):4.1f}/page, " \
            f"{run['cpu'] * 1000 / max(run['items'], 1):5.2f} ms CPU/item)" if "items" in run else ""
    return (f"  {label:5s} {run['pages']:6d} pages in {run['elapsed']:6.1f} s = {_rate(run):6.1f} pages/s, "
            f"CPU {run['cpu'] * 1000 / max(run['pages'], 1):5.2f} ms/page, peak RSS {run['rss'] / 2**20:6.1f} MiB"
            + items)


def bench_world(label: str, history_days: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """``args.repeats`` side-by-side runs on one world; each full crawl gets a fresh data directory."""
    from cli.demo import _site_env
    from crawler.adapters import load_all
    from testbed.server import Testbed

    rows = []
    scratch = tempfile.TemporaryDirectory(prefix="sokhund-bench-")  # removed at the end, also on errors
    world_dir = str(Path(scratch.name) / "world")
    with scratch, Testbed(seed=args.seed, state_dir=world_dir, rate_limit=None, ddos=False,
                 prehistory_days=history_days) as testbed:
        adapters = load_all()
        sites = [n for n in adapters if n in testbed.urls and not any(p.render for p in adapters[n].pages.values())]
        os.environ.update(_site_env(testbed.urls, testbed.session_cookies))
        print(f"{label}: {history_days} days of history; sites {', '.join(sites)}; concurrency {args.concurrency}; "
              f"seed {args.seed}", flush=True)
        for repeat in range(args.repeats):
            home = str(Path(scratch.name) / f"home-{repeat}")
            os.makedirs(home)
            os.environ["SOKHUND_HOME"] = home
            profile_out = Path(home) / "profile.txt" if args.profile and repeat == 0 else None
            full = crawl_full(testbed, sites, args, f"bench-{repeat}", profile_out)
            bare = crawl_bare(testbed, sites, args)
            row = {"full": full, "bare": bare, "ratio": _rate(full) / _rate(bare) if _rate(bare) else 0.0}
            print(f" repeat {repeat + 1}: ratio {row['ratio']:.2f}" + ("" if full["ok"] else " (crawl not ok)"))
            print(_line("ours", full))
            print(_line("bare", bare), flush=True)
            if profile_out is not None:
                from benchmarks._profile import report, top_leaves

                if profile_out.exists():
                    print(report(profile_out, full["pages"], full["cpu"]))
                    print("  hottest functions (own samples):")
                    for frame, n in top_leaves(profile_out, args.top):
                        print(f"    {n:6d}  {frame[:140]}")
                else:
                    print("  (py-spy wrote no profile: is ptrace allowed?)")
            rows.append(row)
        if args.next_day:  # last: the world stays a day ahead
            testbed.advance(1)
            again = crawl_full(testbed, sites, args, f"bench-{args.repeats - 1}-next")
            print(_line("next", again) + "  (the last data directory again, the world one day later)")
    return rows


def summary(label: str, rows: list[dict[str, Any]]) -> None:
    med = statistics.median
    print(f"{label} (median of {len(rows)}): ratio {med(r['ratio'] for r in rows):.2f} "
          f"(range {min(r['ratio'] for r in rows):.2f}-{max(r['ratio'] for r in rows):.2f}); "
          f"ours {med(_rate(r['full']) for r in rows):.1f} pages/s, bare {med(_rate(r['bare']) for r in rows):.1f} pages/s; "
          f"CPU ms/page ours {med(r['full']['cpu'] * 1000 / max(r['full']['pages'], 1) for r in rows):.2f}, "
          f"bare {med(r['bare']['cpu'] * 1000 / max(r['bare']['pages'], 1) for r in rows):.2f}; "
          f"CPU ms/item ours {med(r['full']['cpu'] * 1000 / max(r['full']['items'], 1) for r in rows):.2f}; "
          f"peak RSS ours {max(r['full']['rss'] for r in rows) / 2**20:.0f} MiB, "
          f"bare {max(r['bare']['rss'] for r in rows) / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--budget", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--day0-history", type=int, default=30, help="days of history of the day-0 world "
                        "(the testbed's default)")
    parser.add_argument("--history-days", type=int, default=150, help="days of history of the long-history "
                        "world (0: skip it)")
    parser.add_argument("--profile", action="store_true", help="py-spy the first full crawl of each world "
                        "and print the per-stage CPU split")
    parser.add_argument("--top", type=int, default=15, help="with --profile: how many hot functions to list")
    parser.add_argument("--next-day", action="store_true", help="also re-crawl each world one day later into "
                        "the same data directory (what a daily campaign does)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other work may be running)")
    worlds = [("day 0", args.day0_history)]
    if args.history_days:
        worlds.append((f"long history ({args.history_days} d)", args.history_days))
    results = [(label, bench_world(label, days, args)) for label, days in worlds]
    print(f"== crawl, {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.2f}; target ratio >= 0.50")
    for label, rows in results:
        summary(label, rows)


if __name__ == "__main__":
    main()
