"""The crawl's single writer to the index: buffers documents and bulk-upserts them.

One sink per crawler (shared by the evidence middleware and the pipelines). A failing index is retried
once; when it stays down (locked, read-only, unreachable) the sink says so once and spools every later
batch straight to disk at full speed, trying the index again only every ``retry_interval`` seconds. The
next run replays the spool. Nothing parsed is lost:

* a spool line is written whole or not at all (a failed write is cut back to the last whole line);
* a disk that is full keeps the documents in memory, stops the crawl (reason ``disk_full``) with the path,
  and leaves the run to be re-crawled from its start pages (ids are deterministic: no duplicates);
* a torn or unreadable spool line (a crash mid-write) is moved to ``spool/quarantine/`` and reported; the
  rest of the spool is replayed.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from indexer.base import IndexBackend, open_backend
from indexer.models import ALL_KINDS, Document

log = logging.getLogger(__name__)
READ_PAUSE = 10.0  # seconds without lookups after a failed one (each costs the backend's retries)
DOWN_PAUSE = 15.0  # seconds between write attempts while the index is down
DOWN_BUFFER = 20_000  # ... or as soon as this many documents wait

DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class IndexSink:
    def __init__(self, backend: IndexBackend, spool: Path, batch_size: int = 500, max_delay: float = 2.0,
                 retry_interval: float = 30.0, crawler: Any = None) -> None:
        self.backend = backend
        self.spool = spool
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.retry_interval = retry_interval
        self.crawler = crawler
        self._buffer: list[Document] = []
        self._pending: dict[tuple[str, str], Document] = {}  # (kind, id) -> the last buffered doc
        self._unsaved: list[Document] = []  # neither indexed nor spooled (disk full): kept in memory
        self._last_flush = time.monotonic()
        self._down_since: float | None = None
        self.written = 0
        self.spooled = 0
        self.quarantined = 0  # unreadable spool lines moved aside by replay_spool
        self.disk_full: str | None = None
        self._closed = False
        self._reads_down_until = 0.0
        self._down_until = 0.0  # while the index is down, writes are gathered until then
        self.replay_spool()

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexSink:
        """One sink per crawler, created on first use."""
        sink = getattr(crawler, "_sokhund_sink", None)
        if sink is None:
            from crawler import paths

            backend = open_backend(crawler.settings.get("SOKHUND_INDEX_URL") or None)
            spool = paths.sub("spool") / f"{crawler.settings.get('SOKHUND_RUN_ID', 'run')}.jsonl"
            sink = cls(backend, spool, batch_size=crawler.settings.getint("SOKHUND_INDEX_BATCH", 500),
                       retry_interval=crawler.settings.getfloat("SOKHUND_INDEX_RETRY_INTERVAL", 30.0),
                       crawler=crawler)
            crawler._sokhund_sink = sink
            from scrapy import signals

            # Closed last, after every pipeline and middleware has handed over its documents.
            crawler.signals.connect(sink.close, signal=signals.engine_stopped)
        return sink

    def add(self, docs: Iterable[Document]) -> None:
        for doc in docs:
            self._buffer.append(doc)
            self._pending[(doc.KIND, doc.id)] = doc  # the latest of each id, for get()
        now = time.monotonic()
        if now < self._down_until and len(self._buffer) < DOWN_BUFFER:
            return  # the index is down: do not pay its retries for every page; gather, then spool in bulk
        if len(self._buffer) >= self.batch_size or now - self._last_flush > self.max_delay:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        self._pending = {}
        self._last_flush = time.monotonic()
        if self._down_since is not None and time.monotonic() - self._down_since < self.retry_interval:
            self._spool(batch)  # known to be down: no waiting on it for every batch
            return
        attempts = 1 if self._down_since is not None else 3
        for attempt in range(attempts):
            try:
                spooled = getattr(self.backend, "spooled", 0)
                self.written += self.backend.upsert(batch)
                if self._down_since is not None:
                    log.warning("index %s is writable again", self._where())
                    self._down_since = None
                # a backend with its own spool (Elasticsearch) does not raise when down: it spools
                if getattr(self.backend, "spooled", 0) > spooled:
                    self._down_until = time.monotonic() + DOWN_PAUSE
                return
            except Exception as exc:  # the index went down mid-crawl: retry, then spool
                log.warning("index write failed (attempt %d/%d): %s", attempt + 1, attempts, exc)
                if attempt + 1 < attempts and not _permanent(exc):
                    time.sleep(0.5 * (attempt + 1))
                else:
                    break
        if self._down_since is None:
            log.error("index %s cannot be written: spooling documents to %s at full speed (retrying the index "
                      "every %.0fs; the next run replays the spool)", self._where(), self.spool, self.retry_interval)
        self._down_since = time.monotonic()
        self._spool(batch)

    def _where(self) -> str:
        return str(getattr(self.backend, "path", None) or getattr(self.backend, "url", None) or self.backend)

    def _spool(self, batch: list[Document]) -> None:
        batch = self._unsaved + batch
        self._unsaved = []
        text = "".join(json.dumps({"kind": doc.KIND, "doc": doc.to_dict()}, ensure_ascii=False) + "\n"
                       for doc in batch)
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with self.spool.open("a", encoding="utf-8") as fh:
                size = fh.tell()
                try:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                except OSError:
                    fh.truncate(size)  # no torn line: the spool keeps only whole documents
                    raise
        except OSError as exc:
            self._unsaved = batch
            if exc.errno in DISK_FULL:
                self._stop_disk_full(exc, len(text.encode("utf-8")))
                return
            raise
        self.spooled += len(batch)
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("sokhund/spooled", len(batch))
        log.info("%d documents spooled to %s (replayed on the next run)", len(batch), self.spool)

    def _stop_disk_full(self, exc: OSError, need: int) -> None:
        if self.disk_full is None:
            self.disk_full = (f"disk full: cannot write the spool {self.spool} ({exc.strerror}; needs "
                              f"{need / 1e6:.1f} MB more): {len(self._unsaved)} documents kept in memory, "
                              "crawl stopped; free space and run it again (its pages are crawled again)")
            log.error("%s", self.disk_full)
        if self.crawler is None:
            return
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("sokhund/disk_full", self.disk_full)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and getattr(engine, "spider", None) is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason="disk_full"))

    def replay_spool(self) -> None:
        """Replay documents spooled by an earlier run whose index was down (ids make this idempotent).
        Unreadable lines (a torn last line after a crash) are moved to ``quarantine/`` and reported."""
        folder = self.spool.parent
        for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
            docs, bad = [], []
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    docs.append(ALL_KINDS[row["kind"]].from_dict(row["doc"]))
                except Exception as exc:
                    bad.append((number, line, f"{type(exc).__name__}: {exc}"))
            try:
                self.backend.upsert(docs)
            except Exception as exc:
                log.warning("spool %s not replayed yet (index %s: %s)", path, self._where(), exc)
                continue
            if bad:
                self._quarantine(path, bad)
            path.unlink()
            log.info("replayed %d spooled documents from %s", len(docs), path)

    def _quarantine(self, path: Path, bad: list[tuple[int, str, str]]) -> None:
        target = path.parent / "quarantine" / f"{path.stem}.{int(time.time())}.bad.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            for _, line, _ in bad:
                fh.write(line + "\n")
        self.quarantined += len(bad)
        lines = ", ".join(f"line {n} ({why[:80]})" for n, _, why in bad[:5])
        log.warning("spool %s: skipped %d unreadable line(s) (%s; a write torn by a crash); moved to %s, "
                    "the other documents were replayed", path, len(bad), lines, target)
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("sokhund/spool_quarantined", len(bad))

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        """The stored doc (to keep its first_seen). While the index is down this answers None, so the
        documents still go to the spool (a re-seen listing then gets this crawl as first_seen) instead of
        failing the item; after a failed read the index is not asked again for a few seconds."""
        pending = self._pending.get((kind, doc_id))
        if pending is not None:
            return pending.to_dict()
        if time.monotonic() < self._reads_down_until:
            return None
        try:
            return self.backend.get(kind, doc_id)
        except Exception as exc:
            log.warning("index read failed (%s); first_seen lookups skipped for %.0fs", exc, READ_PAUSE)
            self._reads_down_until = time.monotonic() + READ_PAUSE
            return None

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        if self._unsaved:
            self._spool([])  # one more try: space may have been freed meanwhile
        if self._unsaved:
            log.error("%d documents could not be saved (%s); the run is crawled again from its start pages",
                      len(self._unsaved), self.disk_full or "spool not writable")
        self.backend.close()
        self._closed = True


def _permanent(exc: Exception) -> bool:
    """Errors that retrying in a second will not heal (a read-only file or disk, a full disk)."""
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "disk is full" in text or "disk full" in text
