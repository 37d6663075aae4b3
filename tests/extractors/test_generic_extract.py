"""The zero-config extractor (extractors/generic.py) on real market pages and on a Swedish shop page."""

from __future__ import annotations

import os

import pytest

from extractors.generic import extract_page
from tests.conftest import SHARED_DATA, shared_data


def test_every_market_reaches_the_target_on_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    shared_data("msc-darkweb-2019")
    monkeypatch.setenv("SOKHUND_SHARED_DATA", os.environ.get("SOKHUND_SHARED_DATA") or str(SHARED_DATA))
    import benchmarks.generic_eval as generic_eval

    monkeypatch.setattr(generic_eval, "SHARED", SHARED_DATA)
    scores = generic_eval.evaluate()
    assert {"hansa", "dream", "empire", "wethenorth", "nexus", "digital-thrift-shop"} <= set(scores)
    for market, by_field in scores.items():
        for field, text in by_field.items():
            assert float(text.split()[0]) >= 0.8, (market, field, text)


def test_dream_listing_reads_label_pairs_and_the_bitcoin_sign() -> None:
    page = extract_page(shared_data("msc-darkweb-2019", "dream", "html_files", "listings", "listing_3.html").read_bytes())
    assert page["page_type"] == "listing"
    f = page["items"][0]["fields"]
    assert (f["title"], f["vendor"], f["price"], f["currency"], f["ships_from"]) == (
        "Louis Vuitton Bracelet 48 AAA+", "EdgeBoutique", 0.00271, "BTC", "China")


def test_invalid_and_profile_pages_are_not_listings() -> None:
    for parts in (("dark-market-scout-2024", "crawler", "captcha", "training-data", "captcha", "Kerberos DDoS protect.html"),
                  ("msc-darkweb-2019", "empire", "html_files", "login_page", "saved_empire_login_page_0"),
                  ("hansa-html-2017", "hansamkt2rr6nfg3.onion_vendor_tramapro_.htm")):
        assert extract_page(shared_data(*parts).read_bytes())["page_type"] != "listing", parts


SHOP = """<html><head><title>Kola 5 g – Nordens Bästa</title></head><body>
<nav><a href="/">Hem</a> <a href="/kategori/kokain">Kokain</a> <div class="cart">Varukorg: 0 kr</div></nav>
<div class="brodsmulor"><a href="/">Hem</a> › <a href="/kategori/kokain">Kokain</a></div>
<h1>Kola 5 g</h1>
<table><tr><th>Pris</th><td>3 900 kr</td></tr><tr><th>Säljare</th><td><a href="/saljare/snogubben">Snögubben</a></td></tr>
<tr><th>Skickas från</th><td>Sverige</td></tr><tr><th>Skickas till</th><td>Sverige, Norge</td></tr></table>
<button>Köp nu</button>
<div class="beskrivning">Ren kola, 5 g per beställning. Skickas med PostNord som brev. Swish tas INTE emot.</div>
<h3>Fler från säljaren</h3>
<ul><li><a href="/produkt/11">Kola 1 g</a> 850 kr</li><li><a href="/produkt/12">Kola 10 g</a> 7 500 kr</li>
<li><a href="/produkt/13">Tjack 5 g</a> 900 kr</li></ul></body></html>"""


def test_swedish_shop_page_without_an_adapter() -> None:
    page = extract_page(SHOP, "http://127.0.0.1/produkt/10")
    assert page["page_type"] == "listing"
    f = page["items"][0]["fields"]
    assert (f["title"], f["price"], f["currency"], f["vendor"], f["ships_from"]) == ("Kola 5 g", 3900, "SEK", "Snögubben", "Sverige")
    assert f["ships_to"] == "Sverige, Norge" and "Kokain" in f["category"] and "PostNord" in f["description"]
