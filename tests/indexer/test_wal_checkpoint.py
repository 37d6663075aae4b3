"""Background WAL checkpoints of the embedded index: they copy the WAL back while the writer goes on,
start only for a backend that writes, end when idle or closed, and a failing one breaks no write."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.index import iter_listings
from indexer.base import SearchFilters
from indexer.sqlite import SQLiteBackend
from indexer.wal_checkpoint import WalCheckpointer


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _threads_for(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"wal-checkpoint {path}" and t.is_alive()]


def _load(backend: SQLiteBackend, batches: int, size: int, *, settle: bool) -> None:
    checkpointer = backend._checkpointer
    for b in range(batches):
        before = checkpointer.checkpoints if checkpointer else 0
        backend.upsert(iter_listings((b + 1) * size, start=b * size, span=batches * size))
        if settle:  # the next commit restarts the WAL once a checkpoint has copied all of it
            assert checkpointer is not None
            assert _until(lambda before=before: checkpointer.checkpoints > before and checkpointer.last is not None
                          and checkpointer.last[0] == checkpointer.last[1] > 0)


@pytest.mark.parametrize("background", [True, False])
def test_background_checkpoints_bound_the_wal_when_the_writer_never_checkpoints(tmp_path: Path,
                                                                                background: bool) -> None:
    path = tmp_path / f"index-{background}.sqlite"
    backend = SQLiteBackend(path, background_checkpoints=background)
    backend._db.execute("PRAGMA wal_autocheckpoint = 0")  # no backstop: only the thread can copy pages back
    _load(backend, batches=8, size=300, settle=background)
    wal_bytes = Path(f"{path}-wal").stat().st_size
    one_batch = 300 * 2_000  # a batch writes well over 2 kB a listing to the WAL
    if background:
        assert wal_bytes < 3 * one_batch * 2, wal_bytes  # about one batch's pages, reused
    else:
        assert wal_bytes > 8 * one_batch, wal_bytes  # every batch appended: what the thread prevents
    assert backend.count("listing") == 2_400
    backend.check_integrity()
    backend.close()
    reopened = SQLiteBackend(path)
    assert reopened.count("listing", SearchFilters(site="svmarket")) == sum(
        d.site == "svmarket" for d in iter_listings(2_400))
    reopened.close()


def test_a_backend_that_only_reads_starts_no_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    writer = SQLiteBackend(path)
    writer.upsert(iter_listings(200))
    assert writer._checkpointer is not None and writer._checkpointer.running
    writer.search("listing", "bitcoin")  # a first search creates the (empty) vendor tables it reads names from
    writer.close()
    assert not _threads_for(path)  # close stops it

    reader = SQLiteBackend(path, must_exist=True)
    assert reader.count("listing") == 200 and reader.search("listing", "bitcoin")
    assert reader._checkpointer is not None and not reader._checkpointer.running
    assert not _threads_for(path)
    reader.close()


def test_the_thread_ends_when_idle_and_a_later_commit_starts_another(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    backend = SQLiteBackend(path)
    assert backend._checkpointer is not None
    backend._checkpointer.idle_s = 0.2
    backend.upsert(iter_listings(100))
    assert backend._checkpointer.running
    assert _until(lambda: not _threads_for(path), 5.0)  # an unclosed, idle backend holds no thread
    backend.upsert(iter_listings(200, start=100))
    assert backend._checkpointer.running
    done = backend._checkpointer.checkpoints
    assert _until(lambda: backend._checkpointer.checkpoints > done)
    backend.close()
    assert not _threads_for(path)
    assert SQLiteBackend(path).count("listing") == 200


def test_a_checkpoint_that_cannot_run_is_logged_once_and_loses_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "not-a-database"
    folder.mkdir()
    checkpointer = WalCheckpointer(folder)  # SQLite cannot open a folder
    with caplog.at_level(logging.WARNING, logger="indexer.wal_checkpoint"):
        for _ in range(3):
            checkpointer.poke()
            assert _until(lambda: not checkpointer.running, 5.0)
    assert checkpointer.last_error and checkpointer.checkpoints == 0
    assert sum("background checkpoint" in r.getMessage() for r in caplog.records) == 1
    checkpointer.close()
    checkpointer.poke()  # closed: starts nothing
    assert not checkpointer.running


def test_background_checkpoints_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKHUND_SQLITE_BACKGROUND_CHECKPOINTS", "0")
    path = tmp_path / "index.sqlite"
    backend = SQLiteBackend(path)
    backend.upsert(iter_listings(100))
    assert backend._checkpointer is None and not _threads_for(path)
    backend.close()
    monkeypatch.setenv("SOKHUND_SQLITE_BACKGROUND_CHECKPOINTS", "1")
    backend = SQLiteBackend(path)
    backend.upsert(iter_listings(200, start=100))
    assert backend._checkpointer is not None and _threads_for(path)
    backend.close()
