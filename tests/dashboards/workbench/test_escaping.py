"""Crawled text on every page is text: hostile titles, vendor names, posts, feedback and PGP blocks
upserted into the index come back escaped, bidi overrides visible, long words whole."""

from __future__ import annotations

import re

import pytest

from indexer.models import Feedback, Listing, ListingObservation, Post, Vendor
from tests.dashboards.workbench.conftest import Workbench
from tests.dashboards.workbench.hostile import JS_LINK, LONG_WORD, SCRIPT, assert_inert, hostile


@pytest.fixture()
def hostile_index(workbench: Workbench) -> dict[str, str]:
    vendor = Vendor(id=Vendor.make_id("alfa", "x"), site="alfa", name=hostile("VENDOR"), profile=hostile("PROFILE"),
                    pgp_key=f"-----BEGIN PGP PUBLIC KEY BLOCK-----\n{hostile('PGP')}\n-----END PGP PUBLIC KEY BLOCK-----",
                    contacts=[{"kind": "wickr", "value": hostile("CONTACT")}], first_seen="2026-01-01")
    listing = Listing(id=Listing.make_id("alfa", "1"), site="alfa", listing_id="1", title=hostile("TITLE kokain"),
                      description=hostile("DESCRIPTION"), vendor=vendor.name, vendor_id=vendor.id, url=JS_LINK,
                      category=hostile("CATEGORY"), shipping=[{"kind": "carrier", "value": hostile("SHIP")}],
                      payment=[hostile("PAY")], substance="cocaine", ships_from="SE", price_sek=800.0,
                      last_seen="2026-01-02", capture_id="cap-x")
    obs = ListingObservation(id=ListingObservation.make_id(listing.id, "r1"), listing=listing.id, site="alfa",
                             listing_id="1", observed_at="2026-01-02T12:00:00+00:00", run_id=hostile("RUN"),
                             price_sek=800.0, currency=hostile("CUR"))
    post = Post(id=Post.make_id("forum", "p1"), site="forum", post_id="p1", thread_title=hostile("THREAD kokain"),
                author=hostile("AUTHOR"), text=hostile("POST kokain"), first_seen="2026-01-02")
    feedback = Feedback(id="fb-1", site="alfa", listing=listing.id, vendor=vendor.name, vendor_id=vendor.id,
                        date="2026-01-02", text=hostile("FEEDBACK kokain"), buyer=hostile("BUYER"))
    backend = workbench.backend()
    backend.upsert([vendor, listing, obs, post, feedback])
    backend.close()
    return {"listing": listing.id, "vendor": vendor.id}


def _pages(workbench: Workbench, ids: dict[str, str]) -> dict[str, str]:
    client = workbench.client("admin")
    paths = [f"/listing/{ids['listing']}", "/search?q=kokain", "/search?q=VENDOR&kind=vendor",
             "/search?q=kokain&kind=post", "/search?q=kokain&kind=feedback", "/search?kind=listing&site=alfa",
             "/audit"]
    out = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        out[path] = response.get_data(as_text=True)
    return out


def test_hostile_strings_are_shown_as_text(workbench: Workbench, hostile_index: dict[str, str]) -> None:
    pages = _pages(workbench, hostile_index)
    for path, page in pages.items():
        assert_inert(page)
        assert SCRIPT not in page, path
        if path != "/audit":
            assert "\\u202egpj.exe" in page, path  # the override is visible, not applied
    listing = pages[f"/listing/{hostile_index['listing']}"]
    for label in ("TITLE", "DESCRIPTION", "VENDOR", "CATEGORY", "SHIP", "PAY", "RUN", "CUR"):
        assert f"{label}" in listing, label
    assert "&lt;script&gt;document.documentElement" in listing
    assert LONG_WORD in listing  # whole, never cut (the CSS wraps it)
    assert "javascript:" in listing and 'href="javascript' not in listing  # the URL as text only
    assert "THREAD" in pages["/search?q=kokain&kind=post"] and "AUTHOR" in pages["/search?q=kokain&kind=post"]
    assert "BUYER" in pages["/search?q=kokain&kind=feedback"]
    assert "… [+" in pages["/search?q=kokain"]  # a long title is cut visibly in the table, whole on its page
    assert "open.listing" in pages["/audit"] and "TITLE kokain" in pages["/audit"]  # the title, as text


def test_the_check_itself_catches_active_markup() -> None:
    with pytest.raises(AssertionError):
        assert_inert("<html><body><img src=x onerror=alert(1)></body></html>")
    with pytest.raises(AssertionError):
        assert_inert("<html><body><a href='javascript:alert(1)'>x</a></body></html>")
    with pytest.raises(AssertionError):
        assert_inert("<html><body><script>alert(1)</script></body></html>")
    with pytest.raises(AssertionError):
        assert_inert("<html><body>\u202eabc</body></html>")


def test_archived_html_loses_links_refreshes_and_resource_hints() -> None:
    from dashboards.workbench.inert import ascii_compatible, inert_html

    page = (b"<html><head><LINK rel=preconnect href=http://x><meta http-equiv=refresh content='0;url=http://x'>"
            b"<link/rel=dns-prefetch href=//x><base href=http://x/></head><body><a href='http://x'>y</a></A>"
            b"<area href=http://x><iframe src=http://x></iframe><object data=http://x><EMBED\nsrc=http://x>"
            b"<p>a <linkage> and <abbr>kept</abbr></p></body></html>")
    out = inert_html(page).lower()
    for tag in (b"link", b"meta", b"a", b"area", b"base", b"iframe", b"object", b"embed"):
        assert not re.search(rb"</?" + tag + rb"[\s/>]", out), tag
    assert b"<sokhund-link rel=preconnect" in out and b"<linkage>" in out and b"<abbr>kept</abbr>" in out
    assert ascii_compatible("UTF-8") and ascii_compatible("windows-1252") and not ascii_compatible("utf-16")
