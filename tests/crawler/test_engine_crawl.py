"""A real crawl (Scrapy, 127.0.0.1) of a market whose URLs say nothing (issue 15 §2): page types by content,
a vendor page that yields the vendor and its feedback rows, a captcha on the vendor's "send message" form
that must not stop the site, relative feedback dates against the crawl's time, a ฿ price."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.page_server import serve_pages

PROFILE_TEXT = "Vi skickar med PostNord varje vardag, alltid diskret och luktsäkert förpackat. " * 30
PAGES = {
    "/": "<html><body><a href='/p?id=1'>vendor</a> <a href='/p?id=2'>listing</a></body></html>",
    "/p?id=1": "<html><head><title>Grönbrevet</title></head><body><div class='vendor-profile'>"
               "<h1 class='name'>Grönbrevet</h1><p>Vendor since <span class='since'>Jan 5, 2025</span></p>"
               f"<p class='profile'>{PROFILE_TEXT}</p></div>"
               "<form action='/contact'><textarea name='m'></textarea><img src='/captcha.jpg' alt='Captcha'>"
               "<input name='captchaText'><button>Send message</button></form>"
               "<table class='fb'><tr><td class='r'>5</td><td class='t'>Snabbt och bra</td><td class='d'>igår</td>"
               "</tr><tr><td class='r'>4</td><td class='t'>ok</td><td class='d'>3 dagar sedan</td></tr></table>"
               "</body></html>",
    "/p?id=2": "<html><body><div class='listing'><h1>Soma 350mg x 100</h1><span class='price'>฿0.000787 (€7.28)"
               "</span><span class='vendor'>Grönbrevet</span></div></body></html>",
}
ADAPTER = """name: bycontent
kind: market
base_url: {base}
currency: USD
politeness: {{concurrency: 2, autothrottle: false}}
pages:
  index:
    url_pattern: "^/$"
    follow:
      - {{css: "a::attr(href)"}}
  vendor:
    match: {{css: "div.vendor-profile", text: "Vendor since"}}
    item: vendor
    fields:
      name: {{css: "h1.name::text"}}
      joined: {{css: "span.since::text", type: date}}
      profile: {{css: "p.profile::text"}}
    items:
      - item: feedback
        rows: "table.fb tr"
        fields:
          vendor: {{from_item: name}}
          rating: {{css: "td.r::text", type: int}}
          text: {{css: "td.t::text"}}
          date: {{css: "td.d::text", type: date}}
  listing:
    match: {{css: "div.listing"}}
    item: listing
    fields:
      listing_id: {{value: "2"}}
      title: {{css: "h1::text"}}
      price: {{css: "span.price::text"}}
      vendor: {{css: "span.vendor::text"}}
"""


@pytest.fixture()
def site() -> Iterator[str]:
    with serve_pages(PAGES) as url:
        yield url


@pytest.mark.parametrize("index_batch", [500, 1], ids=["batched", "every-document-at-once"])
def test_crawl_by_content_with_several_item_kinds(site: str, sokhund_home: Path, tmp_path: Path,
                                                  index_batch: int) -> None:
    """With a batch of 1 the sink writes each capture as soon as the page arrives, before the spider has
    decided the page's type by its content: the type must still reach the index."""
    from crawler.runner import run_crawl
    from indexer.base import open_backend

    adapter = tmp_path / "bycontent.yaml"
    adapter.write_text(ADAPTER.format(base=site), encoding="utf-8")
    result = run_crawl([str(adapter)], as_of="2025-03-10T12:00:00+00:00", run_id="c1", timeout=300,
                       settings={"SOKHUND_INDEX_BATCH": index_batch})
    assert result.finish_reasons == {str(adapter): "finished"}, result.stats
    backend = open_backend()
    try:
        vendors = list(backend.iter_docs("vendor"))
        feedback = sorted(backend.iter_docs("feedback"), key=lambda d: d["date"])
        listings = list(backend.iter_docs("listing"))
        captures = list(backend.iter_docs("capture"))
    finally:
        backend.close()
    assert not [c for c in captures if c.get("invalid_kind")], "the captcha form stopped or invalidated a page"
    assert [(v["name"], v["joined"]) for v in vendors] == [("Grönbrevet", "2025-01-05")]
    assert [(f["vendor"], f["rating"], f["date"]) for f in feedback] == [
        ("Grönbrevet", 4, "2025-03-07"), ("Grönbrevet", 5, "2025-03-09")]
    assert [(x["price"], x["currency"]) for x in listings] == [(0.000787, "BTC")]
    assert {c["page_type"] for c in captures if "/p?" in c["url"]} == {"vendor", "listing"}
