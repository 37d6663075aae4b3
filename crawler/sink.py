"""The crawl's single writer to the index: buffers documents and bulk-upserts them.

One sink per crawler (shared by the evidence middleware and the pipelines). A failing index is
retried; while it stays down, documents are spooled to disk and replayed, so nothing is lost.
"""

from __future__ import annotations

import json
import logging
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


class IndexSink:
    def __init__(self, backend: IndexBackend, spool: Path, batch_size: int = 500, max_delay: float = 2.0) -> None:
        self.backend = backend
        self.spool = spool
        self.batch_size = batch_size
        self.max_delay = max_delay
        self._buffer: list[Document] = []
        self._last_flush = time.monotonic()
        self.written = 0
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
            sink = cls(backend, spool, batch_size=crawler.settings.getint("SOKHUND_INDEX_BATCH", 500))
            crawler._sokhund_sink = sink
            from scrapy import signals

            # Closed last, after every pipeline and middleware has handed over its documents.
            crawler.signals.connect(sink.close, signal=signals.engine_stopped)
        return sink

    def add(self, docs: Iterable[Document]) -> None:
        self._buffer.extend(docs)
        now = time.monotonic()
        if now < self._down_until and len(self._buffer) < DOWN_BUFFER:
            return  # the index is down: do not pay its retries for every page; gather, then spool in bulk
        if len(self._buffer) >= self.batch_size or now - self._last_flush > self.max_delay:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        for attempt in range(3):
            try:
                spooled = getattr(self.backend, "spooled", 0)
                self.written += self.backend.upsert(batch)
                # a backend with its own spool (Elasticsearch) does not raise when down: it spools
                if getattr(self.backend, "spooled", 0) > spooled:
                    self._down_until = time.monotonic() + DOWN_PAUSE
                self._last_flush = time.monotonic()
                return
            except Exception as exc:  # the index went down mid-crawl: retry, then spool
                log.warning("index write failed (attempt %d/3): %s", attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
        self._spool(batch)

    def _spool(self, batch: list[Document]) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a", encoding="utf-8") as fh:
            for doc in batch:
                fh.write(json.dumps({"kind": doc.KIND, "doc": doc.to_dict()}, ensure_ascii=False) + "\n")
        log.error("index unreachable: %d documents spooled to %s (replayed on the next run)", len(batch), self.spool)

    def replay_spool(self) -> None:
        """Replay documents spooled by an earlier run whose index was down (ids make this idempotent)."""
        for path in sorted(self.spool.parent.glob("*.jsonl")) if self.spool.parent.exists() else []:
            docs = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    docs.append(ALL_KINDS[row["kind"]].from_dict(row["doc"]))
            try:
                self.backend.upsert(docs)
            except Exception as exc:
                log.warning("spool %s not replayed yet: %s", path, exc)
                continue
            path.unlink()
            log.info("replayed %d spooled documents from %s", len(docs), path)

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        """The stored doc (to keep its first_seen). While the index is down this answers None, so the
        documents still go to the spool (a re-seen listing then gets this crawl as first_seen) instead of
        failing the item; after a failed read the index is not asked again for a few seconds."""
        for doc in reversed(self._buffer):
            if doc.KIND == kind and doc.id == doc_id:
                return doc.to_dict()
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
        self.backend.close()
        self._closed = True
