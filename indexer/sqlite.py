"""The embedded index: SQLite in WAL mode with FTS5, laid out for a million listings.

Tables, one set per document kind (``listing``, ``vendor`` …):

* ``<kind>``: ``rid INTEGER PRIMARY KEY``, ``id TEXT UNIQUE`` (the deterministic document id) and one
  column per scalar, non-text model field (site, vendor, substance, price_sek, dates …). Filters, terms
  and histograms scan only this narrow table: the JSON and the long texts are elsewhere, so a scan
  reads ~200 bytes a row instead of the whole document.
* ``<kind>_doc``: ``rid`` → the full JSON document plus the free-text fields; the content table of
* ``<kind>_fts``: external-content FTS5 over the free-text fields. It is written in bulk by the upsert
  itself, not by triggers: an FTS5 write inside a per-row trigger flushes its pending segment every row
  (three times slower), and a re-upserted document whose text did not change costs no FTS work at all.
* ``<kind>_list``: ``(field, value, rid)`` for the elements of list fields (``ships_to``, ``payment`` …),
  so element-wise filters and terms are index lookups instead of ``json_each`` over every document.

Ranking: bm25 (title weighs more than description …). bm25 has to score every match, ~1.3 µs each; a
query that matches most of a million-listing index (``bitcoin``) would take a second. So when a query
matches more than ``rank_window`` documents (default 20,000, ``$SOKHUND_SQLITE_RANK_WINDOW``), only the
most recently indexed ``rank_window`` matches are ranked; ``count`` stays exact. Narrower queries, and
every query on a smaller index, are ranked over all matches exactly as before.

Tokenizer: ``unicode61 remove_diacritics 2``: case folding plus diacritic folding, so ``högsta``,
``Högsta`` and ``hogsta`` all match each other, as do ``kvalité``/``kvalite``. Sellers and forum posters
often type Swedish without å/ä/ö (foreign keyboards, phones, transliteration) and analysts need both
spellings; the cost is that a few Swedish minimal pairs (``får``/``far``) collide, which bm25 ranking
and the Elasticsearch backend (asciifolding with ``preserve_original``) tolerate the same way. Mode 2
(rather than 1) also folds letters carrying several diacritics.

Concurrency: WAL lets any number of readers (the CLI, analytics, other processes) read while one
crawl writes; ``busy_timeout`` makes a second writer wait instead of failing. Writes take the lock up
front (``BEGIN IMMEDIATE``) and a whole bulk upsert is one transaction.

Layout versions: an index written by an earlier version (one table per kind with the JSON inline and
FTS triggers) is migrated in place the first time a kind is opened for writing or reading.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson

from indexer.base import IndexError_, SearchFilters, SearchHit
from indexer.models import ALL_KINDS, Document
from indexer.query import (
    Clause,
    Term,
    check_interval,
    date_bounds,
    expand_terms,
    field_alternatives,
    fts5_expression,
    parse_query,
    with_field_values,
)
from indexer.schema import KindSchema, check_field, schema_for

TOKENIZER = "unicode61 remove_diacritics 2"
SCHEMA_VERSION = 2
INDEXED_COLUMNS = ("site", "vendor", "substance")
RANK_WINDOW = 20_000
_SQL_TYPES = {"str": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "INTEGER"}
_CHUNK = 900  # ids per IN (...) lookup, well under SQLite's variable limit


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_PLAIN = (str, int, float, bool)


def _column_value(value: Any) -> Any:
    if value is None or type(value) in _PLAIN:
        return value  # bool is an int
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _element(value: Any) -> Any:
    """A list element as ``json_each`` shows it: scalars as themselves, objects and arrays as minified JSON."""
    if value is None or type(value) in _PLAIN:
        return int(value) if isinstance(value, bool) else value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _getter(names: list[str]) -> Any:
    """A C-level reader of ``names`` that always returns a tuple (attrgetter returns a bare value for one)."""
    if not names:
        return lambda doc: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda doc: (one(doc),)
    return attrgetter(*names)


def _bindable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every value SQLite cannot bind (a list or dict in a scalar field) stored as JSON."""
    return [tuple(_column_value(v) for v in row) for row in rows]


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Layout:
    """Where each field of a kind lives: main table column, doc-table text column, list table or JSON only."""

    def __init__(self, schema: KindSchema) -> None:
        self.kind = schema.kind
        self.text = [n for n in schema.text_fields if n in schema.fields]
        self.main = [c for c in schema.scalar_fields if c.name not in schema.text_fields]
        self.lists = [f.name for f in schema.fields.values() if f.kind == "list"]
        self.t, self.d = _q(self.kind), _q(f"{self.kind}_doc")
        self.fts, self.lst = _q(f"{self.kind}_fts"), _q(f"{self.kind}_list")
        self.weights = ", ".join(str(schema.text_fields[n]) for n in self.text)
        self._main = _getter([c.name for c in self.main])
        self._text = _getter(self.text)

    def values(self, doc: Document) -> tuple[tuple[Any, ...], tuple[Any, ...], list[tuple[str, Any]], str]:
        """(main-table values, text values, list fields, JSON) of a document, in one pass.

        orjson serialises the dataclass itself (its fields, in order: what ``doc_to_dict`` gives) about
        ten times faster than ``json.dumps``, and ``attrgetter`` reads the columns in C; a class with
        its own ``to_dict`` is read from that. Values that SQLite cannot bind are converted by
        :func:`_bindable` only when a batch needs it."""
        if type(doc).to_dict is Document.to_dict:
            return (self._main(doc), self._text(doc), [(n, getattr(doc, n)) for n in self.lists],
                    orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode())
        data = doc.to_dict()
        return (tuple(data.get(c.name) for c in self.main), tuple(data.get(n) for n in self.text),
                [(n, data.get(n)) for n in self.lists], orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode())

    def signature(self) -> str:
        return json.dumps({"v": SCHEMA_VERSION, "text": self.text, "lists": self.lists, "tok": TOKENIZER})


class SQLiteBackend:
    """SQLite + FTS5 implementation of :class:`indexer.base.IndexBackend`."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000, rank_window: int | None = None,
                 must_exist: bool = False) -> None:
        self.path = Path(path)
        # a 0-byte file (a failed copy, `> index.sqlite`) is no index either: SQLite would make it a new one
        if must_exist and (not self.path.is_file() or self.path.stat().st_size == 0):
            why = " (a folder)" if self.path.is_dir() else " (an empty file)" if self.path.is_file() else ""
            raise IndexError_(f"no index at {self.path}{why}"
                              + ": give --index the path of an existing index.sqlite, or crawl first (sokhund crawl SITE)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
        except sqlite3.Error as exc:
            raise IndexError_(f"cannot open SQLite index {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise IndexError_(f"SQLite index {self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA cache_size = -131072")  # 128 MiB: the id index of 1M listings stays in memory
            self._db.execute("PRAGMA temp_store = MEMORY")
            self._db.execute("PRAGMA mmap_size = 1073741824")  # reads of a large index go through the page cache
            self._db.execute("PRAGMA foreign_keys = OFF")
        except sqlite3.Error as exc:  # "file is not a database" says which file nowhere else
            self._db.close()
            raise IndexError_(f"cannot open SQLite index {self.path}: {exc}") from exc
        window = rank_window if rank_window is not None else os.environ.get("SOKHUND_SQLITE_RANK_WINDOW")
        self.rank_window = max(1, int(window)) if window else RANK_WINDOW
        self._ready: set[str] = set()
        self._layouts: dict[str, _Layout] = {}

    def check_integrity(self) -> None:
        """Refuse a damaged index before anything is written into it (``PRAGMA quick_check``: every page
        and index is read once, so a crawl calls this at its start, not every command)."""
        try:
            rows = self._read("PRAGMA quick_check(5)", [])
        except (sqlite3.Error, IndexError_) as exc:
            problems = [str(exc.__cause__ or exc)]
        else:
            problems = [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
        if problems:
            raise IndexError_(f"SQLite index {self.path} is damaged ({'; '.join(problems)[:300]}): refusing to "
                              "write into it; restore it from a backup, or move it aside to start a new index")

    # ------------------------------------------------------------------ schema
    def _layout(self, kind: str) -> _Layout:
        layout = self._layouts.get(kind)
        if layout is None:
            layout = self._layouts[kind] = _Layout(schema_for(kind))
        return layout

    def _ensure(self, kind: str) -> KindSchema:
        schema = schema_for(kind)
        if kind in self._ready:
            return schema
        layout = self._layout(kind)
        with self._lock:
            if not self._is_current(layout):  # readers of an up-to-date index never take the write lock
                with self._write():
                    self._create(layout)
        self._ready.add(kind)
        return schema

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._db.execute(f"PRAGMA table_info({_q(table)})")}

    def _meta(self, key: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM sokhund_meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def _is_current(self, layout: _Layout) -> bool:
        main = self._columns(layout.kind)
        if not main or "doc" in main or any(c.name not in main for c in layout.main):
            return False
        docs = self._columns(f"{layout.kind}_doc")
        if not docs or any(n not in docs for n in layout.text):
            return False
        return self._meta(f"{layout.kind}_layout") == layout.signature()

    def _create(self, layout: _Layout) -> None:
        db, kind = self._db, layout.kind
        db.execute("CREATE TABLE IF NOT EXISTS sokhund_meta (key TEXT PRIMARY KEY, value TEXT)")
        main = self._columns(kind)
        old = None
        if "doc" in main:  # layout 1: JSON inline, FTS over the main table, kept by triggers
            old = f"{kind}__v1"
            for trig in ("ai", "ad", "au"):
                db.execute(f"DROP TRIGGER IF EXISTS {_q(f'{kind}_{trig}')}")
            db.execute(f"DROP TABLE IF EXISTS {layout.fts}")
            db.execute(f"ALTER TABLE {layout.t} RENAME TO {_q(old)}")
            main = set()
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {layout.t} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE"
            + "".join(f", {_q(c.name)} {_SQL_TYPES[c.kind]}" for c in layout.main) + ")"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {layout.d} (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL"
            + "".join(f", {_q(n)} TEXT" for n in layout.text) + ")"
        )
        if old is not None:
            old_cols = self._columns(old)
            keep = [c.name for c in layout.main if c.name in old_cols]
            texts = [n for n in layout.text if n in old_cols]
            db.execute(
                f"INSERT INTO {layout.t} (rid, id{''.join(', ' + _q(n) for n in keep)}) "
                f"SELECT rid, id{''.join(', ' + _q(n) for n in keep)} FROM {_q(old)}"
            )
            db.execute(
                f"INSERT INTO {layout.d} (rid, doc{''.join(', ' + _q(n) for n in texts)}) "
                f"SELECT rid, doc{''.join(', ' + _q(n) for n in texts)} FROM {_q(old)}"
            )
            db.execute(f"DROP TABLE {_q(old)}")
            for c in layout.main:  # fields the old table had no column for: from the stored JSON
                if c.name not in old_cols:
                    self._backfill(layout, c.name)
        # A field added to the model later: add the column and fill it from the stored JSON.
        main = self._columns(kind)
        for c in layout.main:
            if c.name not in main:
                db.execute(f"ALTER TABLE {layout.t} ADD COLUMN {_q(c.name)} {_SQL_TYPES[c.kind]}")
                self._backfill(layout, c.name)
        docs = self._columns(f"{kind}_doc")
        for n in layout.text:
            if n not in docs:
                db.execute(f"ALTER TABLE {layout.d} ADD COLUMN {_q(n)} TEXT")
                db.execute(f"UPDATE {layout.d} SET {_q(n)} = json_extract(doc, ?)", (f'$."{n}"',))
        # Few secondary indexes: each costs ~10% of bulk-insert speed; low-cardinality filters
        # (ships_from, substance_class) are cheap to scan in the narrow table.
        schema = schema_for(kind)
        for name in (*INDEXED_COLUMNS, schema.default_date_field):
            if any(c.name == name for c in layout.main):
                db.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'{kind}_{name}')} ON {layout.t}({_q(name)})")
        signature = layout.signature()
        rebuild = self._meta(f"{kind}_layout") != signature
        if layout.lists:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {layout.lst} (field TEXT NOT NULL, value, rid INTEGER NOT NULL, "
                f"PRIMARY KEY (field, value, rid)) WITHOUT ROWID"
            )
            db.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'{kind}_list_rid')} ON {layout.lst}(rid)")
            if rebuild:
                db.execute(f"DELETE FROM {layout.lst}")
                for name in layout.lists:
                    db.execute(
                        f"INSERT OR IGNORE INTO {layout.lst} (field, value, rid) SELECT ?, je.value, d.rid "
                        f"FROM {layout.d} d, json_each(d.doc, ?) je WHERE je.value IS NOT NULL",
                        (name, f'$."{name}"'),
                    )
        if layout.text:
            if rebuild:
                db.execute(f"DROP TABLE IF EXISTS {layout.fts}")
            db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {layout.fts} USING fts5("
                + ", ".join(_q(n) for n in layout.text)
                + f", content={layout.d}, content_rowid='rid', tokenize='{TOKENIZER}')"
            )
            if rebuild:
                db.execute(f"INSERT INTO {layout.fts}({layout.fts}) VALUES ('rebuild')")
        db.execute("INSERT OR REPLACE INTO sokhund_meta(key, value) VALUES (?, ?)", (f"{kind}_layout", signature))

    def _backfill(self, layout: _Layout, name: str) -> None:
        self._db.execute(
            f"UPDATE {layout.t} SET {_q(name)} = (SELECT json_extract(d.doc, ?) FROM {layout.d} d "
            f"WHERE d.rid = {layout.t}.rid)", (f'$."{name}"',),
        )

    # ------------------------------------------------------------------ writes
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _write(self) -> SQLiteBackend._Tx:
        return SQLiteBackend._Tx(self._db)

    def upsert(self, docs: Iterable[Document]) -> int:
        """Insert or replace documents by id; all of them in one transaction. Returns how many."""
        by_kind: dict[str, dict[str, Document]] = defaultdict(dict)
        for doc in docs:
            kind = doc.KIND
            if kind not in ALL_KINDS:
                raise ValueError(f"unknown document kind {kind!r}")
            if not doc.id:
                raise ValueError(f"{type(doc).__name__} without an id cannot be indexed: {doc!r:.200}")
            by_kind[kind][doc.id] = doc  # the same id twice in one batch: the last one wins
        if not by_kind:
            return 0
        for kind in by_kind:
            self._ensure(kind)
        written = 0
        with self._lock:
            try:
                with self._write() as db:
                    for kind, items in by_kind.items():
                        self._upsert_kind(db, self._layout(kind), items)
                        written += len(items)
            except sqlite3.Error as exc:
                raise IndexError_(f"SQLite index {self.path}: upsert failed: {exc}") from exc
        return written

    def _upsert_kind(self, db: sqlite3.Connection, layout: _Layout, items: dict[str, Document]) -> None:
        ids = list(items)
        rids: dict[str, int] = {}
        for chunk in _chunks(ids):
            marks = ", ".join("?" for _ in chunk)
            rids.update(db.execute(f"SELECT id, rid FROM {layout.t} WHERE id IN ({marks})", chunk).fetchall())
        existing = list(rids.values())
        next_rid = int(db.execute(f"SELECT COALESCE(MAX(rid), 0) FROM {layout.t}").fetchone()[0]) + 1
        for doc_id in ids:
            if doc_id not in rids:
                rids[doc_id] = next_rid
                next_rid += 1
        old_text: dict[int, tuple[Any, ...]] = {}
        if layout.text and existing:
            cols = ", ".join(_q(n) for n in layout.text)
            for chunk in _chunks(existing):
                marks = ", ".join("?" for _ in chunk)
                for row in db.execute(f"SELECT rid, {cols} FROM {layout.d} WHERE rid IN ({marks})", chunk):
                    old_text[row[0]] = tuple(row[1:])
        main_rows, doc_rows, fts_delete, fts_insert, list_rows = [], [], [], [], []
        for doc_id, doc in items.items():
            rid = rids[doc_id]
            main, texts, lists, body = layout.values(doc)
            main_rows.append((rid, doc_id, *main))
            doc_rows.append((rid, body, *texts))
            if layout.text:
                before = old_text.get(rid)
                if before is None:
                    fts_insert.append((rid, *texts))
                elif before != texts:
                    fts_delete.append((rid, *before))
                    fts_insert.append((rid, *texts))
            for name, values in lists:
                if values and isinstance(values, list | tuple | set | frozenset):
                    try:
                        unique = set(values)  # strings, the common case, hash as they are
                    except TypeError:  # objects (contacts …) are stored as json_each shows them
                        unique = {_element(x) for x in values}
                    unique.discard(None)
                    list_rows.extend([(name, v, rid) for v in unique])
        names = ["rid", "id", *(c.name for c in layout.main)]
        _executemany(
            db,
            f"INSERT INTO {layout.t} ({', '.join(_q(n) for n in names)}) VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT(rid) DO UPDATE SET " + ", ".join(f"{_q(n)} = excluded.{_q(n)}" for n in names[1:]),
            main_rows,
        )
        dnames = ["rid", "doc", *layout.text]
        _executemany(
            db,
            f"INSERT OR REPLACE INTO {layout.d} ({', '.join(_q(n) for n in dnames)}) "
            f"VALUES ({', '.join('?' for _ in dnames)})",
            doc_rows,
        )
        if layout.text:
            cols = ", ".join(_q(n) for n in layout.text)
            marks = ", ".join("?" for _ in layout.text)
            if fts_delete:
                db.executemany(
                    f"INSERT INTO {layout.fts}({layout.fts}, rowid, {cols}) VALUES ('delete', ?, {marks})",
                    fts_delete,
                )
            if fts_insert:
                _executemany(db, f"INSERT INTO {layout.fts}(rowid, {cols}) VALUES (?, {marks})", fts_insert)
        if layout.lists:
            for chunk in _chunks(existing):
                db.execute(f"DELETE FROM {layout.lst} WHERE rid IN ({', '.join('?' for _ in chunk)})", chunk)
            if list_rows:
                _executemany(db, f"INSERT OR IGNORE INTO {layout.lst} (field, value, rid) VALUES (?, ?, ?)", list_rows)

    def delete(self, kind: str, doc_id: str) -> None:
        self._ensure(kind)
        layout = self._layout(kind)
        with self._lock, self._write() as db:
            row = db.execute(f"SELECT rid FROM {layout.t} WHERE id = ?", (doc_id,)).fetchone()
            if row is None:
                return
            rid = row[0]
            if layout.text:
                cols = ", ".join(_q(n) for n in layout.text)
                old = db.execute(f"SELECT {cols} FROM {layout.d} WHERE rid = ?", (rid,)).fetchone()
                if old is not None:
                    db.execute(
                        f"INSERT INTO {layout.fts}({layout.fts}, rowid, {cols}) "
                        f"VALUES ('delete', ?, {', '.join('?' for _ in layout.text)})",
                        (rid, *old),
                    )
            if layout.lists:
                db.execute(f"DELETE FROM {layout.lst} WHERE rid = ?", (rid,))
            db.execute(f"DELETE FROM {layout.d} WHERE rid = ?", (rid,))
            db.execute(f"DELETE FROM {layout.t} WHERE rid = ?", (rid,))

    # ------------------------------------------------------------------ reads
    def _field_expr(self, schema: KindSchema, name: str, uses: set[str]) -> str:
        """The SQL for a field, noting in ``uses`` whether the doc table ``d`` must be joined."""
        check_field(name)
        info = schema.fields.get(name)
        if name == "id":
            return "t.id"
        if info is not None and info.kind not in ("list", "dict"):
            if name in schema.text_fields:
                uses.add("d")
                return f"d.{_q(name)}"
            return f"t.{_q(name)}"
        uses.add("d")
        return f"json_extract(d.doc, '$.\"{name}\"')"

    def _where(self, schema: KindSchema, filters: SearchFilters | None) -> tuple[list[str], list[Any], set[str]]:
        clauses: list[str] = []
        params: list[Any] = []
        uses: set[str] = set()
        if filters is None:
            return clauses, params, uses
        layout = self._layout(schema.kind)

        def match(name: str, value: Any) -> None:
            info = schema.fields.get(name)
            values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
            values = [int(v) if isinstance(v, bool) else v for v in values]
            marks = ", ".join("?" for _ in values)
            if info is not None and info.kind == "list":
                check_field(name)
                clauses.append(f"t.rid IN (SELECT rid FROM {layout.lst} WHERE field = ? AND value IN ({marks}))")
                params.append(name)
            else:
                clauses.append(f"{self._field_expr(schema, name, uses)} IN ({marks})")
            params.extend(values)

        for name in ("site", "vendor", "substance", "substance_class", "ships_from"):
            value = getattr(filters, name)
            if value is not None:
                match(name, value)
        for name, value in (filters.extra or {}).items():
            if value is None:
                clauses.append(f"{self._field_expr(schema, name, uses)} IS NULL")
            else:
                match(name, value)
        price = self._field_expr(schema, "price_sek", uses)
        if filters.price_min is not None:
            clauses.append(f"{price} >= ?")
            params.append(float(filters.price_min))
        if filters.price_max is not None:
            clauses.append(f"{price} <= ?")
            params.append(float(filters.price_max))
        gte, lt, lte = date_bounds(filters)
        if gte or lt or lte:
            expr = self._field_expr(schema, schema.date_field(filters.date_field), uses)
            for op, bound in ((">=", gte), ("<", lt), ("<=", lte)):
                if bound:
                    clauses.append(f"{expr} {op} ?")
                    params.append(bound)
        return clauses, params, uses

    def _source(self, layout: _Layout, uses: set[str], first: str = "", on: str = "") -> str:
        """The FROM clause: ``first`` (joined to ``t`` by ``on``) if given, the main table, and the doc
        table when a filter or value needs it."""
        main = f"{first} JOIN {layout.t} t ON t.rid = {on}" if first else f"{layout.t} t"
        return main + (f" JOIN {layout.d} d ON d.rid = t.rid" if "d" in uses else "")

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise IndexError_(f"SQLite index {self.path}: query failed: {exc}") from exc

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        self._ensure(kind)
        layout = self._layout(kind)
        rows = self._read(f"SELECT d.doc FROM {layout.t} t JOIN {layout.d} d ON d.rid = t.rid WHERE t.id = ?", [doc_id])
        return json.loads(rows[0][0]) if rows else None

    def iter_docs(self, kind: str, filters: SearchFilters | None = None) -> Iterator[dict[str, Any]]:
        """Every document of a kind in id order, fetched in pages (safe while others write)."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        source = self._source(layout, uses | {"d"})
        last = ""
        while True:
            where = " AND ".join(["t.id > ?", *clauses])
            rows = self._read(
                f"SELECT t.id, d.doc FROM {source} WHERE {where} ORDER BY t.id LIMIT 1000", [last, *params]
            )
            for _, doc in rows:
                yield json.loads(doc)
            if len(rows) < 1000:
                return
            last = rows[-1][0]

    def count(self, kind: str, filters: SearchFilters | None = None, query: str | None = None) -> int:
        """Documents matching ``filters`` (and ``query``, expanded as :meth:`search` expands it)."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        plan = self._plan(schema, query)
        if not plan:
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            return int(self._read(f"SELECT COUNT(*) FROM {self._source(layout, uses)}{where}", params)[0][0])
        if not layout.text:
            return 0
        parts, args = [], []
        for expression, alt in self._alternatives(schema, filters, plan):
            c, p, u = (clauses, params, uses) if alt is filters else self._where(schema, alt)
            if expression is None:
                where = f" WHERE {' AND '.join(c)}" if c else ""
                parts.append(f"SELECT t.rid FROM {self._source(layout, u)}{where}")
                args.extend(p)
            else:
                source = self._source(layout, u, layout.fts, f"{layout.fts}.rowid")
                parts.append(f"SELECT t.rid FROM {source} WHERE {' AND '.join([f'{layout.fts} MATCH ?', *c])}")
                args.extend([expression, *p])
        return int(self._read(f"SELECT COUNT(*) FROM ({' UNION '.join(parts)})", args)[0][0])

    def _plan(self, schema: KindSchema, query: str | None) -> list[Clause]:
        """The query's clauses: substance synonyms expanded, vendor names looked up in the vendor index."""
        return expand_terms(parse_query(query), schema.fields.keys(), self._vendor_names)

    def _vendor_names(self, term: Term) -> list[str]:
        layout = self._layout("vendor")
        if "name" not in layout.text:
            return []
        self._ensure("vendor")
        rows = self._read(
            f"SELECT d.name FROM {layout.fts} JOIN {layout.d} d ON d.rid = {layout.fts}.rowid "
            f"WHERE {layout.fts} MATCH ? LIMIT 500",
            ["name : " + fts5_expression([term])],
        )
        return [r[0] for r in rows if r[0]]

    def _alternatives(
        self, schema: KindSchema, filters: SearchFilters | None, plan: list[Clause]
    ) -> Iterator[tuple[str | None, SearchFilters | None]]:
        """(FTS expression or None for "no text condition", filters) whose results, together, are the
        documents matching ``plan``: every clause as text, then each way of matching some clauses through
        a field (a canonical substance, a vendor name) and the rest as text."""
        yield fts5_expression(plan), filters
        for values, rest in field_alternatives(plan):
            alt = with_field_values(filters, values)
            if alt is not None:
                yield (fts5_expression(rest) if rest else None), alt

    def search(
        self, kind: str, query: str | None, filters: SearchFilters | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """bm25-ranked full-text search (title weighs more than description …) plus filters.
        An empty or punctuation-only query lists the filtered documents in id order (score 0).
        Past ``rank_window`` matches, the most recently indexed ones are ranked (see the module doc).
        A clause that names a substance or a vendor also matches through that field (see
        :mod:`indexer.query`): those matches are merged in, a document matched only by fields scoring 0."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        plan = self._plan(schema, query)
        limit = max(0, int(limit))
        if not plan:
            rows = self._listed(layout, clauses, params, uses, limit)
        elif not layout.text:
            return []
        else:
            best: dict[str, tuple[Any, ...]] = {}
            for expression, alt in self._alternatives(schema, filters, plan):
                c, p, u = (clauses, params, uses) if alt is filters else self._where(schema, alt)
                found = (self._listed(layout, c, p, u, limit) if expression is None
                         else self._ranked(layout, expression, c, p, u, limit))
                for row in found:
                    if row[0] not in best or row[2] > best[row[0]][2]:
                        best[row[0]] = row
            rows = sorted(best.values(), key=lambda r: (-r[2], r[0]))[:limit]
        return [SearchHit(id=r[0], kind=kind, score=float(r[2]), doc=json.loads(r[1])) for r in rows]

    def _listed(self, layout: _Layout, clauses: list[str], params: list[Any], uses: set[str], limit: int
                ) -> list[tuple[Any, ...]]:
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._read(
            f"SELECT x.id, d.doc, 0.0 FROM (SELECT t.rid, t.id FROM {self._source(layout, uses)}{where} "
            f"ORDER BY t.id LIMIT ?) x JOIN {layout.d} d ON d.rid = x.rid ORDER BY x.id",
            [*params, limit],
        )

    def _ranked(self, layout: _Layout, expression: str, clauses: list[str], params: list[Any], uses: set[str],
                limit: int) -> list[tuple[Any, ...]]:
        fts = layout.fts
        source = self._source(layout, uses, fts, f"{fts}.rowid")
        where = " AND ".join([f"{fts} MATCH ?", *clauses])
        bound = self._read(
            f"SELECT {fts}.rowid FROM {source} WHERE {where} ORDER BY {fts}.rowid DESC LIMIT 1 OFFSET ?",
            [expression, *params, self.rank_window - 1],
        )
        window = f" AND {fts}.rowid >= ?" if bound else ""
        return self._read(
            f"SELECT x.id, d.doc, x.score FROM (SELECT t.rid, t.id, -bm25({fts}, {layout.weights}) AS score "
            f"FROM {source} WHERE {where}{window} ORDER BY bm25({fts}, {layout.weights}), t.id LIMIT ?) x "
            f"JOIN {layout.d} d ON d.rid = x.rid ORDER BY x.score DESC, x.id",
            [expression, *params, *([bound[0][0]] if bound else []), limit],
        )

    def terms(
        self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, doc count), most frequent first, ties by value. List fields count each element once
        per document; missing values are not a bucket."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        info = schema.fields.get(check_field(field))
        if info is not None and info.kind == "list":
            source = self._source(layout, uses, f"{layout.lst} l", "l.rid") if clauses else f"{layout.lst} l"
            rows = self._read(
                f"SELECT l.value AS v, COUNT(*) AS n FROM {source} WHERE {' AND '.join(['l.field = ?', *clauses])} "
                f"GROUP BY v ORDER BY n DESC, v LIMIT ?",
                [field, *params, int(size)],
            )
        else:
            value = self._field_expr(schema, field, uses)
            where = " AND ".join([f"{value} IS NOT NULL", *clauses])
            rows = self._read(
                f"SELECT {value} AS v, COUNT(*) AS n FROM {self._source(layout, uses)} WHERE {where} "
                f"GROUP BY v ORDER BY n DESC, v LIMIT ?",
                [*params, int(size)],
            )
        if info is not None and info.kind == "bool":
            return [(bool(v), int(n)) for v, n in rows]
        return [(v, int(n)) for v, n in rows]

    def date_histogram(
        self,
        kind: str,
        date_field: str,
        interval: str = "day",
        filters: SearchFilters | None = None,
        sum_field: str | None = None,
    ) -> list[tuple[str, int, float | None]]:
        """Buckets keyed by their first day (``YYYY-MM-DD``): the day, the ISO week's Monday, or the
        1st of the month. Only non-empty buckets, oldest first. Dates are compared as written (UTC).

        SQLite groups by day (a cheap ``substr``); days are folded into weeks and months here, which
        is ~10x faster at a million rows than SQLite's date functions per row."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        check_interval(interval)
        clauses, params, uses = self._where(schema, filters)
        day = f"substr({self._field_expr(schema, date_field, uses)}, 1, 10)"
        total = f"TOTAL({self._field_expr(schema, sum_field, uses)})" if sum_field else "NULL"
        rows = self._read(
            f"SELECT {day} AS k, COUNT(*), {total} FROM {self._source(layout, uses)} "
            f"{'WHERE ' + ' AND '.join(clauses) if clauses else ''} GROUP BY k",
            params,
        )
        buckets: dict[str, list[Any]] = {}
        for key, n, s in rows:
            start = _bucket_start(key, interval)
            if start is None:
                continue
            bucket = buckets.setdefault(start, [0, 0.0])
            bucket[0] += int(n)
            bucket[1] += float(s or 0.0)
        return [(k, n, s if sum_field else None) for k, (n, s) in sorted(buckets.items())]

    # ------------------------------------------------------------------ misc
    def size_bytes(self) -> int:
        """Database size on disk including the WAL."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> SQLiteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteBackend({str(self.path)!r})"


def _executemany(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    try:
        db.executemany(sql, rows)
    except sqlite3.ProgrammingError:  # a value SQLite cannot bind: nothing was written by this statement
        db.executemany(sql, _bindable(rows))


def _bucket_start(day: Any, interval: str) -> str | None:
    """The first day of the bucket that ``day`` (``YYYY-MM-DD``) falls in; None for what is not a date."""
    if not isinstance(day, str):
        return None
    try:
        d = date.fromisoformat(day)
    except ValueError:
        return None
    if interval == "week":
        d -= timedelta(days=d.weekday())
    elif interval == "month":
        d = d.replace(day=1)
    return d.isoformat()
