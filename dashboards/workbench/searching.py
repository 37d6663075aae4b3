"""Search for the workbench: one page of hits, the total ("N of M") and facet counts, on any backend.

The backends' ``search`` has a limit and no offset, so a page is the tail of the first
``page * per_page`` hits. The total is exact without a query (``count``), and with one where the backend's
``count`` takes the query; otherwise it is the number of hits up to ``TOTAL_CAP`` (shown as "N+")."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from indexer.base import IndexBackend, SearchFilters

KINDS = ("listing", "vendor", "post", "feedback")
TOTAL_CAP = 5000
MAX_PAGE = 250
# Facet fields per kind: (field, label). Only fields the kind has.
FACETS: dict[str, tuple[tuple[str, str], ...]] = {
    "listing": (("site", "Site"), ("substance", "Substance"), ("substance_class", "Class"),
                ("ships_from", "Ships from")),
    "vendor": (("site", "Site"), ("ships_from", "Ships from")),
    "post": (("site", "Site"),),
    "feedback": (("site", "Site"),),
}
# The date each kind's "from / to" filters apply to.
DATE_FIELD = {"listing": "last_seen", "vendor": "first_seen", "post": "first_seen", "feedback": "date"}


@dataclass
class SearchPage:
    hits: list[dict[str, Any]]
    total: int
    total_capped: bool
    page: int
    per_page: int
    facets: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.hits else 0

    @property
    def last(self) -> int:
        return self.first + len(self.hits) - 1 if self.hits else 0

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.per_page)))


def _counts_queries(backend: IndexBackend) -> bool:
    try:
        return "query" in inspect.signature(backend.count).parameters
    except (TypeError, ValueError):
        return False


def total(backend: IndexBackend, kind: str, query: str | None, filters: SearchFilters) -> tuple[int, bool]:
    if not (query or "").strip():
        return backend.count(kind, filters), False
    if _counts_queries(backend):  # backends whose count takes the query: exact
        return int(backend.count(kind, filters, query=query)), False  # type: ignore[call-arg]
    n = len(backend.search(kind, query, filters, limit=TOTAL_CAP))
    return n, n >= TOTAL_CAP


def run(backend: IndexBackend, kind: str, query: str | None, filters: SearchFilters, page: int = 1,
        per_page: int = 20, facets: bool = True) -> SearchPage:
    page = max(1, min(MAX_PAGE, page))
    filters.date_field = DATE_FIELD.get(kind, filters.date_field)
    hits = backend.search(kind, query, filters, limit=page * per_page)[(page - 1) * per_page:]
    n, capped = total(backend, kind, query, filters)
    result = SearchPage([h.doc for h in hits], n, capped, page, per_page)
    if facets:
        for name, _label in FACETS.get(kind, ()):
            result.facets[name] = backend.terms(kind, name, filters, size=12)
    return result
