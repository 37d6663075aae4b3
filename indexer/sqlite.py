"""The embedded index: SQLite in WAL mode with FTS5, laid out for a million listings.

Tables, one set per document kind (``listing``, ``vendor`` …):

* ``<kind>``: ``rid INTEGER PRIMARY KEY``, ``id TEXT`` (the deterministic document id) and one
  column per scalar, non-text model field (site, vendor, substance, price_sek, dates …). Filters, terms
  and histograms scan only this narrow table: the JSON and the long texts are elsewhere, so a scan
  reads ~200 bytes a row instead of the whole document.
* ``<kind>_ids`` and ``<kind>_ids_new``: id → rid in two tiers (``WITHOUT ROWID``, keyed by id). Ids are
  hashes, so a single id B-tree took every new id at a random place: at a million listings a batch of
  5,000 dirtied nearly all of its ~2,900 pages. New ids go to the small tier, which stays in the cache,
  and it is merged into the big one in id order every ~sqrt(documents × 5,000) new documents (70k at a
  million; see ``_merge_ids``). Lookups by id read both; reads in id order (``iter_docs``, listing
  without a text query) walk both tiers in order and let SQLite merge the two walks.
* ``<kind>_doc``: ``rid`` → the full JSON document plus the free-text fields; the content table of
* ``<kind>_fts``: external-content FTS5 over the free-text fields. It is written in bulk by the upsert
  itself, not by triggers: an FTS5 write inside a per-row trigger flushes its pending segment every row
  (three times slower), and a re-upserted document whose text did not change costs no FTS work at all.
* ``<kind>_list``: ``(field, value, rid)`` for the elements of list fields (``ships_to``, ``payment`` …),
  so element-wise filters and terms are index lookups instead of ``json_each`` over every document.
* ``<kind>_agg_<keys>``: roll-ups (declared in :data:`indexer.schema.ROLLUPS`): document counts, and for
  roll-ups keyed by the day of the default date field the sums of the money and volume fields
  (:data:`indexer.schema.ROLLUP_SUMS`; other sums are read from the documents), per combination
  of a few low-cardinality fields. SQLite has no hash aggregation: ``GROUP BY`` over a million rows
  sorts them all (2-3 s), while a roll-up holds a few thousand rows. ``terms``, ``date_histogram`` and
  ``count`` whose fields and equality filters a roll-up holds (dates: whole days on the default date
  field) read it; anything else (a price range, another date field, a field no roll-up keys) scans the
  documents as before. The upsert keeps them exact inside its transaction: replaced documents'
  contributions are summed per key in Python (their stored values, read first, taken out; the new ones
  put in) and written as one row per key; new documents, whose rids are one contiguous range, are grouped
  by SQLite over that range with the expressions of a rebuild (``substr``/``TOTAL``, as the scans do),
  twice as fast as Python, in parts of ``WRITE_PART`` documents by a worker thread while the upsert
  builds the next part's rows (SQLite runs without the GIL: the two use both cores). A test holds kept
  and rebuilt roll-ups to equal rows. A layout that differs in its roll-ups only rebuilds those, not the
  FTS index.
* Filter tokens: the FTS index has one more column, ``#filters``, holding one hashed word per value of
  the text fields the roll-ups key by (``site``, ``vendor``, ``ships_from``, ``ships_to`` …). A text
  search's equality filters on them become AND terms of the MATCH, which FTS5 intersects in its doclists,
  instead of a main-table lookup per text match. Without a text query, an equality filter on a
  high-cardinality token field (``vendor``) finds its documents through the token's doclist too, so
  no B-tree on ``vendor`` is kept for kinds with the token: every insert would touch such a B-tree at
  a random place and dirty most of its pages in every batch.

Ranking: bm25 (title weighs more than description …) costs ~1.3 µs per match (more for phrases), and a
query that matches most of a million-listing index (``bitcoin``) would take a second. So a search ranks
the most recently indexed ``rank_window`` matches (default 2,000, ``$SOKHUND_SQLITE_RANK_WINDOW``) that
pass its filters: FTS5 walks its doclists by descending rowid and stops there, in one statement. A query
with fewer matches is ranked over all of them, as before; ``count`` is always exact. The walk itself is
bounded too: a query whose filters pass one match in a thousand (two common words as a phrase, a site and
a country) would walk the whole index to find 2,000 (60-120 ms at a million listings). So the window is
looked for among the newest ``rank_span`` documents (default 250,000, ``$SOKHUND_SQLITE_RANK_SPAN``); only
a page those cannot fill (fewer than ``limit`` matches) is read from the whole index. Monitoring ranks the
market of the last months first; an older match outranking them is found by a narrower query or by date.

bm25's document frequencies: FTS5's bm25() counts, for every phrase of the query, its documents in the
WHOLE index on the first row (30-120 ms at a million listings for a common word or a phrase, however small
the window), the filter tokens included although their column weighs 0. So searches rank with
``sokhund_bm25`` (:mod:`indexer.fts_rank`, a small C function: the same formula and weights, document
frequencies given): an index of at most ``DF_SAMPLE`` (20,000) documents counts them exactly (scores equal
bm25's); a larger one estimates a phrase's frequency from its share of the newest 20,000 documents (at
least half a document), and gives a prefix term a fixed 1 in 100 (its doclist is merged over the whole
index, ~40 ms, like Elasticsearch's constant-score prefixes). Filter tokens and NOT terms are not counted
(bm25 adds 0 for them anyway). Only the relative weight of the phrases of a several-phrase query can move,
never which documents match; where the function cannot be built (no C compiler) bm25() ranks as before.

Filter-only listing (no text, or a query's substance alternative): the first documents in id order; when
a roll-up counts the equality filters' matches, none means no read, and few are read through their filter
tokens and sorted, instead of walking the id index past a million rows to find 20 (or none).
``DATE_INDEXES`` (``listing``: substance, last_seen, price_sek) serve histograms filtered on a substance
and a price range, which the roll-ups cannot answer.

Tokenizer: ``unicode61 remove_diacritics 2``: case folding plus diacritic folding, so ``högsta``,
``Högsta`` and ``hogsta`` all match each other, as do ``kvalité``/``kvalite``. Sellers and forum posters
often type Swedish without å/ä/ö (foreign keyboards, phones, transliteration) and analysts need both
spellings; the cost is that a few Swedish minimal pairs (``får``/``far``) collide, which bm25 ranking
and the Elasticsearch backend (asciifolding with ``preserve_original``) tolerate the same way. Mode 2
(rather than 1) also folds letters carrying several diacritics.

Binding: a registered sqlite3 adapter for None (and bool) ends the module's adapter search at its first
step; a listing's 18 NULL columns were a third of its main-table insert. The cycle collector is paused
while an upsert builds its rows (its collections walk every live object of the process).

Concurrency: WAL lets any number of readers (the CLI, analytics, other processes) read while one
crawl writes; ``busy_timeout`` makes a second writer wait instead of failing. Writes take the lock up
front (``BEGIN IMMEDIATE``) and a whole bulk upsert is one transaction. A backend that writes copies
the WAL back into the file from a background thread after each commit (:mod:`indexer.wal_checkpoint`):
SQLite's own checkpoint, inside the commit that crosses 16,000 WAL pages, stopped the writer for a fifth
of its time at a million listings; it stays as the backstop that bounds the WAL.

Layout versions: an index written by an earlier version (layout 1: one table per kind with the JSON
inline and FTS triggers; layout 2: no roll-ups or filter tokens) is migrated in place the first time a
kind is opened: roll-ups built, filter tokens written, the FTS index rebuilt, the indexes the roll-ups
replace dropped (about a minute per million listings, once).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import math
import os
import re
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import orjson

from indexer import fts_rank
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
from indexer.wal_checkpoint import WalCheckpointer

# Python's sqlite3 binds a parameter of any type but str, int, float and bytearray by asking its adapter
# registry, then the protocol's __adapt__, then the value's __conform__: a third of a listing's main-table
# insert went to the 18 NULLs of its 38 columns. A registered adapter ends the search at the first step
# (``{}.get`` is a C function that returns None, which binds as NULL; ``int`` of a bool is what binds).
sqlite3.register_adapter(type(None), {}.get)
sqlite3.register_adapter(bool, int)

TOKENIZER = "unicode61 remove_diacritics 2"
SCHEMA_VERSION = 3
# B-tree indexes on main-table columns, for kinds without a filter token for the column: a kind with
# one finds its documents through the token's FTS doclist instead (see _Layout.looked_up), which costs
# the bulk upsert nothing extra; a B-tree keyed by vendor is touched at a random place by every insert,
# and so dirties most of its pages in every batch. Low-cardinality filters, terms and counts are served
# by the roll-ups.
INDEXED_COLUMNS = ("vendor",)
TOKEN_LOOKUPS = frozenset({"vendor"})  # high-cardinality token fields: equality filters go through FTS
# (equality field, date field, value): histograms filtered on the first field and a price range, which no
# roll-up can answer, read only the matching rows, in date order (~10% of bulk-insert speed each)
DATE_INDEXES: dict[str, tuple[tuple[str, str, str], ...]] = {"listing": (("substance", "last_seen", "price_sek"),)}
RANK_WINDOW = 2_000
RANK_SPAN = 250_000  # newest documents a search reads for its rank window before it reads them all
PAGE_SIZE = 16_384
DF_SAMPLE = 20_000  # newest documents that estimate a phrase's document frequency (see the module doc)
PREFIX_DF = 0.01  # the document frequency given to a prefix term in a large index (see the module doc)
_SQL_TYPES = {"str": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "INTEGER"}
# The id tiers (see SQLiteBackend._merge_ids): the small one is merged into the big one at
# sqrt(documents * ID_MERGE_BATCH) ids (70k at a million documents), never below ID_MERGE_MIN
ID_MERGE_BATCH = 5_000
ID_MERGE_MIN = 20_000
FTS_HASHSIZE = 64 << 20  # bytes of pending FTS terms before a flush: one level-0 segment per bulk statement
WRITE_PART = 1_000  # new documents per part of a bulk upsert (see _upsert_kind)
_CHUNK = 900  # ids per IN (...) lookup, well under SQLite's variable limit
FILTER_COLUMN = "#filters"  # FTS column of filter tokens (see filter_token)


@functools.lru_cache(maxsize=1 << 16)  # sites, vendors, countries repeat in every batch
def filter_token(field: str, value: str) -> str:
    """The word that stands for ``field = value`` in the FTS index: a search filtered on it is one more
    AND term that FTS5 intersects in its doclists (skipping whole pages), instead of a row lookup per
    text match. 64 bits of a hash: letters and digits only, so the tokenizer keeps it whole."""
    return "f" + hashlib.blake2b(f"{field}\x1f{value}".encode(), digest_size=8).hexdigest()


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


def _getter_at(positions: list[int]) -> Any:
    """A C-level reader of tuple items that always returns a tuple (itemgetter returns one bare item)."""
    if not positions:
        return lambda values: ()
    if len(positions) == 1:
        one = positions[0]
        return lambda values: (values[one],)
    return itemgetter(*positions)


def _bindable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every value SQLite cannot bind (a list or dict in a scalar field) stored as JSON."""
    return [tuple(_column_value(v) for v in row) for row in rows]


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _affine(kind: str, value: Any) -> Any:
    """``value`` as SQLite stores it in a column of ``kind`` (so a key built from a document equals the
    key built from the row read back): numbers in a TEXT column become text, ints in a REAL one floats."""
    value = _column_value(value)
    if value is None or isinstance(value, str) and kind == "str":
        return value
    if isinstance(value, bool):
        value = int(value)
    try:
        if kind == "str":
            return str(value)
        if kind == "float":
            return float(value)
        if kind in ("int", "bool") and isinstance(value, float) and value.is_integer():
            return int(value)
    except (TypeError, ValueError):
        pass
    return value


class _Rollup:
    """One pre-aggregated table: document counts (and numeric sums) per combination of ``keys``.

    The main roll-up of a kind is keyed by its dimensions plus the day of its default date field and
    sums every numeric field; a wide one by one more field (a list field: one row per element) plus the
    dimensions. Maintained inside the upsert's transaction from the old and new values of each
    document, so it is always consistent with the documents."""

    DAY, N, K = "#day", "#n", "#k"

    def __init__(self, schema: KindSchema, keys: tuple[str, ...]) -> None:
        self.kind = schema.kind
        self.list_field = next((n for n in keys if n != "@day" and schema.fields[n].kind == "list"), None)
        self.fields = [n for n in keys if n != "@day" and n != self.list_field]  # main-table columns
        self.sql_types = {n: _SQL_TYPES[schema.fields[n].kind] for n in self.fields} | {self.DAY: "TEXT"}
        self.date = schema.default_date_field if "@day" in keys and schema.default_date_field in schema.fields \
            else None
        self.sums = list(schema.rollup_sums) if self.date and not self.list_field else []
        self.table = _q(f"{self.kind}_agg_" + "_".join(n.strip("@") for n in keys))
        self.key_columns = ([self.list_field] if self.list_field else []) + self.fields + (
            [self.DAY] if self.date else [])

    def sum_column(self, name: str) -> str:
        return _q(f"#sum.{name}")

    def create(self, db: sqlite3.Connection) -> None:
        # key columns typed like the main table's, so a filter value compares the same way in both
        cols = "".join(f", {_q(n)} {self.sql_types.get(n, '')}".rstrip() for n in self.key_columns)
        sums = "".join(f", {self.sum_column(n)} REAL NOT NULL DEFAULT 0" for n in self.sums)
        db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({_q(self.K)} BLOB PRIMARY KEY{cols}, "
                   f"{_q(self.N)} INTEGER NOT NULL{sums}) WITHOUT ROWID")

    def add(self, db: sqlite3.Connection, layout: _Layout, rids: str | tuple[int, int] | None, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) what the documents whose rids ``rids`` selects (a query, or
        the range ``(first, last)``: new documents, read by a range scan of the rid key) contribute (all
        documents when None). Set-based SQL over the batch: the same expressions (``substr`` for the day,
        ``TOTAL`` for sums) as the scans the roll-up stands in for, so both agree."""
        keys = [f"t.{_q(n)}" for n in self.fields]
        if self.date:
            keys.append(f"substr(t.{_q(self.date)}, 1, 10)")

        def within(alias: str) -> list[str]:
            if rids is None:
                return []
            if isinstance(rids, tuple):  # bound, so that the statement is prepared once, not per range
                return [f"{alias}.rid BETWEEN ? AND ?"]
            return [f"{alias}.rid IN ({rids})"]

        source = f"{layout.t} t"
        where = within("t") or ["1"]
        if self.list_field:
            keys.insert(0, "l.value")
            if isinstance(rids, tuple):  # the range of main rows drives: each one's elements by its rid
                source = f"{layout.t} t CROSS JOIN {layout.lst} l ON l.rid = t.rid"
                where = [f"l.field = {_sql_literal(self.list_field)}", *within("t")]
            else:
                source = f"{layout.lst} l JOIN {layout.t} t ON t.rid = l.rid"
                where = [f"l.field = {_sql_literal(self.list_field)}", *within("l")]
        names = [self.K, *self.key_columns, self.N, *self.sums]
        cols = ", ".join([*(_q(n) for n in names[:-len(self.sums) or None]), *(self.sum_column(n) for n in self.sums)])
        picks = ", ".join([f"json_array({', '.join(keys)})", *keys, f"{sign} * COUNT(*)",
                           *(f"{sign} * TOTAL(t.{_q(n)})" for n in self.sums)])
        sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in (_q(self.N), *(self.sum_column(n) for n in self.sums)))
        db.execute(f"INSERT INTO {self.table} ({cols}) SELECT {picks} FROM {source} WHERE {' AND '.join(where)} "
                   f"GROUP BY 1 ON CONFLICT({_q(self.K)}) DO UPDATE SET {sets}",
                   (int(rids[0]), int(rids[1])) if isinstance(rids, tuple) else ())
        if sign < 0:
            db.execute(f"DELETE FROM {self.table} WHERE {_q(self.N)} = 0")

    def key_names(self) -> list[str]:
        """Main-table columns a document's contribution depends on (its keys, its day and its sums)."""
        return [*self.fields, *([self.date] if self.date else []), *self.sums]

    def bind(self, columns: list[str], kinds: dict[str, str]) -> None:
        """Prepare :meth:`contribute` for documents given as tuples of ``columns``' values."""
        at = {n: i for i, n in enumerate(columns)}
        self._key = _getter_at([at[n] for n in self.fields])
        self._day = at[self.date] if self.date else None
        self._sums = [(at[n], kinds[n]) for n in self.sums]
        self._kinds = [kinds[n] for n in self.fields]

    def contribute(self, delta: dict[tuple[Any, ...], list[float]], values: tuple[Any, ...],
                   elements: Iterable[Any] | None, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) one document's contribution to ``delta``: what :meth:`add`
        computes in SQL. ``values`` are the document's columns (see :meth:`bind`), as given or as stored:
        keys are brought to their stored form once per key in :meth:`apply`, not per document."""
        key: tuple[Any, ...] = self._key(values)
        if self._day is not None:
            day = values[self._day]
            key += (day[:10] if type(day) is str else None if day is None else _affine("str", day)[:10],)
        if self.list_field is not None:
            keys = [(v, *key) for v in (elements or ())]
        else:
            keys = [key]
        for k in keys:
            row = delta.get(k)
            if row is None:
                row = delta[k] = [0, *(0.0 for _ in self.sums)]
            row[0] += sign
            for j, (i, kind) in enumerate(self._sums, 1):
                x = values[i]
                if x is not None:
                    row[j] += sign * (x if type(x) is float else _total_term(_affine(kind, x)))

    def apply(self, db: sqlite3.Connection, delta: dict[tuple[Any, ...], list[float]]) -> None:
        """Write a batch's summed contributions: one row per key, a few hundred per batch (the keys are
        low-cardinality), and drop the keys no document has any more. The key is built by SQLite's
        ``json_array`` from the bound values, as :meth:`add` builds it."""
        stored: dict[tuple[Any, ...], list[float]] = {}
        offset = 1 if self.list_field is not None else 0
        for key, row in delta.items():
            if any(type(v) is not str for v in key[offset:offset + len(self._kinds)]):
                key = (*key[:offset], *(_affine(kind, v) for kind, v in zip(self._kinds, key[offset:], strict=False)),
                       *key[offset + len(self._kinds):])
            have = stored.get(key)
            if have is None:
                stored[key] = row
            else:
                for i, x in enumerate(row):
                    have[i] += x
        rows = [(*k, *k, *v) for k, v in stored.items() if any(v)]
        if not rows:
            return
        n_keys = len(self.key_columns)
        cols = ", ".join([_q(self.K), *(_q(n) for n in self.key_columns), _q(self.N),
                          *(self.sum_column(n) for n in self.sums)])
        marks = ", ".join(["json_array(" + ", ".join("?" for _ in range(n_keys)) + ")",
                           *("?" for _ in range(n_keys + 1 + len(self.sums)))])
        sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in (_q(self.N), *(self.sum_column(n) for n in self.sums)))
        db.executemany(f"INSERT INTO {self.table} ({cols}) VALUES ({marks}) "
                       f"ON CONFLICT({_q(self.K)}) DO UPDATE SET {sets}", rows)
        if any(v[0] < 0 for v in stored.values()):
            db.execute(f"DELETE FROM {self.table} WHERE {_q(self.N)} = 0")

    def rebuild(self, db: sqlite3.Connection, layout: _Layout) -> None:
        """Fill the roll-up from the documents (a new index layout, or a roll-up added later)."""
        db.execute(f"DELETE FROM {self.table}")
        self.add(db, layout, None, 1)


_BATCH = "SELECT rid FROM temp.sokhund_batch"


def _total_term(value: Any) -> float:
    """What SQLite's ``TOTAL`` adds for a stored value: a number as itself, NULL and non-numeric text as
    0, numeric text as its number (the model's numbers are numbers; this is for hand-written data)."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    found = _NUMERIC_PREFIX.match(value) if isinstance(value, str) else None
    return float(found.group(0)) if found else 0.0


_NUMERIC_PREFIX = re.compile(r"[ \t\n\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tokens_of(names: list[str], values: tuple[Any, ...]) -> list[str]:
    return [filter_token(n, v if isinstance(v, str) else _affine("str", v))
            for n, v in zip(names, values, strict=True) if v is not None]


@dataclasses.dataclass
class _Rows:
    """A part of an upsert as table rows."""

    main: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    doc: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    lists: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    fts_delete: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    fts_insert: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


def _add_rollups(db: sqlite3.Connection, layout: _Layout, span: tuple[int, int]) -> None:
    for rollup in layout.rollups:
        rollup.add(db, layout, span, 1)


class _Row:
    """Stored column values read as attributes (the filter tokens of a document already in the index)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class _Layout:
    """Where each field of a kind lives: main table column, doc-table text column, list table or JSON only."""

    def __init__(self, schema: KindSchema) -> None:
        self.kind = schema.kind
        self.text = [n for n in schema.text_fields if n in schema.fields]
        self.main = [c for c in schema.scalar_fields if c.name not in schema.text_fields]
        self.lists = [f.name for f in schema.fields.values() if f.kind == "list"]
        self.t, self.d = _q(self.kind), _q(f"{self.kind}_doc")
        self.fts, self.lst = _q(f"{self.kind}_fts"), _q(f"{self.kind}_list")
        self.ids, self.ids_new = _q(f"{self.kind}_ids"), _q(f"{self.kind}_ids_new")  # the two id tiers
        self.weights = ", ".join(str(schema.text_fields[n]) for n in self.text)
        self._main = _getter([c.name for c in self.main])
        self._text = _getter(self.text)
        self._lists = _getter(self.lists)
        self.rollups = [_Rollup(schema, keys) for keys in schema.rollups]
        kinds = {c.name: c.kind for c in self.main}
        position = {c.name: i for i, c in enumerate(self.main)}
        self.rolled_columns = sorted({n for r in self.rollups for n in r.key_names()})
        self.rolled = _getter_at([position[n] for n in self.rolled_columns])  # main values -> roll-up columns
        for rollup in self.rollups:
            rollup.bind(self.rolled_columns, kinds)
        self.rolled_lists = sorted({r.list_field for r in self.rollups if r.list_field})
        # equality filters that searches turn into FTS terms: the text fields of the roll-ups' keys
        keyed = {n for r in self.rollups for n in (*r.fields, *([r.list_field] if r.list_field else []))}
        scalars = [n for n in sorted(keyed) if schema.fields[n].kind == "str"] if self.text else []
        self.looked_up = frozenset(TOKEN_LOOKUPS & set(scalars))
        # low-cardinality fields first: their tokens are joined once per combination (see tokens)
        self.token_scalars = [*(n for n in scalars if n not in self.looked_up), *(n for n in scalars if n in self.looked_up)]
        self.token_lists = [n for n in sorted(keyed) if schema.fields[n].kind == "list"] if self.text else []
        self._token_values = _getter(self.token_scalars)
        self._common = len(self.token_scalars) - len(self.looked_up)
        self._common_names, self._rare_names = self.token_scalars[:self._common], self.token_scalars[self._common:]
        self._joined: dict[tuple[Any, ...], str] = {}
        tokens = bool(self.token_scalars or self.token_lists)
        self.fts_cols = [*self.text, *([FILTER_COLUMN] if tokens else [])]  # doc-table columns the FTS indexes
        self.weights += ", 0" if tokens else ""

    def tokens(self, doc: Document, lists: dict[str, set[Any]]) -> str:
        """The filter tokens of a document (its FILTER_COLUMN text).

        The low-cardinality fields (site, substance, countries …) repeat a few hundred combinations in a
        million documents: their tokens are joined once per combination of string values."""
        values = self._token_values(doc)
        common = values[:self._common]
        joined = self._joined.get(common)
        if joined is None:
            joined = " ".join(_tokens_of(self._common_names, common))
            if all(v is None or type(v) is str for v in common):  # a number equal to another would share a key
                if len(self._joined) >= 1 << 14:
                    self._joined.clear()
                self._joined[common] = joined
        out = [joined] if joined else []
        out += _tokens_of(self._rare_names, values[self._common:])
        for n in self.token_lists:
            out += [filter_token(n, v) for v in lists.get(n, ()) if isinstance(v, str)]
        return " ".join(out)

    def values(self, doc: Document) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], str]:
        """(main-table values, text values, list-field values (in ``lists`` order), JSON) of a document.

        orjson serialises the dataclass itself (its fields, in order: what ``doc_to_dict`` gives) about
        ten times faster than ``json.dumps``, and ``attrgetter`` reads the columns in C; a class with
        its own ``to_dict`` is read from that. Values that SQLite cannot bind are converted by
        :func:`_bindable` only when a batch needs it."""
        if type(doc).to_dict is Document.to_dict:
            return (self._main(doc), self._text(doc), self._lists(doc),
                    orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode())
        data = doc.to_dict()
        return (tuple(data.get(c.name) for c in self.main), tuple(data.get(n) for n in self.text),
                tuple(data.get(n) for n in self.lists), orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode())

    def signature(self) -> str:
        return json.dumps({"v": SCHEMA_VERSION, "text": self.text, "lists": self.lists, "tok": TOKENIZER,
                           "rollups": [r.key_columns + r.sums for r in self.rollups],
                           "tokens": [self.token_scalars, self.token_lists]})



class SQLiteBackend:
    """SQLite + FTS5 implementation of :class:`indexer.base.IndexBackend`."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000, rank_window: int | None = None,
                 rank_span: int | None = None, must_exist: bool = False, background_checkpoints: bool | None = None) -> None:
        self.path = Path(path)
        self.rank_window = _count_setting(rank_window, "SOKHUND_SQLITE_RANK_WINDOW", RANK_WINDOW)
        self.rank_span = _count_setting(rank_span, "SOKHUND_SQLITE_RANK_SPAN", RANK_SPAN)
        # a 0-byte file (a failed copy, `> index.sqlite`) is no index either: SQLite would make it a new one
        if must_exist and (not self.path.is_file() or self.path.stat().st_size == 0):
            why = " (a folder)" if self.path.is_dir() else " (an empty file)" if self.path.is_file() else ""
            raise IndexError_(f"no index at {self.path}{why}"
                              + ": give --index the path of an existing index.sqlite, set SOKHUND_HOME to the data "
                              "directory of an earlier crawl or demo (default: ./.sokhund of the directory you "
                              "run in), or crawl first (sokhund crawl SITE)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._given_dfs = fts_rank.available()  # before connecting: connections opened later have it
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
        except sqlite3.Error as exc:
            raise IndexError_(f"cannot open SQLite index {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # A new index gets 16 KiB pages (an existing one keeps its own): documents of 1-2 KiB no longer
            # leave a third of every 4 KiB page empty, and a bulk load writes a fifth fewer bytes.
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise IndexError_(f"SQLite index {self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA cache_size = -131072")  # 128 MiB: the id index of 1M listings stays in memory
            self._db.execute("PRAGMA temp_store = MEMORY")
            self._db.execute("PRAGMA mmap_size = 1073741824")  # reads of a large index go through the page cache
            self._db.execute("PRAGMA foreign_keys = OFF")
            # Checkpoints run in a thread after each commit (indexer.wal_checkpoint); the writer's own, inside
            # the commit that crosses this many pages, is the backstop that bounds the WAL if that thread lags
            self._db.execute("PRAGMA wal_autocheckpoint = 16000")  # pages: 250 MiB at 16 KiB (64 MiB at 4 KiB)
        except sqlite3.Error as exc:  # "file is not a database" says which file nowhere else
            self._db.close()
            if any(w in str(exc).lower() for w in ("malformed", "corrupt", "not a database")):
                raise IndexError_(f"SQLite index {self.path} is damaged ({exc}): cannot open it; restore it from "
                                  "a backup, or move it aside to start a new index") from exc
            raise IndexError_(f"cannot open SQLite index {self.path}: {exc}") from exc
        if background_checkpoints is None:  # on unless SOKHUND_SQLITE_BACKGROUND_CHECKPOINTS=0 (one core, say)
            background_checkpoints = os.environ.get("SOKHUND_SQLITE_BACKGROUND_CHECKPOINTS", "1").strip() != "0"
        self._checkpointer = WalCheckpointer(self.path) if background_checkpoints else None
        self._ready: set[str] = set()
        self._layouts: dict[str, _Layout] = {}
        # (FTS table, phrase) -> (share of the sample, newest rid then): reused until DF_SAMPLE / 10 more
        # documents arrived (an analyst's words repeat; an estimate needs no per-commit freshness)
        self._shares: dict[tuple[str, str], tuple[float, int]] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None  # roll-ups of a bulk upsert's parts
        self._executor_pid = os.getpid()

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
                # a migration rewrites most pages into the WAL; reads from the WAL bypass mmap and are
                # several times slower, so copy them back now rather than at some later checkpoint
                wal = Path(f"{self.path}-wal")
                if wal.exists() and wal.stat().st_size > 64 << 20:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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
        if not docs or any(n not in docs for n in layout.fts_cols):
            return False
        if layout.looked_up and self._db.execute(  # an index an earlier version made (dropped in _create)
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name IN ("
                + ", ".join("?" for _ in layout.looked_up) + ")",
                [f"{layout.kind}_{n}" for n in sorted(layout.looked_up)]).fetchone():
            return False
        if self._meta(f"{layout.kind}_layout") != layout.signature():
            return False
        if not self._columns(f"{layout.kind}_ids") or not self._columns(f"{layout.kind}_ids_new"):
            return False
        listed = self._db.execute(f"PRAGMA index_list({layout.t})").fetchall()
        if any(r[2] for r in listed):  # layouts before the id tiers: id UNIQUE in the main table
            return False
        indexes = {r[1] for r in listed}
        return all(_date_index_name(layout.kind, cols) in indexes for cols in DATE_INDEXES.get(layout.kind, ()))

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
            f"CREATE TABLE IF NOT EXISTS {layout.t} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL"
            + "".join(f", {_q(c.name)} {_SQL_TYPES[c.kind]}" for c in layout.main) + ")"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {layout.d} (rid INTEGER PRIMARY KEY, doc TEXT NOT NULL"
            + "".join(f", {_q(n)} TEXT" for n in layout.fts_cols) + ")"
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
        self._split_ids(layout)
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
        if FILTER_COLUMN in layout.fts_cols and FILTER_COLUMN not in docs:
            db.execute(f"ALTER TABLE {layout.d} ADD COLUMN {_q(FILTER_COLUMN)} TEXT")
        # Few secondary indexes: each costs ~10% of bulk-insert speed; low-cardinality filters
        # (ships_from, substance_class) are cheap to scan in the narrow table.
        schema = schema_for(kind)
        for name in INDEXED_COLUMNS:
            if name in layout.looked_up:
                db.execute(f"DROP INDEX IF EXISTS {_q(f'{kind}_{name}')}")
            elif any(c.name == name for c in layout.main):
                db.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'{kind}_{name}')} ON {layout.t}({_q(name)})")
        for cols in DATE_INDEXES.get(kind, ()):
            if all(c in main for c in cols):
                db.execute(f"CREATE INDEX IF NOT EXISTS {_q(_date_index_name(kind, cols))} ON {layout.t}("
                           + ", ".join(_q(c) for c in cols) + ")")
        signature = layout.signature()
        stored = self._meta(f"{kind}_layout")
        rollups_changed = stored != signature
        rebuild = rollups_changed and not _same_but_rollups(stored, signature)  # else only the roll-ups
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
                self._fill_tokens(layout)
            db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {layout.fts} USING fts5("
                + ", ".join(_q(n) for n in layout.fts_cols)
                + f", content={layout.d}, content_rowid='rid', tokenize='{TOKENIZER}')"
            )
            # a bulk statement's terms become one segment, not one per MiB that FTS5 then merges again
            db.execute(f"INSERT INTO {layout.fts}({layout.fts}, rank) VALUES ('hashsize', {FTS_HASHSIZE})")
            if rebuild:
                db.execute(f"INSERT INTO {layout.fts}({layout.fts}) VALUES ('rebuild')")
        if rebuild:  # layouts before 3 had indexes the roll-ups replace
            for name in ("site", "substance", schema.default_date_field):
                if name not in INDEXED_COLUMNS:
                    db.execute(f"DROP INDEX IF EXISTS {_q(f'{kind}_{name}')}")
        for rollup in layout.rollups:
            if rollups_changed:
                db.execute(f"DROP TABLE IF EXISTS {rollup.table}")
            rollup.create(db)
            if rollups_changed:
                rollup.rebuild(db, layout)
        db.execute("INSERT OR REPLACE INTO sokhund_meta(key, value) VALUES (?, ?)", (f"{kind}_layout", signature))

    def _split_ids(self, layout: _Layout) -> None:
        """Create the two id tiers; an index from before them (``id`` UNIQUE in the main table) has its
        main table rebuilt without that index (SQLite cannot drop it) and its ids moved to the big tier."""
        db = self._db
        had_tiers = bool(self._columns(f"{layout.kind}_ids"))
        for tier in (layout.ids, layout.ids_new):
            db.execute(f"CREATE TABLE IF NOT EXISTS {tier} (id TEXT PRIMARY KEY, rid INTEGER NOT NULL) WITHOUT ROWID")
        if any(r[2] for r in db.execute(f"PRAGMA index_list({layout.t})").fetchall()):
            info = db.execute(f"PRAGMA table_info({layout.t})").fetchall()
            names = [r[1] for r in info if r[1] not in ("rid", "id")]
            scratch = _q(f"{layout.kind}__ids_split")
            db.execute(f"DROP TABLE IF EXISTS {scratch}")
            db.execute(f"CREATE TABLE {scratch} (rid INTEGER PRIMARY KEY, id TEXT NOT NULL"
                       + "".join(f", {_q(r[1])} {r[2]}".rstrip() for r in info if r[1] in names) + ")")
            cols = "".join(", " + _q(n) for n in names)
            db.execute(f"INSERT INTO {scratch} (rid, id{cols}) SELECT rid, id{cols} FROM {layout.t}")
            db.execute(f"DROP TABLE {layout.t}")  # and its indexes: _create makes the ones still wanted
            db.execute(f"ALTER TABLE {scratch} RENAME TO {layout.t}")
            had_tiers = False
        if not had_tiers:
            db.execute(f"DELETE FROM {layout.ids_new}")
            db.execute(f"DELETE FROM {layout.ids}")
            db.execute(f"INSERT INTO {layout.ids} (id, rid) SELECT id, rid FROM {layout.t} ORDER BY id")

    def _fill_tokens(self, layout: _Layout) -> None:
        """Write the filter tokens of every stored document (a new layout, or new filter fields)."""
        if FILTER_COLUMN not in layout.fts_cols:
            return
        cols = "".join(f", t.{_q(n)}" for n in layout.token_scalars)
        rows = self._db.execute(f"SELECT t.rid{cols} FROM {layout.t} t").fetchall()
        lists: dict[int, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
        if layout.token_lists:
            marks = ", ".join("?" for _ in layout.token_lists)
            for rid, field, value in self._db.execute(
                    f"SELECT rid, field, value FROM {layout.lst} WHERE field IN ({marks})", layout.token_lists):
                lists[rid][field].add(value)
        updates = []
        for row in rows:
            doc = _Row(dict(zip(layout.token_scalars, row[1:], strict=True)))
            updates.append((layout.tokens(doc, lists.get(row[0], {})), row[0]))  # type: ignore[arg-type]
        self._db.executemany(f"UPDATE {layout.d} SET {_q(FILTER_COLUMN)} = ? WHERE rid = ?", updates)

    def _backfill(self, layout: _Layout, name: str) -> None:
        self._db.execute(
            f"UPDATE {layout.t} SET {_q(name)} = (SELECT json_extract(d.doc, ?) FROM {layout.d} d "
            f"WHERE d.rid = {layout.t}.rid)", (f'$."{name}"',),
        )

    # ------------------------------------------------------------------ writes
    class _Tx:
        def __init__(self, db: sqlite3.Connection, checkpointer: WalCheckpointer | None) -> None:
            self.db = db
            self.checkpointer = checkpointer

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
            if self.checkpointer is not None and not exc_type:
                self.checkpointer.poke()

    def _write(self) -> SQLiteBackend._Tx:
        return SQLiteBackend._Tx(self._db, self._checkpointer)

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
        with self._lock, _collector_paused():
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
            rids.update(db.execute(self._in_tiers(layout, len(chunk), "id, rid"), chunk * 2).fetchall())
        existing = list(rids.values())
        next_rid = first_new = int(db.execute(f"SELECT COALESCE(MAX(rid), 0) FROM {layout.t}").fetchone()[0]) + 1
        for doc_id in ids:
            if doc_id not in rids:
                rids[doc_id] = next_rid
                next_rid += 1
        old_text: dict[int, tuple[Any, ...]] = {}
        if layout.text and existing:
            cols = ", ".join(_q(n) for n in layout.fts_cols)
            for chunk in _chunks(existing):
                marks = ", ".join("?" for _ in chunk)
                for row in db.execute(f"SELECT rid, {cols} FROM {layout.d} WHERE rid IN ({marks})", chunk):
                    old_text[row[0]] = tuple(row[1:])
        # Roll-ups: each document's contribution is summed here per key (the stored versions taken
        # out, the new ones put in) and written as one row per key: a batch of thousands of documents
        # touches a few hundred roll-up rows, and nothing is read back from the tables just written.
        deltas: list[dict[tuple[Any, ...], list[float]]] = [{} for _ in layout.rollups]
        if layout.rollups and existing:
            self._take_out(db, layout, existing, deltas)
        names = ["rid", "id", *(c.name for c in layout.main)]
        insert = f"INSERT INTO {layout.t} ({', '.join(_q(n) for n in names)}) VALUES ({', '.join('?' for _ in names)})"
        dnames = ["rid", "doc", *layout.fts_cols]
        dinsert = f"INTO {layout.d} ({', '.join(_q(n) for n in dnames)}) VALUES ({', '.join('?' for _ in dnames)})"
        linsert = f"INSERT OR IGNORE INTO {layout.lst} (field, value, rid) VALUES (?, ?, ?)"
        cols = ", ".join(_q(n) for n in layout.fts_cols)
        marks = ", ".join("?" for _ in layout.fts_cols)
        if existing:  # replaced documents: rows updated in place, text re-indexed only where it changed
            stored = [(doc_id, doc) for doc_id, doc in items.items() if rids[doc_id] < first_new]
            rows = self._rows(layout, stored, rids, first_new, old_text, deltas)
            _executemany(db, insert + " ON CONFLICT(rid) DO UPDATE SET "
                         + ", ".join(f"{_q(n)} = excluded.{_q(n)}" for n in names[1:]), rows.main)
            _executemany(db, "INSERT OR REPLACE " + dinsert, rows.doc)
            if rows.fts_delete:
                db.executemany(f"INSERT INTO {layout.fts}({layout.fts}, rowid, {cols}) VALUES ('delete', ?, {marks})",
                               rows.fts_delete)
            if rows.fts_insert:
                _executemany(db, f"INSERT INTO {layout.fts}(rowid, {cols}) VALUES (?, {marks})", rows.fts_insert)
            if layout.lists:
                for chunk in _chunks(existing):
                    db.execute(f"DELETE FROM {layout.lst} WHERE rid IN ({', '.join('?' for _ in chunk)})", chunk)
                if rows.lists:
                    _executemany(db, linsert, rows.lists)
        for rollup, delta in zip(layout.rollups, deltas, strict=True):
            rollup.apply(db, delta)
        if next_rid == first_new:
            return
        # New documents (the bulk of a first crawl) are plain appends: rids are handed out in order. They
        # are written in parts, and each part's roll-ups are grouped by SQLite over its rid range (in C,
        # about twice as fast as summing them here, with the same expressions as a rebuild) in a worker
        # thread, without the GIL, while this thread builds the next part's rows: two cores, not one.
        fresh = [(doc_id, doc) for doc_id, doc in items.items() if rids[doc_id] >= first_new]
        pending: concurrent.futures.Future[None] | None = None
        try:
            for lo in range(0, len(fresh), WRITE_PART):
                part = fresh[lo:lo + WRITE_PART]
                rows = self._rows(layout, part, rids, first_new, old_text, deltas)
                if pending is not None:
                    pending.result()
                    pending = None
                _executemany(db, insert, rows.main)
                _executemany(db, "INSERT " + dinsert, rows.doc)
                if rows.lists:
                    _executemany(db, linsert, rows.lists)
                span = (rids[part[0][0]], rids[part[-1][0]])
                if layout.rollups:
                    pending = self._worker().submit(_add_rollups, db, layout, span)
        finally:
            if pending is not None:
                concurrent.futures.wait([pending])
        if pending is not None:
            pending.result()
        # ids and FTS entries copied by SQLite from the rows just written: nothing bound twice
        added = (first_new, next_rid - 1)
        db.execute(f"INSERT INTO {layout.ids_new} (id, rid) SELECT id, rid FROM {layout.t} WHERE rid BETWEEN ? AND ?",
                   added)
        self._merge_ids(db, layout, next_rid - 1)
        if layout.text:
            db.execute(f"INSERT INTO {layout.fts}(rowid, {cols}) SELECT rid, {cols} FROM {layout.d} "
                       f"WHERE rid BETWEEN ? AND ?", added)

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        # a forked child inherits the executor but not its thread: it would wait forever, so it gets its own
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sokhund-sqlite")
            self._executor_pid = os.getpid()
        return self._executor

    @staticmethod
    def _rows(layout: _Layout, docs: list[tuple[str, Document]], rids: dict[str, int], first_new: int,
              old_text: dict[int, tuple[Any, ...]], deltas: list[dict[tuple[Any, ...], list[float]]]) -> _Rows:
        """The rows of ``docs`` for every table; replaced documents' new contributions added to ``deltas``."""
        out = _Rows()
        main_rows, doc_rows, list_rows = out.main, out.doc, out.lists
        list_names = layout.lists
        tokens = len(layout.fts_cols) > len(layout.text)
        for doc_id, doc in docs:
            rid = rids[doc_id]
            main, texts, lists, body = layout.values(doc)
            elements: dict[str, set[Any]] = {}
            main_rows.append((rid, doc_id, *main))
            for name, values in zip(list_names, lists, strict=True):
                if values and isinstance(values, list | tuple | set | frozenset):
                    try:
                        unique = set(values)  # strings, the common case, hash as they are
                    except TypeError:  # objects (contacts …) are stored as json_each shows them
                        unique = {_element(x) for x in values}
                    unique.discard(None)
                    list_rows.extend([(name, v, rid) for v in unique])
                    elements[name] = unique
            if tokens:
                texts = (*texts, layout.tokens(doc, elements))
            doc_rows.append((rid, body, *texts))
            if rid >= first_new:
                continue
            if deltas:  # new documents are rolled up in SQL
                rolled = layout.rolled(main)
                for rollup, delta in zip(layout.rollups, deltas, strict=True):
                    rollup.contribute(delta, rolled, elements.get(rollup.list_field, ()), 1)
            if layout.text:
                before = old_text.get(rid)
                if before is None:  # stored without text columns (hand-written data)
                    out.fts_insert.append((rid, *texts))
                elif before != texts:
                    out.fts_delete.append((rid, *before))
                    out.fts_insert.append((rid, *texts))
        return out

    @staticmethod
    def _merge_ids(db: sqlite3.Connection, layout: _Layout, documents: int) -> None:
        """Move the small id tier into the big one once it holds ``sqrt(documents * ID_MERGE_BATCH)`` ids.

        Ids are hashes, so every new one lands at a random place of an id B-tree: in one B-tree of a
        million ids, a batch of 5,000 dirtied nearly all of its ~2,900 pages (46 MiB of WAL per batch, a
        fifth of the write time). New ids go to a small tier instead, a few hundred pages that stay in
        the cache, and are merged into the big one in id order every ``m`` new documents: the big tier's
        pages are then written once per ``m`` documents, not once per batch. ``m ~ sqrt(N * batch)``
        balances the two: the small tier rewritten each batch against the big one rewritten each merge."""
        pending = int(db.execute(f"SELECT COUNT(*) FROM {layout.ids_new}").fetchone()[0])
        if pending >= max(ID_MERGE_MIN, math.isqrt(max(0, documents) * ID_MERGE_BATCH)):
            db.execute(f"INSERT INTO {layout.ids} (id, rid) SELECT id, rid FROM {layout.ids_new}")
            db.execute(f"DELETE FROM {layout.ids_new}")

    @staticmethod
    def _take_out(db: sqlite3.Connection, layout: _Layout, rids: list[int],
                  deltas: list[dict[tuple[Any, ...], list[float]]]) -> None:
        """Subtract what the stored versions of documents about to be replaced contribute to the
        roll-ups (read before anything of this batch is written)."""
        elements: dict[int, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
        names = layout.rolled_columns
        cols = "".join(f", {_q(n)}" for n in names)
        for chunk in _chunks(rids):
            marks = ", ".join("?" for _ in chunk)
            if layout.rolled_lists:
                fields = ", ".join("?" for _ in layout.rolled_lists)
                for rid, field, value in db.execute(
                        f"SELECT rid, field, value FROM {layout.lst} WHERE rid IN ({marks}) AND field IN ({fields})",
                        [*chunk, *layout.rolled_lists]):
                    elements[rid][field].add(value)
            for row in db.execute(f"SELECT rid{cols} FROM {layout.t} WHERE rid IN ({marks})", chunk):
                mine = elements.get(row[0], {})
                for rollup, delta in zip(layout.rollups, deltas, strict=True):
                    rollup.contribute(delta, row[1:], mine.get(rollup.list_field, ()) if rollup.list_field else None, -1)

    @staticmethod
    def _batch_rids(db: sqlite3.Connection, rids: list[int]) -> None:
        """The rids of the documents being written, for the roll-ups' set-based updates."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS sokhund_batch (rid INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM temp.sokhund_batch")
        db.executemany("INSERT OR IGNORE INTO temp.sokhund_batch (rid) VALUES (?)", [(r,) for r in rids])

    def delete(self, kind: str, doc_id: str) -> None:
        self._ensure(kind)
        layout = self._layout(kind)
        with self._lock, self._write() as db:
            row = db.execute(self._in_tiers(layout, 1), (doc_id, doc_id)).fetchone()
            if row is None:
                return
            rid = row[0]
            db.execute(f"DELETE FROM {layout.ids} WHERE id = ?", (doc_id,))
            db.execute(f"DELETE FROM {layout.ids_new} WHERE id = ?", (doc_id,))
            if layout.rollups:
                self._batch_rids(db, [rid])
                for rollup in layout.rollups:
                    rollup.add(db, layout, _BATCH, -1)
            if layout.text:
                cols = ", ".join(_q(n) for n in layout.fts_cols)
                old = db.execute(f"SELECT {cols} FROM {layout.d} WHERE rid = ?", (rid,)).fetchone()
                if old is not None:
                    db.execute(
                        f"INSERT INTO {layout.fts}({layout.fts}, rowid, {cols}) "
                        f"VALUES ('delete', ?, {', '.join('?' for _ in layout.fts_cols)})",
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
            if name == "id":  # through the id tiers (the main table has no index on id)
                clauses.append(f"t.rid IN ({self._in_tiers(layout, len(values))})")
                params.extend(values)  # once per tier: here and below
            elif info is not None and info.kind == "list":
                check_field(name)
                clauses.append(f"t.rid IN (SELECT rid FROM {layout.lst} WHERE field = ? AND value IN ({marks}))")
                params.append(name)
            elif name in layout.looked_up and values and all(isinstance(v, str) for v in values):
                # the documents through the filter token's doclist; the column check keeps it exact
                clauses.append(f"t.rid IN (SELECT rowid FROM {layout.fts} WHERE {layout.fts} MATCH ?) "
                               f"AND t.{_q(name)} IN ({marks})")
                params.append(" OR ".join(filter_token(name, v) for v in values))
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

    def _rollup_for(self, schema: KindSchema, filters: SearchFilters | None, *, target: str | None = None,
                    histogram: str | None = None, sum_field: str | None = None) -> tuple[_Rollup, list[str], list[Any]] | None:
        """The roll-up that answers a terms (``target``), histogram or count query exactly, with its WHERE
        clauses; None when the query needs the documents: a filter on a field the roll-up does not keep,
        a price range, a date bound that is not a whole day, a histogram on another date field."""
        layout = self._layout(schema.kind)
        conditions: list[tuple[str, list[Any] | None]] = []
        if filters is not None:
            if filters.price_min is not None or filters.price_max is not None:
                return None
            for name in ("site", "vendor", "substance", "substance_class", "ships_from"):
                value = getattr(filters, name)
                if value is not None:
                    conditions.append((name, value))
            conditions += list((filters.extra or {}).items())
        gte = lt = lte = None
        if filters is not None:
            gte, lt, lte = date_bounds(filters)
        dated = bool(gte or lt or lte)
        if dated and (lte or schema.date_field(filters.date_field) != schema.default_date_field  # type: ignore[union-attr]
                      or any(b and len(b) != 10 for b in (gte, lt))):
            return None
        for rollup in layout.rollups:
            if rollup.list_field is not None and target != rollup.list_field:
                continue  # a roll-up over list elements counts elements: it answers terms on them only
            if target is not None and target != rollup.list_field and target not in rollup.fields:
                continue
            if (histogram or dated) and (rollup.date is None or (histogram and histogram != rollup.date)):
                continue
            if histogram and sum_field is not None and sum_field not in rollup.sums:
                continue
            if any(name not in rollup.fields for name, _ in conditions):
                continue
            clauses: list[str] = []
            params: list[Any] = []
            for name, value in conditions:
                column = f"r.{_q(check_field(name))}"
                if value is None:
                    clauses.append(f"{column} IS NULL")
                    continue
                values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
                values = [int(v) if isinstance(v, bool) else v for v in values]
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
            for op, bound in ((">=", gte), ("<", lt)):
                if bound:
                    clauses.append(f"r.{_q(_Rollup.DAY)} {op} ?")
                    params.append(bound)
            return rollup, clauses, params
        return None

    def _date_ordered(self, schema: KindSchema, filters: SearchFilters | None, date_field: str) -> bool:
        """Whether a DATE_INDEXES index serves a histogram of ``date_field``: its first field filtered by
        equality (text values), so the rows it reads are the few that match, in date order."""
        if filters is None:
            return False
        for first, date_col, _ in DATE_INDEXES.get(schema.kind, ()):
            value = getattr(filters, first, None) if first in _NAMED_FILTERS else (filters.extra or {}).get(first)
            values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
            if date_col == date_field and value is not None and all(isinstance(v, str) for v in values):
                return True
        return False

    @staticmethod
    def _in_tiers(layout: _Layout, n: int, columns: str = "rid") -> str:
        """``columns`` of the documents whose ``n`` ids are bound twice, once per id tier (each stored id is
        in exactly one of them)."""
        marks = ", ".join("?" for _ in range(n))
        return " UNION ALL ".join(f"SELECT {columns} FROM {tier} WHERE id IN ({marks})"
                                  for tier in (layout.ids, layout.ids_new))

    def _in_id_order(self, layout: _Layout, clauses: list[str], params: list[Any], uses: set[str], limit: int,
                     after: str | None = None) -> list[tuple[Any, ...]]:
        """(id, JSON) of the first ``limit`` documents by id (past ``after``) that pass ``clauses``: each
        id tier walked in its own order, joined to the main table by rid (so no filter's index, a
        DATE_INDEXES one on a common substance whose rows would all be sorted, drives the read), and
        the two walks merged by SQLite. Each walk stops after ``limit`` matches."""
        where = [*(["k.id > ?"] if after is not None else []), *clauses]
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        joined = f" JOIN {layout.d} d ON d.rid = t.rid" if "d" in uses else ""
        walks = [f"SELECT * FROM (SELECT k.id, k.rid FROM {tier} k CROSS JOIN {layout.t} t ON t.rid = k.rid{joined}"
                 f"{cond} ORDER BY k.id LIMIT ?)" for tier in (layout.ids, layout.ids_new)]
        args = [*([after] if after is not None else []), *params, limit]
        return self._read(f"SELECT x.id, d.doc FROM ({' UNION ALL '.join(walks)} ORDER BY 1 LIMIT ?) x "
                          f"JOIN {layout.d} d ON d.rid = x.rid ORDER BY x.id", [*args, *args, limit])

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

    def _iterate(self, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
        """Rows of a large read, fetched in batches under the lock (one statement, one snapshot)."""
        with self._lock:
            try:
                cursor = self._db.execute(sql, params)
                while batch := cursor.fetchmany(10_000):
                    yield from batch
            except sqlite3.Error as exc:
                raise IndexError_(f"SQLite index {self.path}: query failed: {exc}") from exc

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        self._ensure(kind)
        layout = self._layout(kind)
        rows = self._read(f"SELECT d.doc FROM {layout.d} d WHERE d.rid IN ({self._in_tiers(layout, 1)})", [doc_id, doc_id])
        return json.loads(rows[0][0]) if rows else None

    def iter_docs(self, kind: str, filters: SearchFilters | None = None) -> Iterator[dict[str, Any]]:
        """Every document of a kind in id order, fetched in pages (safe while others write)."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        last = None
        while True:
            rows = self._in_id_order(layout, clauses, params, uses, 1000, last)
            for _, doc in rows:
                yield json.loads(doc)
            if len(rows) < 1000:
                return
            last = rows[-1][0]

    def count(self, kind: str, filters: SearchFilters | None = None, query: str | None = None) -> int:
        """Documents matching ``filters`` (and ``query``, expanded as :meth:`search` expands it)."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        if not query:
            routed = self._rollup_for(schema, filters) if filters is not None else None
            if routed is not None:
                rollup, rclauses, rparams = routed
                where = f" WHERE {' AND '.join(rclauses)}" if rclauses else ""
                return int(self._read(f"SELECT TOTAL({_q(_Rollup.N)}) FROM {rollup.table} r{where}", rparams)[0][0])
        clauses, params, uses = self._where(schema, filters)
        plan = self._plan(schema, query)
        if not plan:
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            return int(self._read(f"SELECT COUNT(*) FROM {self._source(layout, uses)}{where}", params)[0][0])
        if not layout.text:
            return 0
        parts, args = [], []
        for expression, alt, _ in self._alternatives(schema, filters, plan):
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
    ) -> Iterator[tuple[str | None, SearchFilters | None, list[Clause]]]:
        """(FTS expression or None for "no text condition", filters, the clauses of the expression)
        whose results, together, are the documents matching ``plan``: every clause as text, then each
        way of matching some clauses through a field (a canonical substance, a vendor name) and the rest
        as text."""
        yield fts5_expression(plan), filters, plan
        for values, rest in field_alternatives(plan):
            alt = with_field_values(filters, values)
            if alt is not None:
                yield (fts5_expression(rest) if rest else None), alt, rest

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
            rows = self._listed_filtered(layout, schema, filters, limit)
        elif not layout.text:
            return []
        else:
            best: dict[str, tuple[Any, ...]] = {}
            for expression, alt, text in self._alternatives(schema, filters, plan):
                if expression is None:
                    found = self._listed_filtered(layout, schema, alt, limit)
                else:
                    found = self._ranked(layout, schema, expression, alt, limit, text)
                for row in found:
                    if row[0] not in best or row[2] > best[row[0]][2]:
                        best[row[0]] = row
            rows = sorted(best.values(), key=lambda r: (-r[2], r[0]))[:limit]
        return [SearchHit(id=r[0], kind=kind, score=float(r[2]), doc=json.loads(r[1])) for r in rows]

    def _listed_filtered(self, layout: _Layout, schema: KindSchema, filters: SearchFilters | None, limit: int
                         ) -> list[tuple[Any, ...]]:
        """The first ``limit`` documents by id that pass ``filters``. Walking the id index stops after
        ``limit`` matches, but visits ~``limit * N / matches`` rows: a rare (or absent: a substance
        alternative no document has) value means a walk over the whole table. When a roll-up counts
        the matches, none means no read at all, and few are read through their filter tokens (one FTS
        doclist) and sorted by id instead."""
        clauses, params, uses = self._where(schema, filters)
        # the equality filters alone: their count bounds the matches (a price range only removes some)
        equal = dataclasses.replace(filters, price_min=None, price_max=None) if filters is not None else None
        routed = self._rollup_for(schema, equal) if equal is not None else None
        if routed is None:
            return self._listed(layout, clauses, params, uses, limit)
        rollup, rclauses, rparams = routed
        where = f" WHERE {' AND '.join(rclauses)}" if rclauses else ""
        matches = int(self._read(f"SELECT TOTAL({_q(_Rollup.N)}) FROM {rollup.table} r{where}", rparams)[0][0])
        if not matches or not limit:
            return []
        tokens, rest = _token_filters(layout, filters) if layout.text else ([], filters)
        rows = int(self._read(f"SELECT COALESCE(MAX(rid), 0) FROM {layout.t}", [])[0][0])
        # cost of the id walk ~ rows visited; of the token read ~ every match (a doclist step, a sort);
        # with a price range both read more rows, by the same factor
        if not tokens or matches * matches > 3 * rows * limit:
            return self._listed(layout, clauses, params, uses, limit)
        clauses, params, uses = self._where(schema, rest)
        fts = layout.fts
        source = f"{fts} CROSS JOIN {layout.t} t ON t.rid = {fts}.rowid" + (
            f" JOIN {layout.d} d ON d.rid = t.rid" if "d" in uses else "")
        return self._read(
            f"SELECT x.id, d.doc, 0.0 FROM (SELECT t.rid, t.id FROM {source} WHERE "
            f"{' AND '.join([f'{fts} MATCH ?', *clauses])} ORDER BY t.id LIMIT ?) x "
            f"JOIN {layout.d} d ON d.rid = x.rid ORDER BY x.id",
            [" AND ".join(tokens), *params, limit],
        )

    def _listed(self, layout: _Layout, clauses: list[str], params: list[Any], uses: set[str], limit: int
                ) -> list[tuple[Any, ...]]:
        return [(i, doc, 0.0) for i, doc in self._in_id_order(layout, clauses, params, uses, limit)]

    def _ranked(self, layout: _Layout, schema: KindSchema, expression: str, filters: SearchFilters | None,
                limit: int, text: list[Clause]) -> list[tuple[Any, ...]]:
        tokens: list[str] = []
        if filters is not None:
            tokens, filters = _token_filters(layout, filters)  # equality filters as FTS filter tokens
        clauses, params, uses = self._where(schema, filters)
        if tokens:
            expression = f"({expression}) AND " + " AND ".join(tokens)
        fts = layout.fts
        source = self._source(layout, uses, fts, f"{fts}.rowid")
        where = " AND ".join([f"{fts} MATCH ?", *clauses])
        rank, args = f"bm25({fts}, {layout.weights})", []
        if self._given_dfs:  # the same bm25, its document frequencies estimated here (see the module doc)
            dfs = self._document_frequencies(layout, text) + ["z"] * sum(t.count(" OR ") + 1 for t in tokens)
            rank, args = f"{fts_rank.FUNCTION}({fts}, ?, {layout.weights})", [",".join(dfs)]
        # One pass: the newest ``rank_window`` matches (FTS5 walks its doclists by descending rowid and
        # stops there) among the newest ``rank_span`` documents, bm25 computed for those only, the best
        # ``limit`` of them kept. A page the span cannot fill is read again from the whole index.
        sql = (f"SELECT x.id, d.doc, x.score FROM (SELECT rid, id, score FROM (SELECT t.rid, t.id, "
               f"-{rank} AS score FROM {source} WHERE {where} AND {fts}.rowid > ? "
               f"ORDER BY {fts}.rowid DESC LIMIT ?) ORDER BY score DESC, id LIMIT ?) x "
               f"JOIN {layout.d} d ON d.rid = x.rid ORDER BY x.score DESC, x.id")
        top = int(self._read(f"SELECT COALESCE(MAX(rid), 0) FROM {layout.t}", [])[0][0])
        after = max(0, top - self.rank_span)
        rows = self._read(sql, [*args, expression, *params, after, self.rank_window, limit])
        if after and len(rows) < limit:
            rows = self._read(sql, [*args, expression, *params, 0, self.rank_window, limit])
        return rows

    def _document_frequencies(self, layout: _Layout, text: list[Clause]) -> list[str]:
        """One ``sokhund_bm25`` entry per phrase of ``fts5_expression(text)``, in its order: each
        clause's texts, then the texts it excludes ("z": a NOT term adds nothing to bm25). An index of
        at most DF_SAMPLE documents counts them exactly (""); a larger one gives the fraction of its
        newest DF_SAMPLE documents that hold the phrase (at least half a document's worth), remembered
        until DF_SAMPLE / 10 more documents arrived."""
        top = int(self._read(f"SELECT COALESCE(MAX(rid), 0) FROM {layout.t}", [])[0][0])
        start = top - DF_SAMPLE
        exact = start <= 0
        sampled = 0 if exact else int(self._read(f"SELECT COUNT(*) FROM {layout.t} WHERE rid > ?", [start])[0][0])
        out: list[str] = []
        for clause in text:
            for term in clause.texts:
                if exact or sampled <= 0:
                    out.append("")
                    continue
                if term.prefix:  # its doclist is merged over the whole index (~40 ms at 1M): not counted
                    out.append(repr(PREFIX_DF))
                    continue
                phrase = fts5_expression([term])
                known = self._shares.get((layout.fts, phrase))
                if known is None or top - known[1] > DF_SAMPLE // 10 or top < known[1]:
                    hits = int(self._read(f"SELECT COUNT(*) FROM {layout.fts} WHERE {layout.fts} MATCH ? "
                                          f"AND rowid > ?", [phrase, start])[0][0])
                    if len(self._shares) >= 4096:
                        self._shares.clear()
                    known = self._shares[(layout.fts, phrase)] = (max(hits, 0.5) / sampled, top)
                out.append(repr(known[0]))
            out += ["z"] * len(clause.excluded)
        return out

    def terms(
        self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, doc count), most frequent first, ties by value. List fields count each element once
        per document; missing values are not a bucket."""
        schema = self._ensure(kind)
        layout = self._layout(kind)
        clauses, params, uses = self._where(schema, filters)
        info = schema.fields.get(check_field(field))
        routed = self._rollup_for(schema, filters, target=field)
        if routed is not None:
            rollup, clauses, params = routed
            # grouped by SQLite: a roll-up holds thousands of rows (vendors x sites), not a million, and
            # its ORDER BY sorts mixed values as _sql_order does
            rows = self._read(
                f"SELECT r.{_q(field)} AS v, SUM(r.{_q(_Rollup.N)}) AS n FROM {rollup.table} r "
                f"WHERE {' AND '.join([f'r.{_q(field)} IS NOT NULL', *clauses])} GROUP BY v HAVING n > 0 "
                f"ORDER BY n DESC, v LIMIT ?", [*params, max(0, int(size))])
        elif info is not None and info.kind == "list":
            source = self._source(layout, uses, f"{layout.lst} l", "l.rid") if clauses else f"{layout.lst} l"
            rows = self._read(
                f"SELECT l.value AS v, COUNT(*) AS n FROM {source} WHERE {' AND '.join(['l.field = ?', *clauses])} "
                f"GROUP BY v ORDER BY n DESC, v LIMIT ?",
                [field, *params, int(size)],
            )
        else:  # counted here: SQLite's GROUP BY would sort every matching row first
            value = self._field_expr(schema, field, uses)
            where = " AND ".join([f"{value} IS NOT NULL", *clauses])
            counts = Counter(v for (v,) in self._iterate(
                f"SELECT {value} FROM {self._source(layout, uses)} WHERE {where}", params))
            rows = sorted(counts.items(), key=lambda vn: (-vn[1], _sql_order(vn[0])))[: max(0, int(size))]
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
        check_field(date_field)
        routed = self._rollup_for(schema, filters, histogram=date_field,
                                  sum_field=check_field(sum_field) if sum_field else None)
        if routed is not None:
            rollup, clauses, params = routed
            total = f"TOTAL(r.{rollup.sum_column(sum_field)})" if sum_field else "NULL"
            rows = self._read(
                f"SELECT r.{_q(_Rollup.DAY)} AS k, SUM(r.{_q(_Rollup.N)}), {total} FROM {rollup.table} r "
                f"{'WHERE ' + ' AND '.join(clauses) if clauses else ''} GROUP BY k",
                params,
            )
        elif self._date_ordered(schema, filters, date_field):  # few rows, read in date order: SQLite groups them
            clauses, params, uses = self._where(schema, filters)
            day = f"substr({self._field_expr(schema, date_field, uses)}, 1, 10)"
            value = f"CAST({self._field_expr(schema, sum_field, uses)} AS REAL)" if sum_field else "NULL"
            rows = self._read(f"SELECT {day}, COUNT(*), TOTAL({value}) FROM {self._source(layout, uses)} "
                              f"WHERE {' AND '.join(clauses)} GROUP BY 1", params)
        else:  # grouped here, not by a GROUP BY that sorts every row (see terms)
            clauses, params, uses = self._where(schema, filters)
            day = f"substr({self._field_expr(schema, date_field, uses)}, 1, 10)"
            # CAST AS REAL is what TOTAL() adds for a value (text read as a number, NULL skipped)
            value = f"CAST({self._field_expr(schema, sum_field, uses)} AS REAL)" if sum_field else "NULL"
            by_day: dict[Any, list[Any]] = {}
            if not sum_field:  # counted in C (Counter over the cursor): ~3x faster than the loop below
                where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
                days = Counter(map(itemgetter(0), self._iterate(
                    f"SELECT {day} FROM {self._source(layout, uses)} {where}", params)))
                by_day = {k: [k, n, 0.0] for k, n in days.items()}
            for key, x in [] if not sum_field else self._iterate(f"SELECT {day}, {value} FROM {self._source(layout, uses)} "
                                        f"{'WHERE ' + ' AND '.join(clauses) if clauses else ''}", params):
                bucket = by_day.get(key)
                if bucket is None:
                    bucket = by_day[key] = [key, 0, 0.0]
                bucket[1] += 1
                if x is not None:
                    bucket[2] += x
            rows = list(by_day.values())
        buckets: dict[str, list[Any]] = {}
        for key, n, s in rows:
            start = _bucket_start(key, interval)
            if start is None or not n:
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
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._checkpointer is not None:
            self._checkpointer.close()  # first: the last connection to close checkpoints what is left
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


_NAMED_FILTERS = ("site", "vendor", "substance", "substance_class", "ships_from")


def _count_setting(given: int | None, variable: str, default: int) -> int:
    """A positive count from the constructor, else from ``$variable``, else ``default``; a value that is
    no whole number is refused with the variable's name (not a bare ``int()`` traceback)."""
    raw: object = given if given is not None else os.environ.get(variable, "").strip() or None
    if raw is None:
        return default
    try:
        return max(1, int(str(raw).replace("_", "")))
    except ValueError:
        raise IndexError_(f"{variable}={raw!r} is not a whole number of documents (default {default:,}); "
                          f"set it to e.g. {default} or unset it") from None


def _same_but_rollups(stored: str | None, signature: str) -> bool:
    """Whether two layout signatures differ in their roll-ups only (those are rebuilt from the documents;
    the FTS index, tokens and list rows stay as they are)."""
    try:
        old, new = json.loads(stored or ""), json.loads(signature)
    except ValueError:
        return False
    return isinstance(old, dict) and {k: v for k, v in old.items() if k != "rollups"} == {
        k: v for k, v in new.items() if k != "rollups"}


def _date_index_name(kind: str, cols: tuple[str, ...]) -> str:
    return f"{kind}_" + "_".join(cols)


def _sql_order(value: Any) -> tuple[int, Any]:
    """SQLite's ORDER BY for mixed values: numbers, then text (code point order = BINARY), then blobs."""
    if isinstance(value, int | float):
        return (0, value)
    return (1, value) if isinstance(value, str) else (2, value)


def _token_filters(layout: _Layout, filters: SearchFilters) -> tuple[list[str], SearchFilters]:
    """The equality filters that have filter tokens, as FTS5 terms (``(a OR b)`` for several values),
    and the filters that are left for SQL. Only text values have tokens; ``None`` (missing) has none."""
    tokened = {*layout.token_scalars, *layout.token_lists}
    terms: list[str] = []

    def take(name: str, value: Any) -> bool:
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if name not in tokened or not values or not all(isinstance(v, str) for v in values):
            return False
        terms.append("(" + " OR ".join(filter_token(name, v) for v in values) + ")")
        return True

    named = {n: None for n in ("site", "vendor", "substance", "substance_class", "ships_from")
             if getattr(filters, n) is not None and take(n, getattr(filters, n))}
    extra = {n: v for n, v in (filters.extra or {}).items() if v is None or not take(n, v)}
    return terms, dataclasses.replace(filters, extra=extra, **named)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a bulk upsert builds its rows: tens of thousands of tuples a
    batch set off collections that walk every live object (a crawl process holds its models too), 5-10% of
    the upsert. The rows hold no cycles; what a collection would find is found after the batch."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


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
