"""A real Dream listing (../shared/data/msc-darkweb-2019) with every new structure (shipping options, tier
prices, prices in several currencies, the site's rates, category path, flags, expiry, the ``extra`` map)
upserted into a real Elasticsearch and into SQLite: both give the same values back, and ``extra`` is
found by full-text search on both."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.base import SearchFilters
from indexer.elastic import ElasticBackend
from indexer.models import Listing
from indexer.sqlite import SQLiteBackend
from tests.conftest import shared_data
from tests.indexer.test_index_es_integration import es_cleanup, new_backend

NEW_FIELDS = ("listing_type", "shipping_options", "tier_prices", "min_order", "stock_unlimited", "auto_dispatch",
              "auto_dispatch_stock", "supports_escrow", "finalize_early", "expires_at", "prices",
              "accepted_currencies", "site_rates", "rate_source", "category_path", "category_ids", "extra",
              "extra_text", "ships_to", "price_sek", "price_eur")


@pytest.fixture(scope="module")
def dream_listing() -> Listing:
    """Dream listing_0 as the crawl builds it, plus the structures that page does not show (so every
    new field carries a value)."""
    shared_data("msc-darkweb-2019", "assertions.json")
    from benchmarks import real_adapters_eval as ev

    doc = ev.load_page("dream/html_files/listings/listing_0.html").doc("listing")
    assert doc.shipping_options and doc.site_rates and doc.category_path and doc.extra  # from the page
    extra = {**doc.extra, "origin_region": "Zuxqorland", "batch": ["A1", "B2"]}
    from crawler.pipelines.documents import _extra_text

    return dataclasses.replace(
        doc,
        listing_type="physical",
        tier_prices=[{"min_qty": 250, "max_qty": None, "price": 1.3, "currency": "USD",
                      "prices": [{"amount": 1.3, "currency": "USD"}]}],
        min_order=2.0, stock_unlimited=True, auto_dispatch=False, auto_dispatch_stock=0,
        expires_at="2019-10-30T12:00:00+00:00",
        prices=[*doc.prices, {"amount": 0.00969, "currency": "BTC"}, {"amount": 0.148, "currency": "BCH"}],
        category_path=[*doc.category_path, {"name": "Prescription", "id": "187", "level": 1}],
        category_ids=[*doc.category_ids, "187"],
        extra=extra, extra_text=_extra_text(extra),
    )


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check_backend(backend: Any, doc: Listing) -> None:
    assert backend.upsert([doc]) == 1
    stored = backend.get("listing", doc.id)
    want = doc.to_dict()
    for name in NEW_FIELDS:
        assert _same(stored[name], want[name]), (name, stored[name], want[name])
    # the extra map is found by full-text search (its "key: value" text), and only this listing has it
    for query in ("Zuxqorland", "origin_region"):
        assert [h.id for h in backend.search("listing", query)] == [doc.id], query
    # the site's category ids filter like any list field
    assert [h.id for h in backend.search("listing", "", SearchFilters(extra={"category_ids": "187"}))] == [doc.id]
    assert backend.search("listing", "", SearchFilters(extra={"category_ids": "999"})) == []


def test_sqlite_round_trip(dream_listing: Listing, tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "index.sqlite")
    try:
        _check_backend(backend, dream_listing)
    finally:
        backend.close()


@pytest.mark.es
class TestElastic:
    @pytest.fixture()
    def es(self, es_url: str, tmp_path: Path) -> Iterator[ElasticBackend]:
        b = new_backend(es_url, tmp_path)
        yield b
        es_cleanup(b)
        b.close()

    def test_es_round_trip(self, dream_listing: Listing, es: ElasticBackend) -> None:
        _check_backend(es, dream_listing)

    def test_es_extra_is_flattened_and_searchable_by_key(self, dream_listing: Listing, es: ElasticBackend) -> None:
        es.upsert([dream_listing])
        mapping = es.client.indices.get_mapping(index=es.index("listing"))
        props = next(iter(mapping.body.values()))["mappings"]["properties"]
        assert props["extra"]["type"] == "flattened"
        assert props["shipping_options"] == {"type": "object", "enabled": False}
        hits = es.client.search(index=es.index("listing"), query={"term": {"extra.origin_region": "Zuxqorland"}})
        assert [h["_id"] for h in hits["hits"]["hits"]] == [dream_listing.id]
