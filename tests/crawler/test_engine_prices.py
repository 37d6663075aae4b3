"""Currency symbols and the leading price (issue 15 §2): "฿0.000787 (€7.28)" is BTC 0.000787, with EUR 7.28
as a second price; parse_prices gives every (amount, currency) pair in page order."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.pipelines.documents import currency_of
from extractors.normalise import parse_price, parse_prices


@pytest.mark.parametrize(("text", "expected"), [
    ("฿0.000787 (€7.28)", [(0.000787, "BTC"), (7.28, "EUR")]),  # Dream 2019, listing_1
    ("Ƀ0.0021 ($11.90)", [(0.0021, "BTC"), (11.9, "USD")]),
    ("ɱ0.35 (€21.00)", [(0.35, "XMR"), (21.0, "EUR")]),
    ("0.35 XMR / 0.002 BTC", [(0.35, "XMR"), (0.002, "BTC")]),
    ("USD 8634.69", [(8634.69, "USD")]),  # Empire
    ("£40 (€46)", [(40.0, "GBP"), (46.0, "EUR")]),
    ("1 200 kr", [(1200.0, "SEK")]),
    ("450:-", [(450.0, "SEK")]),
    ("$49 – 0.0093 BCH", [(49.0, "USD"), (0.0093, "BCH")]),
    ("0.05 LTC", [(0.05, "LTC")]),
])
def test_parse_prices_in_order(text: str, expected: list[tuple[float, str]]) -> None:
    assert [(p.amount, p.currency) for p in parse_prices(text)] == expected
    first = parse_price(text)
    assert first is not None and (first.amount, first.currency) == expected[0]


def test_a_bare_amount_takes_the_default_currency() -> None:
    assert [(p.amount, p.currency) for p in parse_prices("0.000787", default="BTC")] == [(0.000787, "BTC")]
    assert parse_prices("no price here", default="BTC") == []


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("฿0.000787 (€7.28)", None, "BTC"),
    ("€7.28 (฿0.000787)", None, "EUR"),
    ("0.35 XMR (USD 20)", "USD", "XMR"),
    ("ɱ0.35", None, "XMR"),
    ("12.50", "USD", "USD"),
    ("kr 200 ($20)", None, "SEK"),
])
def test_listing_currency_is_the_leading_prices(text: str, default: str | None, expected: str) -> None:
    assert currency_of(text, default) == expected


def test_listing_price_and_currency_from_the_leading_price() -> None:
    from crawler.pipelines.documents import DocumentBuilder
    from extractors.pipeline import SpacyExtractor
    from extractors.rates import RateTable
    from indexer.models import Listing

    builder = DocumentBuilder(SpacyExtractor(rates=None), RateTable.default(), "run", "2025-03-01T12:00:00+00:00",
                              lambda kind, doc_id: None)
    item: dict[str, Any] = {"type": "listing", "site": "s", "url": "http://127.0.0.1/l/1",
                            "fields": {"listing_id": "1", "title": "Soma 350mg", "price": "฿0.000787 (€7.28)"}}
    listing = next(d for d in builder.build([item], {"s": "USD"}, {"s": "en"}) if isinstance(d, Listing))
    assert (listing.price, listing.currency) == (0.000787, "BTC")
