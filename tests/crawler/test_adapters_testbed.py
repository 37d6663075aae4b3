"""Saved-page regression test for the testbed site adapters (crawler/sites/*.yaml).

Pages and expected values: tests/data/pages (regenerate with ``python -m testbed.tools.save_pages``).
Expected values come from the world's ground truth, not from the adapters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from parsel import Selector

from crawler.adapters import Matcher, load_adapter
from crawler.parsing import links, parse_page

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
EXPECTED = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))
BASE = "http://127.0.0.1:9999"


def _entry(site: str, name: str) -> dict:
    return next(e for e in EXPECTED["pages"][site] if e["file"] == name)


def _parse(site: str, name: str) -> tuple[list[dict], dict, str]:
    adapter = load_adapter(site)
    entry = _entry(site, name)
    html = (PAGES / site / name).read_text(encoding="utf-8")
    url = BASE + entry["url"]
    page_type = adapter.page_type(url)
    assert page_type is not None, f"{site}: no page type for {entry['url']}"
    return parse_page(adapter.pages[page_type], html, url), entry["expected"], page_type


@pytest.mark.parametrize("site", ["flugsvamp", "nordbazaar"])
def test_listing_fields(site: str) -> None:
    items, exp, page_type = _parse(site, "listing.html")
    assert page_type == "listing" and len(items) == 1
    item = items[0]
    for key in ("listing_id", "title", "vendor", "category", "price", "currency", "quantity", "stock",
                "feedback_count", "ships_from"):
        assert item[key] == exp[key], key
    if site == "flugsvamp":
        assert item["description"] == exp["description"]
        assert len(item["shipping"]) == exp["shipping_count"]
        assert item["price_btc"] and 0 < item["price_btc"] < 1
    else:
        assert item["sold"] == exp["sold"]
        assert item["ships_to"] == exp["ships_to"]
        assert item["price_xmr"] and item["price_xmr"] > 0


@pytest.mark.parametrize("site", ["flugsvamp", "nordbazaar"])
def test_vendor_fields_and_real_pgp_key(site: str) -> None:
    items, exp, page_type = _parse(site, "vendor.html")
    assert page_type == "vendor"
    item = items[0]
    for key in ("vendor_id", "name", "joined", "sales"):
        assert item[key] == exp[key], key
    assert item["rating"] == pytest.approx(exp["rating"], abs=0.005)
    if "contacts" in exp:
        assert item["contacts"] == exp["contacts"]
    # the adapter's `block` field keeps the armor's line breaks, so the published block parses as a
    # real OpenPGP key with the expected v4 fingerprint
    from pysequoia import Cert

    armored = item["pgp_key"]
    assert armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----") and "\n" in armored
    assert Cert.from_bytes(armored.encode()).fingerprint.upper() == exp["pgp_fingerprint"]


@pytest.mark.parametrize("site", ["flugsvamp", "nordbazaar"])
def test_feedback_rows(site: str) -> None:
    items, exp, page_type = _parse(site, "feedback.html")
    assert page_type == "feedback"
    got = [{k: row[k] for k in ("feedback_id", "listing_id", "date", "rating", "text", "buyer")} for row in items]
    assert got == exp["rows"]
    assert all(re.fullmatch(r"\w\*\*\*\w", row["buyer"]) for row in items)
    vendor = {"flugsvamp": "Gbgkemisten", "nordbazaar": "RoyalConnect30"}[site]  # the page heading's vendor
    assert [row.get("vendor") for row in items] == [vendor] * len(items)


def test_category_links_listings_and_next_page() -> None:
    adapter = load_adapter("flugsvamp")
    entry = _entry("flugsvamp", "category.html")
    html = (PAGES / "flugsvamp" / "category.html").read_text(encoding="utf-8")
    url = BASE + entry["url"]
    out = links(adapter, adapter.pages["category"], html, url)
    listing_urls = [u[len(BASE):] for u, kind, _ in out if kind == "listing"]
    assert listing_urls == entry["expected"]["listings"]
    nxt = [u[len(BASE):] for u, kind, _ in out if kind == "category"]
    assert nxt == ([entry["expected"]["next"]] if entry["expected"]["next"] else [])
    assert any(kind == "vendor" for _, kind, _ in out)


def test_forum_thread_posts() -> None:
    items, exp, page_type = _parse("snackis", "thread.html")
    assert page_type == "thread"
    keys = ("post_id", "thread_id", "thread_title", "author", "posted_at", "text")
    assert [{k: row[k] for k in keys} for row in items] == exp["rows"]
    assert any(re.search(r"Wickr|Telegram|Session|Signal", row["text"]) for row in items)


def test_shop_shell_has_no_products_but_api_does() -> None:
    adapter = load_adapter("tillskott")
    html = (PAGES / "tillskott" / "index.html").read_text(encoding="utf-8")
    assert adapter.pages["shop"].render is True
    assert parse_page(adapter.pages["shop"], html, BASE + "/") == []
    products = json.loads((PAGES / "tillskott" / "api_products.json").read_text(encoding="utf-8"))
    assert len(products) == _entry("tillskott", "index.html")["expected"]["product_count_api"] > 0


def _matches(matcher: Matcher, sel: Selector, status: int) -> bool:
    css, title, st = matcher.css, matcher.title, matcher.status
    ok = True
    if css:
        ok &= bool(sel.css(css))
    if title:
        ok &= bool(re.search(title, sel.css("title::text").get() or "", re.I))
    if st:
        ok &= status in st
    return ok and bool(css or title or st)


@pytest.mark.parametrize("site", ["flugsvamp", "nordbazaar"])
def test_detectors_fire_on_walls_only(site: str) -> None:
    from testbed.sites import flugsvamp, nordbazaar

    mod = {"flugsvamp": flugsvamp, "nordbazaar": nordbazaar}[site]
    adapter = load_adapter(site)
    kinds = {"ddos": 200, "login": 200, "rate_limit": 429, "ban": 403}
    for kind, status in kinds.items():
        sel = Selector(text=mod.wall(kind, "2026-09-01", 1.0))
        fired = {d.kind for d in adapter.detectors if any(_matches(m, sel, status) for m in d.any)}
        assert kind in fired, (kind, fired)
        if kind == "login":
            assert "captcha" in fired
    for name in ("listing.html", "vendor.html", "feedback.html"):
        sel = Selector(text=(PAGES / site / name).read_text(encoding="utf-8"))
        assert not [d.kind for d in adapter.detectors if any(_matches(m, sel, 200) for m in d.any)], name
