"""SQLite backend: the shared behaviour suite plus SQLite-specific guarantees (WAL, concurrency,
schema evolution, tokenizer)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.base import IndexError_, SearchFilters, open_backend
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
    assert db.execute("PRAGMA page_size").fetchone()[0] == 16384  # a new index: documents fill its pages
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


def test_bulk_upsert_of_ten_thousand_in_one_call(tmp_path: Path) -> None:
    """One call, one transaction; every row, its text and its list elements arrive (speed is measured in
    benchmarks/index.py, not here)."""
    b = SQLiteBackend(tmp_path / "i.sqlite")
    docs = [
        listing(
            str(i),
            title=f"Kokain {i} högsta kvalité",
            description="snabb leverans",
            vendor=f"v{i % 40}",
            substance="cocaine",
            price_sek=float(i % 900),
            ships_to=["SE"] if i % 2 else ["SE", "NO"],
            last_seen="2024-03-04T10:00:00Z",
        )
        for i in range(10_000)
    ]
    assert b.upsert(docs) == 10_000
    assert b.count("listing") == 10_000
    assert b.terms("listing", "ships_to") == [("SE", 10_000), ("NO", 5_000)]
    assert [h.doc["listing_id"] for h in b.search("listing", '"kokain 4321"')] == ["4321"]
    assert b.terms("listing", "vendor", size=1) == [("v0", 250)]
    b.close()


def test_filters_on_text_and_list_fields_combine_with_search_and_terms(tmp_path: Path) -> None:
    """A filter on a free-text field lives in the doc table; a list filter in the list table: both join
    correctly with full-text search, list terms and histograms."""
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    title = SearchFilters(extra={"title": "Tjack amfetamin 10g"})
    assert [h.doc["listing_id"] for h in b.search("listing", "tjack", title)] == ["2"]
    assert b.terms("listing", "ships_to", title) == [("NO", 1), ("SE", 1)]
    assert b.date_histogram("listing", "last_seen", "week", title) == [("2024-03-04", 1, None)]
    both = SearchFilters(extra={"ships_to": "NO", "description": "Worldwide shipping from NL. Kokain, fishscale."})
    assert [h.doc["listing_id"] for h in b.search("listing", "kokain", both)] == ["3"]
    assert b.count("listing", both) == 1
    b.close()


def test_an_index_of_the_first_layout_is_migrated_in_place(tmp_path: Path) -> None:
    """Layout 1 (one table per kind, JSON inline, FTS kept by triggers) as earlier versions wrote it:
    opened by this version it answers the same questions, and writes go on."""
    import json

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(
        """
        CREATE TABLE listing (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL,
                              site TEXT, title TEXT, description TEXT, last_seen TEXT);
        CREATE VIRTUAL TABLE listing_fts USING fts5(title, description, content=listing, content_rowid='rid',
                                                    tokenize='unicode61 remove_diacritics 2');
        CREATE TRIGGER listing_ai AFTER INSERT ON listing BEGIN
          INSERT INTO listing_fts(rowid, title, description) VALUES (new.rid, new.title, new.description); END;
        CREATE TABLE sokhund_meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )
    for doc in corpus():
        data = doc.to_dict()
        raw.execute(
            "INSERT INTO listing (id, doc, site, title, description, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
            (data["id"], json.dumps(data), data["site"], data["title"], data["description"], data["last_seen"]),
        )
    raw.commit()
    raw.close()
    b = SQLiteBackend(path)
    assert b.count("listing") == 6
    assert [h.doc["listing_id"] for h in b.search("listing", "hogsta")] == ["1"]
    assert b.count("listing", SearchFilters(ships_from="NL")) == 2  # column backfilled from the JSON
    assert b.terms("listing", "ships_to", size=3) == [("SE", 4), ("DE", 2), ("NO", 2)]  # list table filled
    b.upsert([listing("7", title="Kokain ny batch", ships_to=["FI"])])
    assert {h.doc["listing_id"] for h in b.search("listing", "kokain")} == {"1", "3", "7"}
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "listing__v1" not in tables and {"listing", "listing_doc", "listing_list"} <= tables
    b.close()


def test_reupsert_keeps_fts_and_lists_in_step(tmp_path: Path) -> None:
    """Changed text replaces the old terms; unchanged text is left alone; list elements follow the doc."""
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    b.upsert([listing("1", title="Hasch från Marocko", ships_to=["FI"])])
    assert [h.doc["listing_id"] for h in b.search("listing", "hogsta")] == []
    assert {h.doc["listing_id"] for h in b.search("listing", "hasch")} == {"1", "4"}
    assert b.count("listing", SearchFilters(extra={"ships_to": "FI"})) == 1
    assert ("SE", 3) in b.terms("listing", "ships_to")  # listing 1 no longer ships to SE
    b.upsert(corpus()[1:2])  # the same document again
    assert [h.doc["listing_id"] for h in b.search("listing", "amfetamin")] == ["2"]
    b.delete("listing", corpus()[1].id)
    assert b.search("listing", "amfetamin") == [] and b.count("listing") == 5
    raw = sqlite3.connect(tmp_path / "i.sqlite")
    assert raw.execute("SELECT COUNT(*) FROM listing_list l LEFT JOIN listing t ON t.rid = l.rid "
                       "WHERE t.rid IS NULL").fetchone()[0] == 0
    b.close()


def test_rank_window_bounds_ranking_not_matching(tmp_path: Path) -> None:
    """Past the window, the most recently indexed matches are ranked; the count stays exact and a
    narrower query is ranked over everything."""
    b = SQLiteBackend(tmp_path / "i.sqlite", rank_window=5)
    b.upsert([listing(str(i), title="kokain" + (" kokain kokain" if i == 0 else ""), description="x")
              for i in range(12)])
    assert b.count("listing") == 12
    hits = b.search("listing", "kokain", limit=20)
    assert len(hits) == 5 and {h.doc["listing_id"] for h in hits} == {"7", "8", "9", "10", "11"}
    wide = SQLiteBackend(tmp_path / "i.sqlite", rank_window=100)
    assert wide.search("listing", "kokain", limit=1)[0].doc["listing_id"] == "0"  # the best match overall
    wide.close()
    b.close()


def test_rank_span_bounds_the_documents_read_unless_the_page_needs_more(tmp_path: Path) -> None:
    """A search ranks the matches among the newest ``rank_span`` documents when they fill its page (an
    older, better match is then not ranked) and reads the whole index when they do not; counts stay exact."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    # listing 0 is the best match (kokain three times), 1-29 are older filler, 30-39 the newest ten,
    # of which the even ones match
    b.upsert([listing("0", title="kokain kokain kokain", description="x")]
             + [listing(str(i), title="kokain" if i % 2 == 0 else "annat", description="x") for i in range(1, 40)])
    b.close()
    span = SQLiteBackend(path, rank_span=10)
    assert span.count("listing", query="kokain") == 20
    few = span.search("listing", "kokain", limit=5)  # the five newest matches fill the page
    assert sorted(h.doc["listing_id"] for h in few) == ["30", "32", "34", "36", "38"]
    many = span.search("listing", "kokain", limit=8)  # the span holds five: the whole index is read
    assert len(many) == 8 and many[0].doc["listing_id"] == "0"
    assert SQLiteBackend(path).search("listing", "kokain", limit=5)[0].doc["listing_id"] == "0"  # default span
    span.close()


def test_a_rank_setting_that_is_no_number_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOKHUND_SQLITE_RANK_SPAN", "250k")
    with pytest.raises(IndexError_, match=r"SOKHUND_SQLITE_RANK_SPAN='250k' is not a whole number"):
        SQLiteBackend(tmp_path / "i.sqlite")
    monkeypatch.setenv("SOKHUND_SQLITE_RANK_SPAN", "100_000")
    monkeypatch.setenv("SOKHUND_SQLITE_RANK_WINDOW", " ")
    b = SQLiteBackend(tmp_path / "i.sqlite")
    assert (b.rank_span, b.rank_window) == (100_000, 2_000)
    b.close()


def _scanned(b: SQLiteBackend) -> SQLiteBackend:
    """The same index answering every aggregation by scanning the documents (no roll-up)."""
    b._rollup_for = lambda *a, **k: None  # type: ignore[method-assign]
    return b


AGG_QUESTIONS = [
    ("terms", "site", None),
    ("terms", "substance", SearchFilters(ships_from="SE")),
    ("terms", "ships_to", SearchFilters(site="svmarket")),
    ("terms", "payment", None),
    ("terms", "vendor", SearchFilters(site="intlmarket")),
    ("terms", "substance_class", SearchFilters(date_from="2024-03-04", date_to="2024-03-10")),
    ("hist", "week", SearchFilters(substance="cocaine")),
    ("hist", "day", SearchFilters(site="svmarket", date_from="2024-03-02")),
    ("count", None, SearchFilters(site="svmarket", substance_class="stimulant")),
    ("count", None, SearchFilters(extra={"ships_from": None})),
]


def _answers(b: SQLiteBackend) -> list[object]:
    out: list[object] = []
    for what, arg, f in AGG_QUESTIONS:
        if what == "terms":
            out.append(b.terms("listing", str(arg), f, size=50))
        elif what == "hist":
            out.append([(k, n, round(s or 0, 6)) for k, n, s in
                        b.date_histogram("listing", "last_seen", str(arg), f, sum_field="price_sek")])
        else:
            out.append(b.count("listing", f))
    return out


def test_rollups_answer_as_a_scan_after_updates_and_deletes(tmp_path: Path) -> None:
    """Roll-ups follow every insert, change (a field moving to another value, a list losing an element,
    a value set to None) and delete: their answers equal those of a scan of the documents."""
    import random

    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    rng = random.Random(3)
    sites, subs = ["svmarket", "intlmarket"], [("cocaine", "stimulant"), ("cannabis", "cannabis"), (None, None)]

    def doc(i: int, v: int) -> object:
        sub, cls = rng.choice(subs)
        return listing(str(i), site=sites[i % 2], title=f"t{i} v{v}", substance=sub, substance_class=cls,
                       vendor=f"v{rng.randrange(5)}", ships_from=rng.choice(["SE", "NL", None]),
                       ships_to=rng.sample(["SE", "NO", "DE"], rng.randrange(0, 3)),
                       payment=rng.sample(["BTC", "XMR"], rng.randrange(0, 2)),
                       price_sek=rng.choice([None, 100.0, 250.5, 1200.0]),
                       last_seen=f"2024-03-{rng.randrange(1, 20):02d}T1{v % 10}:00:00Z")

    b.upsert([doc(i, 0) for i in range(60)])
    for v in range(1, 4):
        b.upsert([doc(i, v) for i in rng.sample(range(80), 30)])  # changes and some new ones
        for i in rng.sample(range(80), 5):
            b.delete("listing", listing(str(i)).id)
    b.upsert(corpus())
    routed = _answers(b)
    assert routed == _answers(_scanned(SQLiteBackend(path)))
    assert any(routed[0]) and routed[-2]  # the questions found something
    raw = sqlite3.connect(path)
    assert raw.execute('SELECT COUNT(*) FROM "listing_agg_vendor_site" WHERE "#n" <= 0').fetchone()[0] == 0
    b.close()


def _rollup_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    raw = sqlite3.connect(path)
    names = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%_agg_%'")]
    out = {n: [tuple(round(x, 6) if isinstance(x, float) else x for x in row)
               for row in raw.execute(f'SELECT * FROM "{n}" ORDER BY 1')] for n in names}
    raw.close()
    return out


def _rebuilt_rollup_rows(b: SQLiteBackend, path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The listing roll-ups rebuilt from the stored documents, as :func:`_rollup_rows` reads them."""
    layout = b._layout("listing")
    with b._write() as db:
        for rollup in layout.rollups:
            rollup.rebuild(db, layout)
    return _rollup_rows(path)


def test_rollups_kept_by_upserts_equal_rollups_rebuilt_from_the_documents(tmp_path: Path) -> None:
    """The upsert sums each batch's contributions in Python; a rebuild computes them in SQL from the
    stored documents. Row for row they agree, also for values that SQLite stores other than they were
    given (a number in a text field, a numeric string in a number field, a date that is no string)."""
    import random

    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    rng = random.Random(5)

    def doc(i: int, v: int) -> object:
        return listing(str(i), site=rng.choice(["svmarket", "intlmarket", 7]), title=f"t{i} v{v}",
                       substance=rng.choice(["cocaine", None, "mdma"]), vendor=rng.choice(["v1", "v2", None, 12]),
                       ships_from=rng.choice(["SE", "NL", None]), ships_to=rng.sample(["SE", "NO", "DE"], rng.randrange(3)),
                       price_sek=rng.choice([None, 100.0, 250.5, 3, "42", "17 kr", "x"]),
                       quantity_g=rng.choice([None, 1.5, 10]),
                       last_seen=rng.choice([f"2024-03-{rng.randrange(1, 20):02d}T10:00:00Z", None, "2024-03-05",
                                             20240306]))

    b.upsert([doc(i, 0) for i in range(50)])
    for v in range(1, 4):
        b.upsert([doc(i, v) for i in rng.sample(range(70), 25)])
        b.delete("listing", listing(str(rng.randrange(70))).id)
    kept = _rollup_rows(path)
    assert kept and all(kept.values())
    assert _rebuilt_rollup_rows(b, path) == kept
    b.close()


def test_rollups_serve_only_what_they_hold(tmp_path: Path) -> None:
    """A price range, a time-of-day bound or a field outside every roll-up goes to the documents."""
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    schema = b._ensure("listing")
    assert b._rollup_for(schema, SearchFilters(ships_from="SE"), target="substance") is not None
    assert b._rollup_for(schema, SearchFilters(date_from="2024-03-04"), histogram="last_seen") is not None
    for f, kw in [(SearchFilters(price_max=500), {"target": "substance"}),
                  (SearchFilters(date_from="2024-03-04T12:00:00Z"), {"histogram": "last_seen"}),
                  (SearchFilters(date_to="2024-03-04", date_field="first_seen"), {"target": "site"}),
                  (SearchFilters(extra={"escrow": "FE"}), {"target": "site"}),
                  (SearchFilters(extra={"ships_to": "NO"}), {"target": "ships_to"}),
                  (None, {"histogram": "first_seen"}), (None, {"target": "title"})]:
        assert b._rollup_for(schema, f, **kw) is None, (f, kw)
    assert b.terms("listing", "substance", SearchFilters(price_max=500)) == [("cannabis", 1), ("mdma", 1)]
    b.close()


def test_an_index_of_layout_2_gains_its_rollups(tmp_path: Path) -> None:
    """Layout 2 (no roll-ups, site/substance indexes) is migrated when first opened: the roll-ups are built
    from the stored documents and the indexes they replace are dropped."""
    path = tmp_path / "v2.sqlite"
    b = SQLiteBackend(path)
    b.upsert(corpus())
    b.close()
    raw = sqlite3.connect(path)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE name LIKE 'listing_agg%'").fetchall():
        raw.execute(f'DROP TABLE "{name}"')
    raw.execute("CREATE INDEX listing_site ON listing(site)")
    raw.execute('UPDATE listing_doc SET "#filters" = NULL')  # layout 2 had no filter tokens
    raw.execute("UPDATE sokhund_meta SET value = replace(value, '\"v\": 3', '\"v\": 2') WHERE key = 'listing_layout'")
    raw.commit()
    raw.close()
    again = SQLiteBackend(path)
    assert again.terms("listing", "ships_to", SearchFilters(site="svmarket")) == [("SE", 3), ("NO", 1)]
    assert again.date_histogram("listing", "last_seen", "month", sum_field="price_sek") == [
        ("2024-02-01", 1, 300.0), ("2024-03-01", 4, 3600.0), ("2024-04-01", 1, 150.0)]
    # the filter tokens were written for the stored documents: filtered searches find them
    assert [h.doc["listing_id"] for h in again.search("listing", "kokain", SearchFilters(ships_from="SE"))] == ["1"]
    assert [h.doc["listing_id"] for h in again.search(
        "listing", "kokain", SearchFilters(extra={"ships_to": "DE"}))] == ["3"]
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "listing_site" not in names and "listing_agg_vendor_site" in names
    again.close()


def test_a_rollup_change_rebuilds_the_rollups_only(tmp_path: Path) -> None:
    """An index whose stored layout differs from today's in its roll-ups only (an older set of summed
    fields) gets its roll-ups rebuilt from the documents when first opened; the FTS index and the list
    rows are kept as they are, not rebuilt (minutes at a million listings)."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert(corpus())
    want = _answers(b)
    b.close()
    raw = sqlite3.connect(path)
    raw.execute('DELETE FROM "listing_agg_vendor_site"')  # what a rebuild must bring back
    signature = json.loads(raw.execute("SELECT value FROM sokhund_meta WHERE key = 'listing_layout'").fetchone()[0])
    signature["rollups"] = [r + ["rating"] for r in signature["rollups"]]  # as if "rating" had been summed
    raw.execute("UPDATE sokhund_meta SET value = ? WHERE key = 'listing_layout'", (json.dumps(signature),))
    raw.commit()
    raw.close()
    again = SQLiteBackend(path)
    seen: list[str] = []
    again._db.set_trace_callback(seen.append)
    assert _answers(again) == want
    assert not any("'rebuild'" in s or "DELETE FROM \"listing_list\"" in s for s in seen), seen
    assert any("listing_agg_vendor_site" in s and "INSERT" in s for s in seen)
    assert [h.doc["listing_id"] for h in again.search("listing", "kokain", SearchFilters(ships_from="SE"))] == ["1"]
    again.close()


def test_sums_the_rollups_do_not_keep_are_summed_from_the_documents(tmp_path: Path) -> None:
    """A histogram summing a field outside ROLLUP_SUMS (a rating) is not answered from a roll-up but by
    reading the documents: the same buckets and sums as the scan, never zeros from a missing column."""
    from indexer.schema import ROLLUP_SUMS, schema_for

    assert "rating" not in ROLLUP_SUMS["listing"] and "price_sek" in ROLLUP_SUMS["listing"]
    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert([listing(str(i), title=f"t{i}", rating=[None, 4.5, 3.0][i % 3], price_sek=100.0 * i,
                      last_seen=f"2024-03-{1 + i % 20:02d}T10:00:00Z") for i in range(40)])
    schema = schema_for("listing")
    assert b._rollup_for(schema, None, histogram="last_seen", sum_field="rating") is None
    assert b._rollup_for(schema, None, histogram="last_seen", sum_field="price_sek") is not None
    scan = _scanned(SQLiteBackend(tmp_path / "i.sqlite"))
    for total in ("rating", "price_sek"):
        got = b.date_histogram("listing", "last_seen", "week", sum_field=total)
        assert got == scan.date_histogram("listing", "last_seen", "week", sum_field=total)
        assert sum(s or 0 for _, _, s in got) > 0
    b.close()


def test_filter_tokens_follow_changes_and_equal_sql_filters(tmp_path: Path) -> None:
    """Equality filters of a text search are FTS terms: a document whose vendor, site or ships_to changed
    is found under the new values only, and every filter answers as the SQL filter does."""
    import indexer.sqlite as sq

    b = SQLiteBackend(tmp_path / "i.sqlite")
    b.upsert(corpus())
    moved = corpus()[0]
    moved.vendor, moved.ships_to, moved.site = "NyVendor", ["FI"], "intlmarket"
    moved.id = corpus()[0].id  # same document, other values
    b.upsert([moved])
    find = lambda f: sorted(h.doc["listing_id"] for h in b.search("listing", "kokain", f))  # noqa: E731
    assert find(SearchFilters(vendor="NordiskKvalitet")) == []
    assert find(SearchFilters(vendor="NyVendor", site="intlmarket")) == ["1"]
    assert find(SearchFilters(extra={"ships_to": "SE"})) == ["3"] and find(SearchFilters(extra={"ships_to": "FI"})) == ["1"]
    questions = [SearchFilters(site="svmarket"), SearchFilters(ships_from=["SE", "NL"]),  # type: ignore[arg-type]
                 SearchFilters(extra={"ships_to": ["NO", "FI"]}), SearchFilters(substance="cocaine", price_max=1000),
                 SearchFilters(extra={"ships_from": None}), SearchFilters(vendor="DutchDirect", extra={"escrow": None})]
    tokened = [find(f) for f in questions]
    real = sq._token_filters
    sq._token_filters = lambda layout, f: ([], f)  # type: ignore[assignment]
    try:
        assert tokened == [find(f) for f in questions]
    finally:
        sq._token_filters = real
    assert any(tokened)
    b.close()


def test_vendor_filters_go_through_filter_tokens_and_the_old_vendor_index_is_dropped(tmp_path: Path) -> None:
    """Listings and feedback find a vendor's documents through the vendor's filter token in FTS, not a
    B-tree that every insert dirties at a random place; an index made by an earlier version is dropped
    when the index is opened, and vendor filters answer the same."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert([listing(str(i), vendor=f"v{i % 3}", title=f"t{i}") for i in range(30)])
    b.close()
    raw = sqlite3.connect(path)
    raw.execute('CREATE INDEX "listing_vendor" ON "listing"("vendor")')  # as layout 3 had it
    raw.commit()
    raw.close()
    b = SQLiteBackend(path)
    assert b.count("listing", SearchFilters(vendor="v1")) == 10
    assert b.count("listing", SearchFilters(vendor=["v1", "v2"])) == 20
    assert {h.doc["vendor"] for h in b.search("listing", None, SearchFilters(vendor="v2"), limit=50)} == {"v2"}
    assert b.count("listing", SearchFilters(vendor="nobody")) == 0
    raw = sqlite3.connect(path)
    names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "listing_vendor" not in names
    plan = " ".join(str(r) for r in raw.execute(
        'EXPLAIN QUERY PLAN SELECT COUNT(*) FROM "listing" t WHERE t.rid IN '
        '(SELECT rowid FROM "listing_fts" WHERE "listing_fts" MATCH \'x\') AND t.vendor IN (\'v1\')'))
    assert "SCAN t" not in plan  # rid lookups, not a scan of every listing
    raw.close()
    b.close()


def _statements(b: SQLiteBackend) -> list[str]:
    """The SQL statements ``b`` runs from now on."""
    seen: list[str] = []
    b._db.set_trace_callback(seen.append)
    return seen


def test_rare_and_absent_filter_values_are_listed_through_their_tokens(tmp_path: Path) -> None:
    """A filter-only search (or a query's substance alternative) whose value few documents hold reads
    them through their filter tokens instead of walking the id index; one no document holds reads
    nothing. Either way the documents are those (and in the order) the id walk lists."""
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert([listing(str(i), title=f"t{i}", vendor="rare" if i % 97 == 5 else f"v{i % 3}",
                      substance="cocaine" if i % 2 else "cannabis", ships_from=["SE", None, "NL"][i % 3])
              for i in range(600)])
    walk = _scanned(SQLiteBackend(path))
    questions = [SearchFilters(vendor="rare"), SearchFilters(vendor="rare", ships_from="SE"),
                 SearchFilters(vendor="rare", extra={"ships_from": None}), SearchFilters(vendor="v1"),
                 SearchFilters(substance="opioids"), SearchFilters(vendor=["rare", "v2"], site="svmarket")]
    for f in questions:
        for limit in (3, 50):
            assert [h.id for h in b.search("listing", None, f, limit=limit)] == [
                h.id for h in walk.search("listing", None, f, limit=limit)], (f, limit)
    sql = _statements(b)
    assert len(b.search("listing", None, SearchFilters(vendor="rare"), limit=5)) == 5
    assert any("MATCH" in s for s in sql)
    sql.clear()
    assert b.search("listing", None, SearchFilters(substance="opioids")) == []
    assert not any("listing_doc" in s for s in sql)  # counted in a roll-up: nothing to read
    walk.close()
    b.close()


def test_a_price_filtered_histogram_read_through_the_date_index_equals_the_scan(tmp_path: Path) -> None:
    """A histogram filtered on a substance and a price range (no roll-up holds prices) reads the matching
    rows through the (substance, last_seen, price_sek) index, grouped by SQLite: the buckets, counts and
    sums equal those of the scan of every document."""
    import random

    import indexer.sqlite as sq

    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    rng = random.Random(5)
    b.upsert([listing(str(i), title=f"t{i}", substance=rng.choice(["cocaine", "cannabis", None]),
                      price_sek=rng.choice([None, 90.0, 450.25, 5000.0, 7200.0]),
                      last_seen=rng.choice([f"2024-0{rng.randrange(1, 4)}-{rng.randrange(1, 28):02d}T10:00:00Z",
                                            None, "not a date"])) for i in range(400)])
    questions = [SearchFilters(substance="cocaine", price_max=5000.0), SearchFilters(substance=["cocaine", "cannabis"],
                 price_min=100.0), SearchFilters(extra={"substance": "cocaine"}, price_min=90.0, price_max=450.25)]
    scan = _scanned(SQLiteBackend(path))
    scan._date_ordered = lambda *a: False  # type: ignore[method-assign]
    sql = _statements(b)
    for f in questions:
        for interval in ("day", "month"):
            for total in (None, "price_sek"):
                got = b.date_histogram("listing", "last_seen", interval, f, sum_field=total)
                want = scan.date_histogram("listing", "last_seen", interval, f, sum_field=total)
                assert [(k, n, round(s or 0, 6)) for k, n, s in got] == [
                    (k, n, round(s or 0, 6)) for k, n, s in want], (f, interval, total)
                assert got
    assert any("GROUP BY" in s for s in sql)
    names = {r[1] for r in sqlite3.connect(path).execute("PRAGMA index_list(listing)")}
    assert sq._date_index_name("listing", sq.DATE_INDEXES["listing"][0]) in names
    scan.close()
    b.close()


def _ranking(b: SQLiteBackend, query: str, f: SearchFilters | None = None) -> list[tuple[str, float]]:
    return [(h.doc["listing_id"], round(h.score, 9)) for h in b.search("listing", query, f, limit=400)]


def test_given_document_frequencies_rank_as_bm25(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sokhund_bm25 (document frequencies given by the caller) scores exactly as FTS5's bm25() on an index
    small enough to count them; on a larger one (sampled frequencies) it finds the same documents, and a
    single-word query keeps bm25's order."""
    import random

    import indexer.sqlite as sq
    from indexer import fts_rank

    assert fts_rank.available()  # cc and the SQLite headers are installed here (tools/setup.sh)
    path = tmp_path / "i.sqlite"
    rng = random.Random(9)
    words = "kokain snabb leverans bitcoin brev ren stark rabatt".split()
    SQLiteBackend(path).upsert([
        listing(str(i), title=" ".join(rng.choices(words, k=rng.randrange(1, 4))),
                description=" ".join(rng.choices(words, k=rng.randrange(3, 30))),
                ships_from=rng.choice(["SE", "NL"]), substance=rng.choice(["cocaine", None]))
        for i in range(300)])
    fast = SQLiteBackend(path)
    plain = SQLiteBackend(path)
    plain._given_dfs = False  # FTS5's own bm25()
    questions = [("kokain", None), ("snabb leverans", SearchFilters(ships_from="SE")), ('"snabb leverans"', None),
                 ("brev rabatt*", SearchFilters(site="svmarket", price_max=100.0)), ("kokain bitcoin", None)]
    for q, f in questions:
        assert _ranking(fast, q, f) == _ranking(plain, q, f), q
    monkeypatch.setattr(sq, "DF_SAMPLE", 100)  # the newest 100 documents estimate the frequencies
    for q, f in questions:
        assert {d for d, _ in _ranking(fast, q, f)} == {d for d, _ in _ranking(plain, q, f)}, q
    assert [d for d, _ in _ranking(fast, '"bitcoin"')] == [d for d, _ in _ranking(plain, '"bitcoin"')]
    sql = _statements(fast)
    again = _ranking(fast, "kokain bitcoin")
    assert again == _ranking(fast, "kokain bitcoin") and not any("AND rowid > " in s for s in sql)  # remembered
    fast.close()
    plain.close()


def test_a_bulk_upsert_written_in_parts_keeps_rollups_text_and_ids_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """New documents are written in parts whose roll-ups a worker thread groups while the next part's
    rows are built: with parts of 7, batches that mix replaced and new documents still leave roll-ups
    equal to a rebuild, every document findable by its text and its id, and counts exact."""
    import random

    import indexer.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "WRITE_PART", 7)
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    rng = random.Random(11)

    def doc(i: int, v: int) -> object:
        return listing(str(i), title=f"word{i} version{v}", substance=rng.choice(["cocaine", "mdma"]),
                       vendor=rng.choice(["v1", "v2", "v3"]), ships_from=rng.choice(["SE", "NL"]),
                       ships_to=rng.sample(["SE", "NO", "DE"], rng.randrange(3)),
                       price_sek=rng.choice([None, 100.0, 250.5]), last_seen=f"2024-03-{rng.randrange(1, 20):02d}T10:00:00Z")

    b.upsert([doc(i, 0) for i in range(40)])
    b.upsert([doc(i, 1) for i in range(30, 75)])  # 10 replaced, 35 new: five new parts
    assert b.count("listing") == 75
    for i in (0, 39, 40, 74):
        assert b.get("listing", listing(str(i)).id) is not None
        assert [h.id for h in b.search("listing", f"word{i}")] == [listing(str(i)).id]
    assert b.count("listing", query="version1") == 45 and b.count("listing", query="version0") == 30
    kept = _rollup_rows(path)
    assert _rebuilt_rollup_rows(b, path) == kept
    b.close()


def test_a_part_that_fails_rolls_the_whole_upsert_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the worker's roll-ups of a later part fails the upsert with the index as it was, and
    the next upsert works (the worker is not left holding the connection)."""
    import indexer.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "WRITE_PART", 5)
    path = tmp_path / "i.sqlite"
    b = SQLiteBackend(path)
    b.upsert([listing(str(i), title="first", ships_to=["SE"]) for i in range(3)])
    before = {k: v for k, v in _rollup_rows(path).items() if k.startswith("listing")}
    calls = []
    real = sqlite_module._add_rollups

    def failing(db: sqlite3.Connection, layout: object, span: tuple[int, int]) -> None:
        calls.append(span)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        real(db, layout, span)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite_module, "_add_rollups", failing)
    with pytest.raises(IndexError_, match="disk I/O error"):
        b.upsert([listing(str(i), title="second", ships_to=["NO"]) for i in range(3, 20)])
    assert b.count("listing") == 3 and b.count("listing", query="second") == 0
    assert {k: v for k, v in _rollup_rows(path).items() if k.startswith("listing")} == before
    monkeypatch.setattr(sqlite_module, "_add_rollups", real)
    assert b.upsert([listing(str(i), title="third") for i in range(3, 20)]) == 17
    assert b.count("listing") == 20 and b.count("listing", query="third") == 17
    b.close()
