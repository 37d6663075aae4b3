"""The crawl's index sink: an index that goes down mid-crawl loses nothing.

"Down" is real here: another connection holds SQLite's exclusive lock, so writes fail with
"database is locked" until it lets go."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crawler.sink import IndexSink
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend


def _listings(n: int, start: int = 0) -> list[Listing]:
    return [Listing(id=Listing.make_id("s", str(i)), site="s", listing_id=str(i), title=f"Hasch {i} g") for i in range(start, start + n)]


def test_locked_index_spools_then_replays(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    spool = tmp_path / "spool" / "run.jsonl"
    backend = SQLiteBackend(db, busy_timeout_ms=50)
    backend.upsert(_listings(1))  # create the schema
    sink = IndexSink(backend, spool, batch_size=10, retry_interval=0)  # try the index again on every batch

    blocker = sqlite3.connect(db, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    sink.add(_listings(10, start=1))  # hits the batch size: the write fails, then spools
    assert spool.exists() and len(spool.read_text().splitlines()) == 10
    blocker.rollback()
    blocker.close()

    sink.add(_listings(5, start=11))
    sink.close()  # flushes the new docs
    written = {int(d["listing_id"]) for d in SQLiteBackend(db).iter_docs("listing")}
    assert written == {0, 11, 12, 13, 14, 15}  # 1..10 wait in the spool

    # the next sink (the next crawl) replays the spool before anything else
    backend2 = SQLiteBackend(db)
    IndexSink(backend2, tmp_path / "spool" / "next.jsonl").close()
    ids = sorted(int(d["listing_id"]) for d in SQLiteBackend(db).iter_docs("listing"))
    assert ids == list(range(16))
    assert not spool.exists()


def test_replay_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    spool = tmp_path / "spool" / "a.jsonl"
    spool.parent.mkdir()
    backend = SQLiteBackend(db)
    sink = IndexSink(backend, spool)
    sink._spool(_listings(3))  # as if a previous crawl had spooled them
    sink._spool(_listings(3))  # twice: the same facts spooled by two attempts
    sink.replay_spool()
    assert SQLiteBackend(db).count("listing") == 3


class _CountingBackend(SQLiteBackend):
    """The real SQLite backend, counting write attempts."""

    attempts = 0

    def upsert(self, docs):  # type: ignore[no-untyped-def]
        self.attempts += 1
        return super().upsert(docs)


def test_index_that_stays_down_is_detected_once_then_spooled_at_full_speed(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    SQLiteBackend(db).upsert(_listings(1))
    backend = _CountingBackend(db, busy_timeout_ms=20)
    spool = tmp_path / "spool" / "run.jsonl"
    sink = IndexSink(backend, spool, batch_size=5, retry_interval=3600)
    blocker = sqlite3.connect(db, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")  # locked for the whole crawl
    try:
        for start in range(1, 101, 5):
            sink.add(_listings(5, start=start))
        assert backend.attempts <= 3  # the first batch found it down; the 19 others went straight to the spool
        assert len(spool.read_text().splitlines()) == 100
    finally:
        blocker.rollback()
        blocker.close()
    sink.close()
    IndexSink(SQLiteBackend(db), tmp_path / "spool" / "next.jsonl").close()  # the next run replays it
    assert SQLiteBackend(db).count("listing") == 101


def test_torn_last_spool_line_is_quarantined_and_the_rest_replayed(tmp_path: Path, caplog) -> None:
    db = tmp_path / "index.sqlite"
    spool = tmp_path / "spool" / "old.jsonl"
    sink = IndexSink(SQLiteBackend(db), spool)
    sink._spool(_listings(4))
    sink.close()
    whole = spool.read_text(encoding="utf-8")
    spool.write_text(whole + whole.splitlines()[0][:37], encoding="utf-8")  # a crash mid-write
    with caplog.at_level("WARNING"):
        nxt = IndexSink(SQLiteBackend(db), tmp_path / "spool" / "new.jsonl")
    nxt.close()
    assert SQLiteBackend(db).count("listing") == 4
    assert nxt.quarantined == 1 and not spool.exists()
    [bad] = (tmp_path / "spool" / "quarantine").iterdir()
    assert bad.read_text(encoding="utf-8") == whole.splitlines()[0][:37] + "\n"
    assert "skipped 1 unreadable line" in caplog.text and str(bad) in caplog.text


def test_full_disk_keeps_every_document_and_never_tears_the_spool(tmp_path: Path) -> None:
    from tests.faults import fill, tiny_disk

    with tiny_disk(tmp_path / "disk", 256) as disk:
        db = tmp_path / "index.sqlite"
        SQLiteBackend(db).upsert(_listings(1))
        blocker = sqlite3.connect(db, timeout=0.1)
        blocker.execute("BEGIN EXCLUSIVE")  # the index is down, so documents go to the spool on the tiny disk
        spool = disk / "spool" / "run.jsonl"
        sink = IndexSink(SQLiteBackend(db, busy_timeout_ms=20), spool, batch_size=50, retry_interval=3600)
        sink.add(_listings(50, start=1))
        spooled = spool.read_text(encoding="utf-8")
        filler = fill(disk, leave_bytes=2000)
        sink.add(_listings(50, start=51))  # does not fit: kept in memory, the spool keeps whole lines only
        assert sink.disk_full and str(spool) in sink.disk_full and "MB" in sink.disk_full
        assert spool.read_text(encoding="utf-8") == spooled
        filler.unlink()  # the analyst frees space
        blocker.rollback()
        blocker.close()
        sink.close()  # the kept documents reach the spool now
        IndexSink(SQLiteBackend(db), disk / "spool" / "next.jsonl").close()
        assert SQLiteBackend(db).count("listing") == 101  # data lost: 0
