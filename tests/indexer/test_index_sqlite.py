"""SQLite backend: the shared behaviour suite plus SQLite-specific guarantees (WAL, concurrency,
schema evolution, tokenizer)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.base import SearchFilters, open_backend
from indexer.sqlite import TOKENIZER, SQLiteBackend
from tests.index_behaviour import BackendBehaviour, corpus, listing


class TestSQLiteBehaviour(BackendBehaviour):
    @pytest.fixture()
    def backend(self, tmp_path: Path) -> Iterator[SQLiteBackend]:
        b = SQLiteBackend(tmp_path / "index.sqlite")
        yield b
        b.close()


def test_wal_mode_and_tokenizer(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    db = sqlite3.connect(tmp_path / "i.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'listing_fts'").fetchone()[0]
    assert TOKENIZER in sql and "remove_diacritics 2" in sql
    b.close()


def test_open_backend_sqlite_url(tmp_path: Path, sokhund_home: Path) -> None:
    b = open_backend(f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert isinstance(b, SQLiteBackend) and b.path == tmp_path / "x.sqlite"
    b.close()
    default = open_backend()
    assert isinstance(default, SQLiteBackend) and default.path == sokhund_home / "index.sqlite"
    default.close()


def test_reader_while_writer_holds_transaction(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    writer = SQLiteBackend(path)
    writer.upsert(corpus())
    reader = SQLiteBackend(path)
    assert reader.count("listing") == 6
    # hold a write transaction open in a raw connection, as a crawl mid-batch would
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("DELETE FROM listing")
    assert reader.count("listing") == 6  # readers see the last committed state, without waiting
    assert len(reader.search("listing", "kokain")) == 2
    raw.execute("ROLLBACK")
    raw.close()
    writer.close()
    reader.close()


def test_second_writer_waits_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    a = SQLiteBackend(path)
    b = SQLiteBackend(path, busy_timeout_ms=10_000)
    a.upsert(corpus())
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def write() -> None:
        b.upsert([listing("late", title="sent later")])
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert not done.wait(0.3)  # blocked on the lock
    raw.execute("COMMIT")
    t.join(5)
    assert done.is_set()
    assert a.count("listing") == 7
    raw.close()
    a.close()
    b.close()


def test_threads_share_one_backend(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "i.sqlite")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                b.upsert([listing(f"{n}-{i}", title=f"kokain {n}")])
                b.search("listing", "kokain")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert b.count("listing") == 80
    b.close()


def test_reopen_keeps_data_and_fts(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    b.close()
    again = SQLiteBackend(tmp_path / "i.sqlite")
    assert again.count("listing") == 6
    assert [h.doc["listing_id"] for h in again.search("listing", "hogsta")] == ["1"]
    again.close()


def test_missing_column_is_added_and_backfilled(tmp_path: Path) -> None:
    """A field added to a model later: the column appears and is filled from the stored JSON."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert(corpus())
    b.close()
    raw = sqlite3.connect(path)
    raw.execute("ALTER TABLE listing DROP COLUMN ships_from")
    raw.commit()
    raw.close()
    again = SQLiteBackend(path)
    assert again.count("listing", SearchFilters(ships_from="NL")) == 2
    again.close()


def test_empty_upsert_and_unknown_kind(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "i.sqlite")
    assert b.upsert([]) == 0
    with pytest.raises(ValueError, match="unknown document kind"):
        b.count("nonsense")
    with pytest.raises(ValueError, match="without an id"):
        b.upsert([listing("x", title="t").__class__(title="no id")])
    with pytest.raises(ValueError, match="invalid field name"):
        b.terms("listing", "site; DROP TABLE listing")
    b.close()


def test_bulk_upsert_is_fast(tmp_path: Path) -> None:
    import time

    b = SQLiteBackend(tmp_path / "i.sqlite")
    docs = [
        listing(
            str(i),
            title=f"Kokain {i} högsta kvalité",
            description="snabb leverans",
            vendor=f"v{i % 40}",
            substance="cocaine",
            price_sek=float(i % 900),
            ships_to=["SE"],
            last_seen="2024-03-04T10:00:00Z",
        )
        for i in range(10_000)
    ]
    # CPU time, not wall time: the target (>= 5,000 docs/s) must not fail because the machine is busy
    t0 = time.process_time()
    b.upsert(docs)
    rate = len(docs) / (time.process_time() - t0)
    assert b.count("listing") == 10_000
    assert rate >= 5_000, f"bulk upsert {rate:.0f} docs per CPU-second"
    b.close()
