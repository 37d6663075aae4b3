"""The embedded index: SQLite in WAL mode with FTS5.

Schema, one set per document kind (``listing``, ``vendor`` …):

* ``<kind>``: ``rid INTEGER PRIMARY KEY`` (stable rowid for FTS), ``id TEXT UNIQUE`` (the deterministic
  document id), ``doc TEXT`` (the full JSON document) and one column per scalar model field (site,
  vendor, substance, price_sek, dates …) used for filters, terms and histograms. List fields
  (``ships_to``, ``payment`` …) stay in the JSON and are matched element-wise with ``json_each``.
* ``<kind>_fts``: an external-content FTS5 table over the kind's free-text fields, kept in sync by
  triggers (re-upserting a document with unchanged text does not touch the FTS index).

Tokenizer: ``unicode61 remove_diacritics 2``: case folding plus diacritic folding, so ``högsta``,
``Högsta`` and ``hogsta`` all match each other, as do ``kvalité``/``kvalite``. Sellers and forum posters
often type Swedish without å/ä/ö (foreign keyboards, phones, transliteration) and analysts need both
spellings; the cost is that a few Swedish minimal pairs (``får``/``far``) collide, which bm25 ranking
and the Elasticsearch backend (asciifolding with ``preserve_original``) tolerate the same way. Mode 2
(rather than 1) also folds letters carrying several diacritics.

Concurrency: WAL lets any number of readers (the CLI, analytics, other processes) read while one
crawl writes; ``busy_timeout`` makes a second writer wait instead of failing. Writes take the lock up
front (``BEGIN IMMEDIATE``) and a whole bulk upsert is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from indexer.base import IndexError_, SearchFilters, SearchHit
from indexer.models import ALL_KINDS, Document
from indexer.query import check_interval, date_bounds, fts5_expression, parse_query
from indexer.schema import FieldInfo, KindSchema, check_field, doc_to_dict, schema_for

TOKENIZER = "unicode61 remove_diacritics 2"
SCHEMA_VERSION = 1
INDEXED_COLUMNS = ("site", "vendor", "substance")
_SQL_TYPES = {"str": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "INTEGER"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_PLAIN = (str, int, float, bool)


def _column_value(value: Any, info: FieldInfo) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value  # bool is an int
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class SQLiteBackend:
    """SQLite + FTS5 implementation of :class:`indexer.base.IndexBackend`."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
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
            self._db.execute("PRAGMA cache_size = -65536")  # 64 MiB: random-id B-tree inserts stay in memory
            self._db.execute("PRAGMA temp_store = MEMORY")
            self._db.execute("PRAGMA foreign_keys = OFF")
        except sqlite3.Error as exc:  # "file is not a database" says which file nowhere else
            self._db.close()
            raise IndexError_(f"cannot open SQLite index {self.path}: {exc}") from exc
        self._ready: set[str] = set()
        self._upsert_sql: dict[str, tuple[str, list[FieldInfo]]] = {}

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
    def _ensure(self, kind: str) -> KindSchema:
        schema = schema_for(kind)
        if kind in self._ready:
            return schema
        with self._lock:
            if not self._is_current(schema):  # readers of an up-to-date index never take the write lock
                with self._write():
                    self._create(schema)
        self._ready.add(kind)
        return schema

    def _fts_signature(self, schema: KindSchema) -> str:
        return json.dumps({"v": SCHEMA_VERSION, "cols": list(schema.text_fields), "tok": TOKENIZER})

    def _is_current(self, schema: KindSchema) -> bool:
        db, t = self._db, schema.kind
        existing = {row[1] for row in db.execute(f"PRAGMA table_info({_q(t)})")}
        if not existing or any(c.name not in existing for c in schema.scalar_fields):
            return False
        if not schema.text_fields:
            return True
        try:
            row = db.execute("SELECT value FROM sokhund_meta WHERE key = ?", (f"{t}_fts",)).fetchone()
        except sqlite3.OperationalError:
            return False
        return row is not None and row[0] == self._fts_signature(schema)

    def _create(self, schema: KindSchema) -> None:
        db, t = self._db, schema.kind
        cols = schema.scalar_fields
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {_q(t)} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
            f"doc TEXT NOT NULL" + "".join(f", {_q(c.name)} {_SQL_TYPES[c.kind]}" for c in cols) + ")"
        )
        existing = {row[1] for row in db.execute(f"PRAGMA table_info({_q(t)})")}
        for c in cols:  # a field added to the model later: add the column and backfill it from the JSON
            if c.name not in existing:
                db.execute(f"ALTER TABLE {_q(t)} ADD COLUMN {_q(c.name)} {_SQL_TYPES[c.kind]}")
                db.execute(f"UPDATE {_q(t)} SET {_q(c.name)} = json_extract(doc, ?)", (f'$."{c.name}"',))
        # Few secondary indexes: each costs ~10% of bulk-insert speed; low-cardinality filters
        # (ships_from, substance_class) are cheap to scan or ride along with FTS.
        for name in (*INDEXED_COLUMNS, schema.default_date_field):
            if name in existing or any(c.name == name for c in cols):
                db.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'{t}_{name}')} ON {_q(t)}({_q(name)})")
        db.execute("CREATE TABLE IF NOT EXISTS sokhund_meta (key TEXT PRIMARY KEY, value TEXT)")
        if not schema.text_fields:
            return
        text = list(schema.text_fields)
        fts = f"{t}_fts"
        signature = self._fts_signature(schema)
        row = db.execute("SELECT value FROM sokhund_meta WHERE key = ?", (fts,)).fetchone()
        if row is not None and row[0] != signature:  # text fields or tokenizer changed: rebuild
            db.execute(f"DROP TABLE IF EXISTS {_q(fts)}")
            for trig in ("ai", "ad", "au"):
                db.execute(f"DROP TRIGGER IF EXISTS {_q(f'{t}_{trig}')}")
        db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {_q(fts)} USING fts5("
            + ", ".join(_q(c) for c in text)
            + f", content={_q(t)}, content_rowid='rid', tokenize='{TOKENIZER}')"
        )
        new_vals = ", ".join(f"new.{_q(c)}" for c in text)
        old_vals = ", ".join(f"old.{_q(c)}" for c in text)
        col_list = ", ".join(_q(c) for c in text)
        changed = " OR ".join(f"old.{_q(c)} IS NOT new.{_q(c)}" for c in text)
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_q(f'{t}_ai')} AFTER INSERT ON {_q(t)} BEGIN "
            f"INSERT INTO {_q(fts)}(rowid, {col_list}) VALUES (new.rid, {new_vals}); END"
        )
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_q(f'{t}_ad')} AFTER DELETE ON {_q(t)} BEGIN "
            f"INSERT INTO {_q(fts)}({_q(fts)}, rowid, {col_list}) VALUES ('delete', old.rid, {old_vals}); END"
        )
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_q(f'{t}_au')} AFTER UPDATE ON {_q(t)} WHEN {changed} BEGIN "
            f"INSERT INTO {_q(fts)}({_q(fts)}, rowid, {col_list}) VALUES ('delete', old.rid, {old_vals}); "
            f"INSERT INTO {_q(fts)}(rowid, {col_list}) VALUES (new.rid, {new_vals}); END"
        )
        if row is None or row[0] != signature:
            db.execute(f"INSERT INTO {_q(fts)}({_q(fts)}) VALUES ('rebuild')")
            db.execute("INSERT OR REPLACE INTO sokhund_meta(key, value) VALUES (?, ?)", (fts, signature))

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

    def _upsert_statement(self, schema: KindSchema) -> tuple[str, list[FieldInfo]]:
        cached = self._upsert_sql.get(schema.kind)
        if cached:
            return cached
        cols = schema.scalar_fields
        names = ["id", "doc"] + [c.name for c in cols]
        sql = (
            f"INSERT INTO {_q(schema.kind)} ({', '.join(_q(n) for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) ON CONFLICT(id) DO UPDATE SET "
            + ", ".join(f"{_q(n)} = excluded.{_q(n)}" for n in names[1:])
        )
        self._upsert_sql[schema.kind] = (sql, cols)
        return sql, cols

    def upsert(self, docs: Iterable[Document]) -> int:
        """Insert or replace documents by id; all of them in one transaction. Returns how many."""
        by_kind: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for doc in docs:
            kind = doc.KIND
            if kind not in ALL_KINDS:
                raise ValueError(f"unknown document kind {kind!r}")
            if not doc.id:
                raise ValueError(f"{type(doc).__name__} without an id cannot be indexed: {doc!r:.200}")
            schema = schema_for(kind)
            _, cols = self._upsert_statement(schema)
            data = doc_to_dict(doc)
            row = [data["id"], json.dumps(data, ensure_ascii=False, separators=(",", ":"))]
            for c in cols:
                v = data.get(c.name)
                row.append(v if v is None or type(v) in _PLAIN else _column_value(v, c))
            by_kind[kind].append(tuple(row))
        if not by_kind:
            return 0
        for kind in by_kind:
            self._ensure(kind)
        written = 0
        with self._lock:
            try:
                with self._write() as db:
                    for kind, rows in by_kind.items():
                        sql, _ = self._upsert_statement(schema_for(kind))
                        db.executemany(sql, rows)
                        written += len(rows)
            except sqlite3.Error as exc:
                raise IndexError_(f"SQLite index {self.path}: upsert failed: {exc}") from exc
        return written

    def delete(self, kind: str, doc_id: str) -> None:
        self._ensure(kind)
        with self._lock, self._write() as db:
            db.execute(f"DELETE FROM {_q(kind)} WHERE id = ?", (doc_id,))

    # ------------------------------------------------------------------ reads
    def _field_expr(self, schema: KindSchema, name: str, alias: str = "t") -> str:
        check_field(name)
        info = schema.fields.get(name)
        if name == "id" or (info is not None and info.kind not in ("list", "dict")):
            return f"{alias}.{_q(name)}"
        return f"json_extract({alias}.doc, '$.\"{name}\"')"

    def _where(self, schema: KindSchema, filters: SearchFilters | None) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if filters is None:
            return clauses, params

        def match(name: str, value: Any) -> None:
            info = schema.fields.get(name)
            values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
            values = [int(v) if isinstance(v, bool) else v for v in values]
            marks = ", ".join("?" for _ in values)
            if info is not None and info.kind == "list":
                check_field(name)
                clauses.append(
                    f"EXISTS (SELECT 1 FROM json_each(t.doc, '$.\"{name}\"') WHERE value IN ({marks}))"
                )
            else:
                clauses.append(f"{self._field_expr(schema, name)} IN ({marks})")
            params.extend(values)

        for name in ("site", "vendor", "substance", "substance_class", "ships_from"):
            value = getattr(filters, name)
            if value is not None:
                match(name, value)
        for name, value in (filters.extra or {}).items():
            if value is None:
                clauses.append(f"{self._field_expr(schema, name)} IS NULL")
            else:
                match(name, value)
        price = self._field_expr(schema, "price_sek")
        if filters.price_min is not None:
            clauses.append(f"{price} >= ?")
            params.append(float(filters.price_min))
        if filters.price_max is not None:
            clauses.append(f"{price} <= ?")
            params.append(float(filters.price_max))
        gte, lt, lte = date_bounds(filters)
        if gte or lt or lte:
            expr = self._field_expr(schema, schema.date_field(filters.date_field))
            for op, bound in ((">=", gte), ("<", lt), ("<=", lte)):
                if bound:
                    clauses.append(f"{expr} {op} ?")
                    params.append(bound)
        return clauses, params

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise IndexError_(f"SQLite index {self.path}: query failed: {exc}") from exc

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        self._ensure(kind)
        rows = self._read(f"SELECT doc FROM {_q(kind)} WHERE id = ?", [doc_id])
        return json.loads(rows[0][0]) if rows else None

    def iter_docs(self, kind: str, filters: SearchFilters | None = None) -> Iterator[dict[str, Any]]:
        """Every document of a kind in id order, fetched in pages (safe while others write)."""
        schema = self._ensure(kind)
        clauses, params = self._where(schema, filters)
        last = ""
        while True:
            where = " AND ".join(["t.id > ?", *clauses])
            rows = self._read(
                f"SELECT t.id, t.doc FROM {_q(kind)} t WHERE {where} ORDER BY t.id LIMIT 1000",
                [last, *params],
            )
            for _, doc in rows:
                yield json.loads(doc)
            if len(rows) < 1000:
                return
            last = rows[-1][0]

    def count(self, kind: str, filters: SearchFilters | None = None) -> int:
        schema = self._ensure(kind)
        clauses, params = self._where(schema, filters)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return int(self._read(f"SELECT COUNT(*) FROM {_q(kind)} t{where}", params)[0][0])

    def search(
        self, kind: str, query: str | None, filters: SearchFilters | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """bm25-ranked full-text search (title weighs more than description …) plus filters.
        An empty or punctuation-only query lists the filtered documents in id order (score 0)."""
        schema = self._ensure(kind)
        clauses, params = self._where(schema, filters)
        terms = parse_query(query)
        limit = max(0, int(limit))
        if not terms:
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = self._read(
                f"SELECT t.id, t.doc, 0.0 FROM {_q(kind)} t{where} ORDER BY t.id LIMIT ?", [*params, limit]
            )
        elif not schema.text_fields:
            return []
        else:
            fts = f"{kind}_fts"
            weights = ", ".join(str(w) for w in schema.text_fields.values())
            where = " AND ".join([f"{_q(fts)} MATCH ?", *clauses])
            rows = self._read(
                f"SELECT t.id, t.doc, -bm25({_q(fts)}, {weights}) AS score FROM {_q(fts)} "
                f"JOIN {_q(kind)} t ON t.rid = {_q(fts)}.rowid WHERE {where} "
                f"ORDER BY bm25({_q(fts)}, {weights}), t.id LIMIT ?",
                [fts5_expression(terms), *params, limit],
            )
        return [SearchHit(id=r[0], kind=kind, score=float(r[2]), doc=json.loads(r[1])) for r in rows]

    def terms(
        self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, doc count), most frequent first, ties by value. List fields count each element once
        per document; missing values are not a bucket."""
        schema = self._ensure(kind)
        clauses, params = self._where(schema, filters)
        info = schema.fields.get(check_field(field))
        if info is not None and info.kind == "list":
            source = f"{_q(kind)} t, json_each(t.doc, '$.\"{field}\"') je"
            value = "je.value"
            count = "COUNT(DISTINCT t.rid)"
        else:
            source = f"{_q(kind)} t"
            value = self._field_expr(schema, field)
            count = "COUNT(*)"
        where = " AND ".join([f"{value} IS NOT NULL", *clauses])
        rows = self._read(
            f"SELECT {value} AS v, {count} AS n FROM {source} WHERE {where} GROUP BY v ORDER BY n DESC, v "
            f"LIMIT ?",
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
        1st of the month. Only non-empty buckets, oldest first. Dates are compared as written (UTC)."""
        schema = self._ensure(kind)
        check_interval(interval)
        clauses, params = self._where(schema, filters)
        day = f"substr({self._field_expr(schema, date_field)}, 1, 10)"
        if interval == "day":
            key = f"date({day})"
        elif interval == "week":
            key = f"date({day}, '-' || ((CAST(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')"
        else:
            key = f"date({day}, 'start of month')"
        total = f"TOTAL({self._field_expr(schema, sum_field)})" if sum_field else "NULL"
        where = " AND ".join([f"{key} IS NOT NULL", *clauses])
        rows = self._read(
            f"SELECT {key} AS k, COUNT(*), {total} FROM {_q(kind)} t WHERE {where} GROUP BY k ORDER BY k",
            params,
        )
        return [(k, int(n), float(s) if sum_field else None) for k, n, s in rows]

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
