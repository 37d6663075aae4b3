"""The index interface. SQLite (default) and Elasticsearch implement it, so the CLI, analytics and
Kibana ask the same questions: bulk upsert by deterministic id, full-text search with filters,
terms and date-histogram aggregations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from indexer.models import Document


@dataclass
class SearchFilters:
    """Filters shared by every backend. Dates are ISO strings compared on ``date_field``."""

    site: str | None = None
    vendor: str | None = None
    substance: str | None = None
    substance_class: str | None = None
    ships_from: str | None = None
    price_min: float | None = None  # on price_sek
    price_max: float | None = None
    date_from: str | None = None
    date_to: str | None = None
    date_field: str = "last_seen"
    extra: dict[str, Any] = field(default_factory=dict)  # exact-match field -> value


@dataclass
class SearchHit:
    id: str
    kind: str
    score: float
    doc: dict[str, Any]


@runtime_checkable
class IndexBackend(Protocol):
    """What every index backend offers. ``kind`` is a ``Document.KIND`` (``listing``, ``vendor`` …)."""

    def upsert(self, docs: Iterable[Document]) -> int:
        """Insert or replace documents by id, in bulk. Returns how many were written."""

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None: ...

    def iter_docs(self, kind: str, filters: SearchFilters | None = None) -> Iterator[dict[str, Any]]:
        """Every document of a kind (optionally filtered), in id order."""

    def count(self, kind: str, filters: SearchFilters | None = None) -> int: ...

    def search(
        self, kind: str, query: str | None, filters: SearchFilters | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Full-text search (title, description, text, name …) plus filters, best first."""

    def terms(
        self, kind: str, field: str, filters: SearchFilters | None = None, size: int = 20
    ) -> list[tuple[Any, int]]:
        """Terms aggregation: (value, doc count), most frequent first."""

    def date_histogram(
        self,
        kind: str,
        date_field: str,
        interval: str = "day",
        filters: SearchFilters | None = None,
        sum_field: str | None = None,
    ) -> list[tuple[str, int, float | None]]:
        """Buckets (bucket start ISO date, doc count, sum of ``sum_field`` or None); interval is day|week|month."""

    def delete(self, kind: str, doc_id: str) -> None: ...

    def close(self) -> None: ...


class IndexError_(RuntimeError):
    """The index is unreachable or refused a write; the message says which and what to do."""


ES_ALIASES = ("es", "elasticsearch")


def open_backend(url: str | None = None, *, must_exist: bool = False) -> IndexBackend:
    """Open the backend named by ``url`` (``sqlite:///path``, ``http(s)://es-host:9200``, or ``es``: the
    cluster of ``$SOKHUND_ES_URL``), else by ``$SOKHUND_INDEX_URL``; default: the embedded SQLite index in
    the data directory. Elasticsearch credentials come from the environment (see indexer.elastic).
    ``must_exist`` (commands that only read): a SQLite index that is not there is an error, never a new
    empty index (a mistyped ``--index`` would otherwise show "no matches")."""
    import os

    from crawler import paths

    url = url or os.environ.get("SOKHUND_INDEX_URL") or ""
    if url in ES_ALIASES:
        url = os.environ.get("SOKHUND_ES_URL") or ""
        if not url:
            raise IndexError_("the index is 'es' but SOKHUND_ES_URL is not set (e.g. https://es-host:9200)")
    if url.startswith(("http://", "https://")):
        from indexer.elastic import ElasticBackend

        return ElasticBackend(url)
    from indexer.sqlite import SQLiteBackend

    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else (url or str(paths.index_path(create=not must_exist)))
    return SQLiteBackend(path, must_exist=must_exist)
