"""Nexus Market (2024, real saved pages in ../shared/data/dark-market-scout-2024) through the test adapter
tests/data/nexus2024_adapter.yaml and the crawl's parsing path: the listing structures a 2024 market shows
on its product page (minimum order, stock, escrow, auto-dispatch, category path with the site's ids) and on
its category cards (one listing per card with a product link)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import shared_data

ADAPTER = Path(__file__).resolve().parents[1] / "data" / "nexus2024_adapter.yaml"
PAGES = ("dark-market-scout-2024", "crawler", "captcha", "training-data", "non_captcha")


def _page(name: str, path: str) -> Any:
    from benchmarks import real_adapters_eval as ev
    from crawler.adapters import load_adapter

    html = shared_data(*PAGES, name).read_text(encoding="utf-8", errors="replace")
    adapter = load_adapter(str(ADAPTER))
    return ev.build_page(adapter, adapter.base_url + path, html)


def test_nexus_product_page_structures() -> None:
    page = _page("nexus1.html", "/product/632206208ddd6841cf8a9148bbf963b856d1")
    (listing,) = [d for d in page.docs if d.KIND == "listing"]
    assert (listing.title, listing.vendor) == ("BestBuy 10000 $ Balance Store Card With Method On How To Use", "BadBreed")
    assert (listing.price, listing.currency, listing.min_order, listing.stock) == (30.0, "USD", 1.0, 10000000)
    assert listing.stock_unlimited is False and listing.auto_dispatch is False  # "Shipped automatically: No"
    assert listing.supports_escrow is True and listing.finalize_early is False
    assert listing.payment == ["Bitcoin", "Monero", "Litecoin"]
    assert listing.tier_prices == []  # "Bulk prices: Not available for this product"
    assert [(c["name"], c["level"]) for c in listing.category_path] == [("Digital", 0), ("Accounts", 1)]
    assert listing.category_ids == ["182a339b72c1974c2578dd77827886046143", "1e9c917e808c184d3f88c73869aa3459a623"]
    assert listing.extra == {"vendor_sales": 47, "vendor_rating": 3.4, "vendor_level": 1}


def test_nexus_category_cards() -> None:
    page = _page("nexus9.html", "/products/5a7c1e")
    listings = [d for d in page.docs if d.KIND == "listing"]
    assert len(listings) == 18 and len({x.listing_id for x in listings}) == 18
    assert all(x.url.endswith("/product/" + x.listing_id) for x in listings)  # the card's link, not the page
    first = listings[0]
    assert (first.vendor, first.listing_type, first.ships_from, first.ships_to) == (
        "CeasarsPalace", "physical", "US", ["US"])
    assert (first.price, first.currency, first.quantity_g, first.supports_escrow) == (195.0, "USD", 3.5, True)
    assert first.extra == {"vendor_sales": 27, "vendor_sales_elsewhere": 4097}
