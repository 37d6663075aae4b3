"""Extractor results of texts seen before, so a daily crawl does not extract an unchanged listing again.

One SQLite file per site (the crawl keeps it in ``$SOKHUND_HOME/cache/extract/<site>.sqlite``), so it
survives processes. A row is keyed by a hash of the text, its kind (title, description …), the site's
language hint and the **extractor fingerprint** (the extractors' code and data files, spaCy's version):
a changed lexicon or rule makes every old row unreachable. The value is what the NLP found (language,
entities with their offsets in the original text, places, flags); what depends on the day or the page
(exchange rates and the summary, the category's confirmation of weak matches) is recomputed on every
use, so a cached text yields exactly the result a fresh extraction would.

Best effort: a cache that cannot be read or written (locked, read-only, corrupt) is switched off for the
rest of the crawl with one warning; the texts are then extracted as usual. Rows unused for
``keep_days`` are dropped when the cache closes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def extractor_fingerprint() -> str:
    """A hash of everything an extraction result depends on: the extractors' code, their data files and
    spaCy's version."""
    digest = hashlib.sha256()
    for path in sorted([*_HERE.glob("*.py"), *(p for p in (_HERE / "data").rglob("*") if p.is_file())]):
        digest.update(path.relative_to(_HERE).as_posix().encode())
        digest.update(path.read_bytes())
    try:
        import importlib.metadata

        digest.update(importlib.metadata.version("spacy").encode())
    except Exception:  # spaCy absent: titles only (fast path)
        pass
    return digest.hexdigest()[:32]


class ExtractCache:
    def __init__(self, path: str | Path, seen: str | None = None, keep_days: int = 30) -> None:
        self.path = Path(path)
        self.seen = (seen or date.today().isoformat())[:10]  # the crawl's date: rows used now are kept
        self.keep_days = keep_days
        self.hits = 0
        self.misses = 0
        self._fingerprint = extractor_fingerprint()
        self._db: sqlite3.Connection | None = None
        self._used: set[str] = set()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS extract (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                             "seen TEXT NOT NULL) WITHOUT ROWID")
        except (OSError, sqlite3.Error) as exc:
            self._off(exc)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _off(self, exc: Exception) -> None:
        log.warning("extraction cache %s switched off for this crawl (%s): texts are extracted as usual",
                    self.path, exc)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def key(self, text: str, kind: str, lang: str | None) -> str:
        raw = "\x1f".join((self._fingerprint, kind, lang or "", text))
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        if self._db is None or not keys:
            return {}
        found: dict[str, dict[str, Any]] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(f"SELECT key, value FROM extract WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        except (sqlite3.Error, ValueError) as exc:
            self._off(exc)
            return {}
        self._used.update(found)
        return found

    def put_many(self, values: dict[str, str]) -> None:
        """``values``: key -> the JSON of what the NLP found (see the module docstring)."""
        if self._db is None or not values:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO extract (key, value, seen) VALUES (?, ?, ?)",
                                 [(k, v, self.seen) for k, v in values.items()])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._off(exc)

    def count(self) -> int:
        if self._db is None:
            return 0
        return int(self._db.execute("SELECT count(*) FROM extract").fetchone()[0])

    def close(self) -> None:
        """Mark the rows this crawl used as seen today and drop the ones unused for ``keep_days``."""
        if self._db is None:
            return
        try:
            used = list(self._used)
            self._db.execute("BEGIN")
            for start in range(0, len(used), 500):
                chunk = used[start:start + 500]
                self._db.execute(f"UPDATE extract SET seen = ? WHERE key IN ({','.join('?' * len(chunk))})",
                                 [self.seen, *chunk])
            cutoff = (date.fromisoformat(self.seen) - timedelta(days=self.keep_days)).isoformat()
            self._db.execute("DELETE FROM extract WHERE seen < ?", (cutoff,))
            self._db.execute("COMMIT")
        except (sqlite3.Error, ValueError) as exc:
            log.warning("extraction cache %s not pruned: %s", self.path, exc)
        finally:
            self._db.close()
            self._db = None
