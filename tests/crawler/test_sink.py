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
    sink = IndexSink(backend, spool, batch_size=10)

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
