"""`sokhund crawl --generic URL`: a real Scrapy crawl, with no adapter, of real market pages (Empire,
Hansa, Dream, a Nexus category page from ../shared/data) served on 127.0.0.1, indexed and checked
against what the pages show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.page_server import serve_pages

PAGES = {
    "/empire/listing9": ("msc-darkweb-2019", "empire", "html_files", "listings", "saved_empire_listing_9"),
    "/hansa/listing/24459/": ("hansa-html-2017", "hansamkt2rr6nfg3.onion_listing_24459_.htm"),
    "/dream/listing0": ("msc-darkweb-2019", "dream", "html_files", "listings", "listing_0.html"),
    "/nexus/stimulants": ("dark-market-scout-2024", "crawler", "captcha", "training-data", "non_captcha", "nexus9.html"),
}


@pytest.fixture()
def real_pages() -> Iterator[str]:
    files = {path: shared_data(*parts) for path, parts in PAGES.items()}
    index = "".join(f'<li><a href="{p}">{p}</a></li>' for p in files)
    pages: dict[str, str | bytes] = {p: f.read_bytes() for p, f in files.items()}
    pages["/"] = f"<html><body><h1>Start</h1><ul>{index}</ul></body></html>"
    with serve_pages(pages) as url:
        yield url + "/"


def test_generic_crawl_indexes_real_listings_without_an_adapter(real_pages: str, sokhund_home: Path) -> None:
    from crawler.runner import run_crawl
    from crawler.spiders.generic import generic_adapter_file
    from indexer.base import open_backend

    adapter = generic_adapter_file(real_pages)
    result = run_crawl([str(adapter)], as_of="2026-09-01T12:00:00+00:00", run_id="g1", page_budget=40, max_depth=1,
                       settings={"SOKHUND_GENERIC": True}, timeout=240)
    assert result.finish_reasons[str(adapter)] in ("finished", "closespider_pagecount")
    backend = open_backend()
    try:
        listings = list(backend.iter_docs("listing"))
    finally:
        backend.close()
    by_title = {d["title"]: d for d in listings}
    lena = by_title["* 100g * Lena's * GORILLA GLUE #4 * Bio Weed * (Hybrid)"]
    assert (lena["price"], lena["currency"], lena["vendor"], lena["ships_from"]) == (1399.18, "USD", "LenasBioLaden", "DE")
    assert lena["substance"] == "cannabis" and lena["quantity_g"] == 100 and lena["price_per_g_sek"]
    trama = by_title["Tramadol 200m 10Pills USA shipping 24.95$ Full Esc"]
    assert (trama["price"], trama["vendor"], trama["ships_from"], trama["substance"]) == (22.71, "tramapro", "US", "tramadol")
    assert trama["units"] == 10 and trama["price_per_unit_sek"] and trama["price_per_g_sek"] is None
    soma = by_title["☢100 PILLS X Soma 350mg $49☢"]
    assert (soma["price"], soma["vendor"], soma["ships_from"]) == (50.96, "PHARMORA", "US")
    # the Nexus category page: one listing per card, with its vendor and origin
    coke = by_title["3.5G TOP SHELF COCAINE - CHARLOTTE BATCH + FREE SAMPLE OF MDMA/METH/KET"]
    assert (coke["vendor"], coke["ships_from"], coke["currency"], coke["substance"]) == ("CeasarsPalace", "US", "USD", "cocaine")
    assert sum(1 for d in listings if d["site"] == adapter.stem) >= 15
