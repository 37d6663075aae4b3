"""Adapter fields beat free-text extraction (issue 15 §2): a page's own structured field is the fact; the
NLP only fills what the page does not state."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.pipelines.documents import DocumentBuilder
from extractors.pipeline import SpacyExtractor
from extractors.rates import RateTable
from indexer.models import Listing


@pytest.fixture(scope="module")
def builder() -> DocumentBuilder:
    return DocumentBuilder(SpacyExtractor(rates=None), RateTable.default(), "run", "2025-03-01T12:00:00+00:00",
                           lambda kind, doc_id: None)


def _listing(builder: DocumentBuilder, fields: dict[str, Any]) -> Listing:
    item = {"type": "listing", "site": "s", "url": "http://127.0.0.1/l/1", "fields": fields}
    docs = builder.build([item], {"s": "USD"}, {"s": "en"})
    return next(d for d in docs if isinstance(d, Listing))


def test_payment_field_beats_payment_words_in_the_description(builder: DocumentBuilder) -> None:
    listing = _listing(builder, {
        "listing_id": "1", "title": "Cocaine 1g", "price": "80",
        "description": "Pay with Bitcoin only, fast shipping",
        "payment": ["Bitcoin", "Monero", "Escrow"],
    })
    assert listing.payment == ["Bitcoin", "Monero", "Escrow"]


def test_text_fills_payment_when_the_page_has_no_field(builder: DocumentBuilder) -> None:
    listing = _listing(builder, {"listing_id": "2", "title": "Cocaine 1g", "price": "80",
                                 "description": "Pay with Monero"})
    assert listing.payment == ["Monero"]


def test_ships_to_field_beats_text(builder: DocumentBuilder) -> None:
    listing = _listing(builder, {"listing_id": "3", "title": "Cocaine 1g", "price": "80",
                                 "description": "ships to Germany", "ships_to": ["Sweden", "Norway"]})
    assert listing.ships_to == ["SE", "NO"]


def test_ships_to_keeps_regions(builder: DocumentBuilder) -> None:
    """Empire listing_10 ships to 'World Wide, United States, Asia, Africa, Antarctica(c)'."""
    listing = _listing(builder, {"listing_id": "4", "title": "Cocaine 1g", "price": "80",
                                 "ships_to": ["World Wide", "United States", "Asia", "Africa", "Antarctica(c)",
                                              "North America", "EU", "Europe", "South America", "Oceania"]})
    assert listing.ships_to == ["WW", "US", "ASIA", "AFRICA", "AQ", "NORTH_AMERICA", "EU", "EU",
                                "SOUTH_AMERICA", "OCEANIA"]


@pytest.mark.parametrize(("name", "code"), [
    ("Asien", "ASIA"), ("Afrika", "AFRICA"), ("Nordamerika", "NORTH_AMERICA"), ("Middle East", "MIDDLE_EAST"),
    ("Worldwide", "WW"), ("Scandinavia", "NORDIC"), ("Sweden", "SE"), ("Antarctica", "AQ"),
    ("Australia (AU)", "AU"), ("Narnia", None),
])
def test_region_vocabulary(name: str, code: str | None) -> None:
    from extractors.normalise import country_code

    assert country_code(name) == code
