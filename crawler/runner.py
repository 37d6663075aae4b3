"""Run crawls from Python (CLI, demo, campaigns, tests): each crawl is a fresh Scrapy worker process.

``run_crawl`` streams progress to a callback, returns a ``CrawlResult`` with the stats, and resumes an
unfinished run when given the same ``run_id`` (Scrapy JOBDIR per site and run)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler import paths
from crawler.adapters import AdapterError, load_adapter
from crawler.coverage import coverage_baselines, record_run, site_coverage


class CrawlError(RuntimeError):
    """The crawl worker failed; the message carries the end of its log."""


@dataclass
class CrawlResult:
    run_id: str
    ok: bool
    as_of: str
    sites: list[str]
    stats: dict[str, Any] = field(default_factory=dict)  # per site: pages, items, invalid_pages, errors …
    finish_reasons: dict[str, str] = field(default_factory=dict)
    new_vendor_ids: list[str] = field(default_factory=list)
    log_file: str = ""
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)  # per site: complete, reason (crawler.coverage)

    @property
    def pages(self) -> int:
        return sum(s.get("pages", 0) for s in self.stats.values())

    @property
    def errors(self) -> int:
        return sum(s.get("errors", 0) for s in self.stats.values())

    def invalid_pages(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for site_stats in self.stats.values():
            for kind, n in site_stats.get("invalid_pages", {}).items():
                total[kind] = total.get(kind, 0) + n
        return total


ProgressCallback = Callable[[dict[str, dict[str, Any]]], None]


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def unfinished_run(site: str) -> str | None:
    """The latest run of ``site`` that was killed before it finished (its JOBDIR has no DONE marker)."""
    folder = paths.jobs_dir() / load_adapter(site).name  # a site given by path has its own name
    if not folder.exists():
        return None
    candidates = [d for d in folder.iterdir() if d.is_dir() and not (d / "DONE").exists()]
    return max(candidates, key=lambda d: d.stat().st_mtime).name if candidates else None


def run_crawl(
    sites: list[str],
    *,
    as_of: str | None = None,
    run_id: str | None = None,
    use_tor: bool = False,
    page_budget: int | None = None,
    max_depth: int | None = None,
    index_url: str | None = None,
    settings: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    on_process: Callable[[subprocess.Popen[str]], None] | None = None,
) -> CrawlResult:
    # fail early, with the adapter's file and field, before starting a process; a site may be given by path
    loaded = [load_adapter(site) for site in sites]
    for adapter in loaded:
        if adapter.reference:  # a real market's saved-page example (placeholder onion): never crawled
            raise AdapterError(f"{adapter.source_file}: {adapter.name} is a reference adapter (reference: true), "
                               "kept to parse saved pages; it is never crawled")
    names = [adapter.name for adapter in loaded]
    run_id = paths.check_run_id(run_id) if run_id else new_run_id()
    preflight(index_url)
    as_of = as_of or datetime.now(UTC).isoformat(timespec="seconds")
    run_dir = paths.sub("runs") / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    progress_file = run_dir / "progress.jsonl"
    log_file = run_dir / "crawl.log"
    overrides: dict[str, Any] = {
        "SOKHUND_AS_OF": as_of,
        "SOKHUND_PROGRESS_FILE": str(progress_file),
        "LOG_FILE": str(log_file),
        "LOG_LEVEL": "INFO",
    }
    if use_tor:
        overrides["SOKHUND_USE_TOR"] = True
    if page_budget:
        overrides["page_budget"] = page_budget
    if max_depth:
        overrides["max_depth"] = max_depth
    if index_url:
        overrides["SOKHUND_INDEX_URL"] = index_url
    overrides.update(settings or {})
    cmd = [sys.executable, "-m", "crawler.worker", "--sites", ",".join(sites), "--run-id", run_id,
           "--settings-json", json.dumps(overrides), "--parent-pid", str(os.getpid())]
    child_env = {**os.environ, **(env or {}), "SOKHUND_HOME": str(paths.home())}
    offset = 0
    latest: dict[str, dict[str, Any]] = {}
    # Its own process group: a terminal's Ctrl-C reaches only us, and we decide what the worker gets
    # (one Ctrl-C = graceful stop, a second = hard stop). The worker dies with us (PR_SET_PDEATHSIG).
    proc = subprocess.Popen(cmd, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            process_group=0)
    started = time.monotonic()
    if on_process:
        on_process(proc)
    stop = _StopSignals(proc, run_id)
    try:
        with stop:
            offset = _wait(proc, progress_file, latest, progress, timeout, started, run_id, offset)
    except BaseException:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
        raise
    output = proc.stdout.read() if proc.stdout else ""
    stop.raise_if_stopped()
    _read_progress(progress_file, offset, latest)
    if progress:
        progress(latest)
    reasons: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith('{"finish_reasons"'):
            reasons = json.loads(line)["finish_reasons"]
        elif line.startswith('{"error"'):
            raise CrawlError(json.loads(line)["error"])
    if proc.returncode not in (0, 3) or not reasons:
        tail = _tail(log_file) or output[-3000:]
        raise CrawlError(f"crawl worker exited with {proc.returncode}:\n{tail}")
    result = CrawlResult(
        run_id=run_id,
        ok=proc.returncode == 0,
        as_of=as_of,
        sites=names,
        stats=latest,
        finish_reasons=reasons,
        log_file=str(log_file),
    )
    adapters = {name: load_adapter(site) for site, name in zip(sites, names, strict=True)}
    result.coverage = {name: site_coverage(latest.get(name, {}),
                                           page_budget=page_budget or adapter.politeness.page_budget,
                                           max_depth=max_depth or adapter.politeness.max_depth)
                       for name, adapter in adapters.items()}
    result.new_vendor_ids = _record_and_new_vendors(result, index_url)
    return result


def _wait(proc: subprocess.Popen[str], progress_file: Any, latest: dict[str, dict[str, Any]],
          progress: ProgressCallback | None, timeout: float | None, started: float, run_id: str, offset: int) -> int:
    while proc.poll() is None:
        offset = _read_progress(progress_file, offset, latest)
        if progress:
            progress(latest)
        if timeout and time.monotonic() - started > timeout:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            raise CrawlError(f"crawl {run_id} timed out after {timeout:.0f}s; resume it with run_id={run_id}")
        time.sleep(0.2)
    return offset


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Hard stop: the worker and everything it started (chromium …)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


class _StopSignals:
    """While a crawl runs in the main thread: the first Ctrl-C (SIGINT) or SIGTERM asks the worker for a
    graceful stop (Scrapy finishes what it is fetching and keeps its JOBDIR, so the run resumes without
    fetching a page twice) and waits for it; a second one stops it at once (SIGKILL to its process group).
    Afterwards the crawl raises KeyboardInterrupt (SIGINT) or SystemExit(143) (SIGTERM)."""

    def __init__(self, proc: subprocess.Popen[str], run_id: str) -> None:
        self.proc = proc
        self.run_id = run_id
        self.received: list[int] = []
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if self.proc.poll() is not None:
            return
        if len(self.received) == 1:
            print(f"stopping crawl {self.run_id} gracefully (resumable); {signal.Signals(signum).name} again stops "
                  "it at once", file=sys.stderr, flush=True)
            self.proc.send_signal(signum)
        else:
            print(f"stopping crawl {self.run_id} now", file=sys.stderr, flush=True)
            _kill_group(self.proc)

    def raise_if_stopped(self) -> None:
        if not self.received:
            return
        if self.received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signal.SIGTERM)


def preflight(index_url: str | None) -> None:
    """Fail before crawling, naming the path, when the data directory lacks space or the index is damaged."""
    home = paths.home()
    need_mb = float(os.environ.get("SOKHUND_MIN_FREE_MB", "100"))
    free_mb = shutil.disk_usage(home).free / 1e6
    if free_mb < need_mb:
        raise CrawlError(f"not enough free space in {home}: {free_mb:.0f} MB free, a crawl needs at least "
                         f"{need_mb:.0f} MB (SOKHUND_MIN_FREE_MB); nothing was crawled")
    url = index_url or os.environ.get("SOKHUND_INDEX_URL") or ""
    if url.startswith(("http://", "https://")):
        return
    from indexer.sqlite import SQLiteBackend

    path = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else Path(url or paths.index_path())
    if path.exists() and path.stat().st_size:
        backend = SQLiteBackend(path)
        try:
            backend.check_integrity()
        finally:
            backend.close()


def _read_progress(path: Any, offset: int, latest: dict[str, dict[str, Any]]) -> int:
    if not path.exists():
        return offset
    with path.open(encoding="utf-8") as fh:
        fh.seek(offset)
        for line in fh:
            if not line.endswith("\n"):
                break
            row = json.loads(line)
            latest[row["site"]] = row
            offset += len(line.encode("utf-8"))
    return offset


def _tail(path: Any, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _record_and_new_vendors(result: CrawlResult, index_url: str | None) -> list[str]:
    """Record the run and its coverage (crawler.coverage); the vendors first seen in this run on sites whose
    baseline (first complete crawl) came before it: on a baseline or partial first crawl nothing is new.
    An index that is down (the crawl spooled) answers none: the crawl itself went fine, and its documents
    reach the index when the spool replays."""
    from indexer.base import IndexError_, SearchFilters, open_backend

    backend = open_backend(index_url)
    try:
        record_run(backend, result.run_id, as_of=result.as_of, sites=result.sites, site_stats=result.stats,
                   coverage=result.coverage)
        baselines = coverage_baselines(backend, result.sites)
        found = []
        for site in result.sites:
            baseline = baselines.get(site)
            if baseline is None or baseline.as_of == result.as_of:
                continue
            for doc in backend.iter_docs("vendor", SearchFilters(site=site, extra={"first_seen": result.as_of})):
                found.append(doc["id"])
        return found
    except IndexError_ as exc:
        logging.getLogger(__name__).warning("new vendors of this run not counted: %s", exc)
        return []
    except Exception as exc:
        if not _disk_full(exc):
            raise
        # the crawl is over and its documents are in the index or its spool: say so, not a bare sqlite error
        message = (f"disk full: the run record of {result.run_id} and its new vendors could not be written to "
                   f"the index ({exc}); free space in {paths.home()} before the next crawl")
        logging.getLogger(__name__).error("%s", message)
        for site in result.sites:
            result.stats.setdefault(site, {})["disk_full"] = message
        result.ok = False
        return []
    finally:
        backend.close()


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC, or SQLite's SQLITE_FULL ("database or disk is full")."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in str(exc)
