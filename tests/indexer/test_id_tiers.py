"""The two id tiers of the SQLite index (new ids in a small tier merged into the big one in id order),
the migration of an index whose main table kept ``id UNIQUE``, and the write-path details that came with
them (NULLs bound through a registered adapter, the cycle collector paused during an upsert)."""

from __future__ import annotations

import gc
import random
import sqlite3
from pathlib import Path

import pytest

import indexer.sqlite as sqlite_index
from indexer.base import SearchFilters
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend
from tests.index_behaviour import corpus, listing


def _tiers(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    db = sqlite3.connect(path)
    try:
        big = dict(db.execute("SELECT id, rid FROM listing_ids").fetchall())
        small = dict(db.execute("SELECT id, rid FROM listing_ids_new").fetchall())
    finally:
        db.close()
    return big, small


def _docs(n: int, start: int = 0, version: int = 0) -> list[Listing]:
    return [listing(str(i), title=f"kokain v{version} nr{i}", vendor=f"v{i % 7}", ships_from="SE" if i % 3 else "NL",
                    ships_to=["SE"], price_sek=float(100 + i)) for i in range(start, start + n)]


def _check(b: SQLiteBackend, path: Path, expected: dict[str, str]) -> None:
    """Every stored id in exactly one tier, pointing at its own row; reads by id and in id order agree
    with ``expected`` (id -> title)."""
    big, small = _tiers(path)
    assert not set(big) & set(small)
    assert set(big) | set(small) == set(expected)
    main = dict(sqlite3.connect(path).execute("SELECT id, rid FROM listing").fetchall())
    assert {**big, **small} == main
    for doc_id in random.Random(3).sample(sorted(expected), min(40, len(expected))):
        got = b.get("listing", doc_id)
        assert got is not None and got["title"] == expected[doc_id]
    assert [d["id"] for d in b.iter_docs("listing")] == sorted(expected)  # pages of 1000 across both tiers
    assert [h.id for h in b.search("listing", None, limit=25)] == sorted(expected)[:25]
    assert b.count("listing") == len(expected)


def test_new_ids_wait_in_the_small_tier_and_are_merged_in_id_order(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_index, "ID_MERGE_MIN", 600)
    monkeypatch.setattr(sqlite_index, "ID_MERGE_BATCH", 1)  # sqrt(N) < 600 here: merges at 600 pending ids
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    expected: dict[str, str] = {}

    def write(docs: list[Listing]) -> None:
        b.upsert(docs)
        expected.update({d.id: d.title for d in docs})

    write(_docs(500))
    big, small = _tiers(path)
    assert not big and len(small) == 500  # below the threshold: nothing merged yet
    _check(b, path, expected)
    write(_docs(500, start=500))  # 1000 pending: merged at the end of this upsert
    big, small = _tiers(path)
    assert len(big) == 1000 and not small
    _check(b, path, expected)
    # replacements of documents in both tiers keep their rows; new ones go to the small tier
    write(_docs(300, start=1000))
    write(_docs(200, start=900, version=1) + _docs(200, start=1100, version=1) + _docs(1200, start=1300))
    big, small = _tiers(path)
    assert len(big) == 2500 and not small  # 1,500 pending after that upsert: merged
    write(_docs(100, start=2500))
    big, small = _tiers(path)
    assert len(big) == 2500 and len(small) == 100
    _check(b, path, expected)
    # deletes from either tier
    for doc_id in (sorted(big)[0], sorted(small)[-1]):
        b.delete("listing", doc_id)
        del expected[doc_id]
        assert b.get("listing", doc_id) is None
    _check(b, path, expected)
    # a filter on id reads the tiers, not a scan of the main table
    some = [sorted(expected)[5], sorted(expected)[-5]]
    assert sorted(h.id for h in b.search("listing", None, SearchFilters(extra={"id": some}))) == sorted(some)
    assert b.count("listing", SearchFilters(extra={"id": some[0]})) == 1
    b.close()
    again = SQLiteBackend(path)  # another process sees the same
    _check(again, path, expected)
    again.close()


def test_the_merge_threshold_grows_with_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqrt(documents * ID_MERGE_BATCH): with 2,000 documents and a batch of 2,000 the threshold is 2,000
    (not the minimum of 100), so 1,500 new ids stay in the small tier."""
    monkeypatch.setattr(sqlite_index, "ID_MERGE_MIN", 100)
    monkeypatch.setattr(sqlite_index, "ID_MERGE_BATCH", 2000)
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert(_docs(100))  # 100 pending >= max(100, sqrt(100 * 2000) = 447)? no
    assert len(_tiers(path)[1]) == 100
    b.upsert(_docs(400, start=100))  # 500 >= max(100, 1000)? no
    assert len(_tiers(path)[1]) == 500
    b.upsert(_docs(1500, start=500))  # 2000 >= 2000: merged
    big, small = _tiers(path)
    assert len(big) == 2000 and not small
    b.upsert(_docs(1500, start=2000))  # 1500 < sqrt(3500 * 2000) = 2645
    big, small = _tiers(path)
    assert len(big) == 2000 and len(small) == 1500
    b.close()


def test_an_index_whose_main_table_holds_unique_ids_is_split_into_tiers(tmp_path: Path) -> None:
    """Layout 3 before the tiers: ``id TEXT NOT NULL UNIQUE`` in the main table (an index SQLite cannot
    drop). Opened by this version, the main table is rebuilt without it, its indexes made again, the ids
    moved to the big tier; searches, filters and writes go on."""
    path = tmp_path / "old.sqlite"
    b = SQLiteBackend(path)
    b.upsert(corpus())
    b.close()
    raw = sqlite3.connect(path, isolation_level=None)
    cols = [r[1] for r in raw.execute("PRAGMA table_info(listing)")][2:]
    decl = ", ".join(f'"{r[1]}" {r[2]}' for r in raw.execute("PRAGMA table_info(listing)").fetchall()[2:])
    names = ", ".join(f'"{c}"' for c in cols)
    raw.executescript(f"""
        BEGIN;
        CREATE TABLE old (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, {decl});
        INSERT INTO old SELECT rid, id, {names} FROM listing;
        DROP TABLE listing; ALTER TABLE old RENAME TO listing;
        CREATE INDEX listing_substance_last_seen_price_sek ON listing(substance, last_seen, price_sek);
        DROP TABLE listing_ids; DROP TABLE listing_ids_new;
        COMMIT;""")
    assert any(r[2] for r in raw.execute("PRAGMA index_list(listing)"))
    raw.close()
    again = SQLiteBackend(path)
    assert again.count("listing") == 6
    indexes = {r[1]: r[2] for r in sqlite3.connect(path).execute("PRAGMA index_list(listing)")}
    assert not any(indexes.values())  # no unique index left
    assert any(name.startswith("listing_substance") for name in indexes)  # the date index made again
    big, small = _tiers(path)
    assert set(big) == {d.id for d in corpus()} and not small
    assert [h.doc["listing_id"] for h in again.search("listing", "hogsta")] == ["1"]
    assert again.count("listing", SearchFilters(ships_from="NL")) == 2
    assert again.terms("listing", "ships_to", size=3) == [("SE", 4), ("DE", 2), ("NO", 2)]
    again.upsert([listing("1", title="Kokain ny batch"), listing("7", title="Kokain igen")])
    assert {h.doc["listing_id"] for h in again.search("listing", "kokain")} == {"1", "3", "7"}
    assert again.count("listing") == 7
    _check(again, path, {d["id"]: d["title"] for d in again.iter_docs("listing")})
    again.close()


def test_none_and_bool_are_stored_as_null_and_integer(tmp_path: Path) -> None:
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert([listing("1", title="x", vendor=None, stock_unlimited=True, auto_dispatch=False)])
    row = sqlite3.connect(path).execute(
        "SELECT typeof(vendor), stock_unlimited, typeof(stock_unlimited), auto_dispatch FROM listing").fetchone()
    assert row == ("null", 1, "integer", 0)
    assert b.count("listing", SearchFilters(extra={"vendor": None})) == 1
    assert b.count("listing", SearchFilters(extra={"stock_unlimited": True})) == 1
    assert b.get("listing", listing("1").id)["vendor"] is None  # type: ignore[index]
    b.close()


def test_the_cycle_collector_is_paused_during_an_upsert_and_restored(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    b = SQLiteBackend(tmp_path / "i.sqlite")
    seen: list[bool] = []
    real = SQLiteBackend._upsert_kind

    def spy(self: SQLiteBackend, *args: object) -> None:
        seen.append(gc.isenabled())
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SQLiteBackend, "_upsert_kind", spy)
    assert gc.isenabled()
    b.upsert(corpus())
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        b.upsert(corpus())
        assert not gc.isenabled()
    finally:
        gc.enable()

    def boom(self: SQLiteBackend, *args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SQLiteBackend, "_upsert_kind", boom)
    with pytest.raises(Exception, match="disk I/O error"):
        b.upsert(corpus())
    assert gc.isenabled()  # restored after a failed upsert too
    b.close()


def test_fts_pending_terms_flush_once_per_bulk_statement(tmp_path: Path) -> None:
    """The FTS5 ``hashsize`` is raised, so a batch becomes one level-0 segment, not one per MiB."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert(_docs(10))
    config = dict(sqlite3.connect(path).execute("SELECT k, v FROM listing_fts_config").fetchall())
    assert config.get("hashsize") == sqlite_index.FTS_HASHSIZE
    b.close()
