"""A real crawl (Scrapy, 127.0.0.1) of saved Empire pages (../shared/data/msc-darkweb-2019) through the
Empire adapter pointed at a local server: a search page's rows without a product link create no listing,
and a search row (fewer fields) does not blank what the full listing page showed (the merge rule in
crawler/pipelines/documents.py: fields a page does not declare keep their stored value)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.page_server import serve_pages

LISTING_PATH = "/product/104019/69/530054"  # saved_empire_listing_3: tier prices, shipping options, categories
SEARCH_PATH = "/home/searchProducts?searchText=x"
PAGES: dict[str, str] = {}


@pytest.fixture()
def site() -> Iterator[str]:
    root = shared_data("msc-darkweb-2019", "empire", "html_files")
    listing = (root / "listings" / "saved_empire_listing_3").read_text(encoding="utf-8", errors="replace")
    search = (root / "search_results" / "saved_empire_search_result_1").read_text(encoding="utf-8", errors="replace")
    # the first row's product becomes listing_3's, so one listing is seen both as a row and as a full page
    first = re.search(r"/product/(\d+)/(\d+)/(\d+)", search)
    assert first
    PAGES.update({LISTING_PATH: listing, SEARCH_PATH: search.replace(first.group(0), LISTING_PATH)})
    with serve_pages(PAGES) as url:
        yield url
    PAGES.clear()


def _adapter(tmp_path: Path, base: str, start: str) -> Path:
    """The reference Empire adapter, as a crawlable local site (the reference one is never crawled)."""
    text = (Path(__file__).resolve().parents[2] / "crawler" / "sites" / "empire.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^network: tor$", "network: clearnet", text)
    text = re.sub(r"(?m)^reference: true$", "reference: false", text)
    text = re.sub(r"(?m)^base_url: .*$", f"base_url: {base}", text)
    text = re.sub(r"(?m)^start: .*$", f'start: ["{start}"]', text)
    path = tmp_path / "empire_local.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_search_rows_make_no_junk_and_do_not_blank_the_full_listing(site: str, sokhund_home: Path,
                                                                      tmp_path: Path) -> None:
    from crawler.runner import run_crawl
    from indexer.base import open_backend
    from indexer.models import Listing

    full = run_crawl([str(_adapter(tmp_path, site, LISTING_PATH))], as_of="2019-10-20T12:00:00+00:00",
                     run_id="full", max_depth=0, timeout=300)
    assert set(full.finish_reasons.values()) == {"finished"}, full.stats
    backend = open_backend()
    try:
        before = backend.get("listing", Listing.make_id("empire", "104019"))
    finally:
        backend.close()
    assert before and before["description"] and before["tier_prices"] and before["shipping_options"]

    rows = run_crawl([str(_adapter(tmp_path, site, SEARCH_PATH))], as_of="2019-10-27T12:00:00+00:00",
                     run_id="rows", max_depth=0, timeout=300)
    assert set(rows.finish_reasons.values()) == {"finished"}, rows.stats
    backend = open_backend()
    try:
        listings = list(backend.iter_docs("listing"))
        after = backend.get("listing", Listing.make_id("empire", "104019"))
        observations = [o for o in backend.iter_docs("listing_observation") if o["listing_id"] == "104019"]
    finally:
        backend.close()
    # 11 rows on the page, one of them without a product link: 10 listings from it, none keyed by the page
    from_rows = [x for x in listings if x["last_seen"].startswith("2019-10-27")]
    assert len(from_rows) == 10 and len(listings) == 10
    assert not [x for x in listings if "searchProducts" in x["url"] or "searchProducts" in x["listing_id"]]
    assert all(re.search(r"/product/\d+/\d+/\d+$", x["url"]) for x in listings)
    assert after is not None and after["last_seen"].startswith("2019-10-27")
    # what the row does not show stays as the full page showed it
    for name in ("description", "tier_prices", "shipping_options", "category_path", "listing_type", "ships_from",
                 "stock_unlimited", "supports_escrow"):
        assert after[name] == before[name], name
    assert after["first_seen"] == before["first_seen"]
    assert after["extra"]["views"] > 0  # the row's own field (Empire rows show views)
    # the row's own observation records only what the row showed
    (row_obs,) = [o for o in observations if o["run_id"] == "rows"]
    assert row_obs["observed_at"].startswith("2019-10-27")
