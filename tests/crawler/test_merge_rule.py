"""The merge rule of crawler/pipelines/documents.py on the document builder with a real extractor and a
real index as its lookup (SQLite, and the local Elasticsearch cluster of tests/es_cluster.py): a field a
page does not declare keeps its stored value, a declared empty field overwrites, and a row's extra fields
join the full page's key by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.sqlite import SQLiteBackend

FULL = {"listing_id": "7", "title": "Kokain 1g", "description": "Ren kokain, skickas med PostNord.",
        "price": "800 kr", "stock": "5", "shipping_options": ["Brev - 2 dagar - SEK 20"], "terms": "Inga returer"}
ROW = {"url": "/listing/7", "listing_id": "7", "title": "Kokain 1g", "price": "750 kr", "views": "12"}


@pytest.fixture(scope="module")
def extractor() -> Any:
    from extractors.pipeline import SpacyExtractor

    return SpacyExtractor()


def _build(extractor: Any, backend: Any, fields: dict[str, Any], as_of: str) -> Any:
    from crawler.pipelines.documents import DocumentBuilder
    from extractors.rates import RateTable

    builder = DocumentBuilder(extractor, RateTable.default(), f"run-{as_of[:10]}", as_of, backend.get)
    docs = builder.build([{"site": "flugsvamp", "url": "http://127.0.0.1/search?q=x", "type": "listing",
                           "fields": fields}], {"flugsvamp": "SEK"}, {"flugsvamp": "sv"})
    backend.upsert(docs)
    return next(d for d in docs if d.KIND == "listing")


def test_row_fills_only_what_it_shows(extractor: Any, tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "index.sqlite")
    try:
        _check(extractor, backend)
    finally:
        backend.close()


@pytest.mark.es
def test_row_fills_only_what_it_shows_on_elasticsearch(extractor: Any, es_url: str, tmp_path: Path) -> None:
    from tests.indexer.test_index_es_integration import es_cleanup, new_backend

    backend = new_backend(es_url, tmp_path)
    try:
        _check(extractor, backend)
    finally:
        es_cleanup(backend)
        backend.close()


def _check(extractor: Any, backend: Any) -> None:
    full = _build(extractor, backend, FULL, "2026-01-01T12:00:00+00:00")
    assert full.stock == 5 and full.shipping_options and full.extra == {"terms": "Inga returer"}
    row = _build(extractor, backend, ROW, "2026-01-02T12:00:00+00:00")
    assert row.id == full.id and row.price == 750.0  # the row's own field is new
    assert row.description == FULL["description"] and row.stock == 5
    assert row.shipping_options == full.shipping_options
    assert row.extra == {"terms": "Inga returer", "views": "12"} and "views: 12" in row.extra_text
    assert row.first_seen == full.first_seen and row.last_seen.startswith("2026-01-02")
    # the full page again, now sold out and without shipping options: declared empties overwrite
    again = _build(extractor, backend, {**FULL, "stock": "", "shipping_options": []}, "2026-01-03T12:00:00+00:00")
    assert again.stock is None and again.shipping_options == [] and again.extra == {"terms": "Inga returer"}
