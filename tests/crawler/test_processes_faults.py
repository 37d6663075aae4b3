"""Processes and faults, with real processes and hostile servers on 127.0.0.1: the worker dies with its
parent, one Ctrl-C is a graceful stop, SIGTERM is honoured while waiting for a dead tor, a site is
crawled by one process at a time, exit codes tell the truth, bad run ids and damaged indexes are refused,
and a silent drip server costs one deadline per page."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.runner import CrawlError, run_crawl, unfinished_run
from indexer.base import IndexError_, open_backend
from tests.crawler.test_sink import _listings

ROOT = Path(__file__).resolve().parents[2]


class _Drip(BaseHTTPRequestHandler):
    """Answers 200, then one byte every half second for as long as the client stays."""

    hits: Counter = Counter()
    stop = threading.Event()

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        try:
            while not self.stop.wait(0.5):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def drip() -> Iterator[str]:
    _Drip.hits = Counter()
    _Drip.stop = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Drip.stop.set()
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``sokhund …`` as a terminal starts it: in a session (process group) of its own."""
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _worker_pid(home: Path, site: str, within: float = 60) -> int:
    lock = home / "jobs" / site / ".lock"
    for _ in range(int(within * 10)):
        text = lock.read_text().strip() if lock.exists() else ""
        if text.isdigit() and _alive(int(text)):
            return int(text)
        time.sleep(0.1)
    raise AssertionError(f"no crawl worker holds {lock}")


def _gone(pid: int, within: float = 60) -> bool:
    for _ in range(int(within * 10)):
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _wait_for(path: Path, text: str, within: float = 60) -> None:
    for _ in range(int(within * 10)):
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_second_crawl_of_a_site_is_refused_and_the_worker_dies_with_its_parent(sokhund_home: Path, drip: str) -> None:
    # A short page deadline: the orphaned worker's graceful stop need not wait 60 s for the drip to end.
    env = {"SOKHUND_SITE_FLUGSVAMP_URL": drip, "SOKHUND_PAGE_DEADLINE": "8"}
    first = _cli("crawl", "flugsvamp", "--run-id", "first", env=env)
    try:
        worker = _worker_pid(sokhund_home, "flugsvamp")
        second = _cli("crawl", "flugsvamp", "--new", env=env)
        out, err = second.communicate(timeout=120)
        assert second.returncode != 0
        assert f"already being crawled by PID {worker}" in err
        first.kill()  # SIGKILL: the parent cannot pass anything on
        first.wait(30)
        assert _gone(worker), "the crawl worker kept crawling after its parent died"
    finally:
        if first.poll() is None:
            first.kill()


def test_sigterm_is_honoured_while_waiting_for_a_dead_tor(sokhund_home: Path) -> None:
    env = {"SOKHUND_TOR_SOCKS": f"127.0.0.1:{_free_port()}", "SOKHUND_TOR_CONTROL": ""}
    cli = _cli("crawl", "flugsvamp", "--tor", "--run-id", "t1", env=env)
    try:
        worker = _worker_pid(sokhund_home, "flugsvamp")
        _wait_for(sokhund_home / "runs" / "t1" / "crawl.log", "Tor route is down")
        cli.send_signal(signal.SIGTERM)
        cli.wait(90)
        assert cli.returncode == 128 + signal.SIGTERM
        assert _gone(worker, within=10)
        assert "Received SIGTERM, shutting down gracefully" in (sokhund_home / "runs" / "t1" / "crawl.log").read_text()
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)


@pytest.mark.slow
def test_one_ctrl_c_is_a_graceful_stop_that_resumes(sokhund_home: Path) -> None:
    from cli.demo import _site_env
    from testbed.server import Testbed

    tb = Testbed(seed=5, state_dir=sokhund_home / "testbed", prehistory_days=7)  # fewer feedback pages
    tb.start()
    try:
        env = _site_env(tb.urls, tb.session_cookies)
        cli = _cli("crawl", "flugsvamp", "--run-id", "c1", "--as-of", "2026-09-01T12:00:00+00:00", env=env)
        progress = sokhund_home / "runs" / "c1" / "progress.jsonl"
        _wait_for(progress, '"pages": 3')
        os.killpg(cli.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
        cli.wait(120)
        assert cli.returncode == 130
        log = (sokhund_home / "runs" / "c1" / "crawl.log").read_text()
        assert "Received SIGINT, shutting down gracefully" in log
        assert "unclean shutdown" not in log and "SIGTERM" not in log
        assert unfinished_run("flugsvamp") == "c1"
        os.environ.update(env)
        result = run_crawl(["flugsvamp"], as_of="2026-09-01T12:00:00+00:00", run_id="c1")
        assert result.ok
    finally:
        tb.stop()


def test_a_site_that_is_down_fails_with_a_readable_error(sokhund_home: Path) -> None:
    cli = _cli("crawl", "flugsvamp", "--run-id", "down", env={"SOKHUND_SITE_FLUGSVAMP_URL":
                                                             f"http://127.0.0.1:{_free_port()}"})
    out, err = cli.communicate(timeout=180)
    err = " ".join(err.split())  # rich wraps long lines
    assert cli.returncode != 0
    assert "failed: reached no page" in err and "refused" in err.lower()
    assert "twisted.python.failure.Failure" not in err + out
    assert unfinished_run("flugsvamp") is None  # nothing worth resuming: the next crawl starts afresh


def test_page_deadline_covers_retries(sokhund_home: Path, drip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKHUND_SITE_FLUGSVAMP_URL", drip)
    result = run_crawl(["flugsvamp"], run_id="drip", settings={"SOKHUND_PAGE_DEADLINE": 2, "RETRY_TIMES": 3})
    assert not result.ok
    assert _Drip.hits["/"] == 1, f"the page was tried {_Drip.hits['/']} times past its deadline"


def test_run_id_cannot_leave_the_data_directory(sokhund_home: Path) -> None:
    for bad in ("../../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(ValueError, match="invalid run id"):
            run_crawl(["flugsvamp"], run_id=bad or "/abs")
    assert not (sokhund_home.parent / "x").exists()


def test_damaged_index_is_refused_at_start_with_its_file(sokhund_home: Path) -> None:
    backend = open_backend()
    backend.upsert(_listings(3000))
    backend.close()
    index = sokhund_home / "index.sqlite"
    page = sqlite3.connect(index).execute("PRAGMA page_size").fetchone()[0]
    pristine = index.read_bytes()
    with index.open("r+b") as fh:
        fh.seek(page * 3)
        fh.write(b"\0" * page * 5)  # zeroed pages: found by the quick check at the crawl's start
    with pytest.raises(IndexError_, match=f"{index}.*damaged"):
        run_crawl(["flugsvamp"], run_id="r1")
    index.write_bytes(pristine)
    with index.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\0" * (page - 100))  # the schema page: found when the index is opened
    with pytest.raises(IndexError_, match=f"{index}.*damaged"):
        run_crawl(["flugsvamp"], run_id="r1")
    with index.open("r+b") as fh:
        fh.write(b"\0" * 100)  # the header too: "file is not a database"
    with pytest.raises(IndexError_, match=str(index)):
        run_crawl(["flugsvamp"], run_id="r1")


def test_not_enough_space_fails_before_crawling_with_path_and_need(sokhund_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.faults import tiny_disk

    with tiny_disk(sokhund_home / "small", 512) as disk:
        monkeypatch.setenv("SOKHUND_HOME", str(disk))
        with pytest.raises(CrawlError, match=f"not enough free space in {disk}.*needs at least 100 MB"):
            run_crawl(["flugsvamp"], run_id="r1")
