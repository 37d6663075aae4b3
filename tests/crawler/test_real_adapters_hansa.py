"""Hansa Market (2017, real saved pages in ../shared/data/hansa-html-2017) through the test adapter
tests/data/hansa2017_adapter.yaml and the crawl's parsing path: the data model's listing and vendor
structures as Hansa shows them, and its imported ratings as identity claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import shared_data

ADAPTER = Path(__file__).resolve().parents[1] / "data" / "hansa2017_adapter.yaml"


def _doc(kind: str, name: str) -> Any:
    from benchmarks import real_adapters_eval as ev
    from crawler.adapters import load_adapter

    page = shared_data("hansa-html-2017", f"hansamkt2rr6nfg3.onion_{kind}_{name}_.htm")
    adapter = load_adapter(str(ADAPTER))
    built = ev.build_page(adapter, f"{adapter.base_url}/{kind}/{name}/", page.read_text(encoding="utf-8", errors="replace"))
    return built.doc(kind)


def test_hansa_listing_structures() -> None:
    listing = _doc("listing", "56750")
    assert listing.listing_id == "56750" and listing.listing_type == "physical"
    assert listing.stock == 872 and listing.stock_unlimited is False
    assert [(c["name"], c["id"], c["level"]) for c in listing.category_path] == [
        ("Drugs", "1", 0), ("Prescription", "15", 1), ("Painkillers", "105", 2)]
    assert listing.category == "Painkillers" and listing.category_ids == ["1", "15", "105"]
    # the placeholder "Please select an option..." is no option; names keep Hansa's own brackets
    assert [(o["name"], o["price"], o["currency"], o["days"]) for o in listing.shipping_options] == [
        ("[PAID] Shipping costs on other listing [Next Day]", 0.0, "USD", None),
        ("[UK] Speed Mail Tracked & Registred (NDD) [2 days]", 10.17, "USD", 2),
        ("[UK] 1st Class Non-Registred (NDD-3DD) [3 days]", 3.81, "USD", 3),
        ("[INTERNATIONAL] 1st Class Tracked & Registred (3DD-21DD) [10 days]", 10.17, "USD", 10)]
    assert listing.prices == [{"amount": 27.6, "currency": "USD"}, {"amount": 0.0089, "currency": "BTC"}]
    # the footer's "USD/BTC 2714.79" rows: units per 1 BTC, keyed by the pair's base
    assert listing.site_rates == {"USD": 2714.79, "EUR": 2425.44, "GBP": 2135.02, "CAD": 3600.49, "AUD": 3586.72}
    assert listing.extra == {"vendor_level": "Level 9 (900+)", "vendor_trust": "Trusted Vendor"}
    digital = _doc("listing", "42171")
    assert digital.listing_type == "digital" and digital.stock is None and digital.stock_unlimited is None
    assert [c["name"] for c in digital.category_path] == ["Digital Goods", "Entertainment", "Movies & TV Shows"]


def test_hansa_vendor_fields_and_imported_ratings() -> None:
    vendor = _doc("vendor", "tramapro")
    assert (vendor.name, vendor.level, vendor.trust_level) == ("tramapro", "Level 5", "Trusted Vendor")
    assert (vendor.orders, vendor.last_login, vendor.joined) == (60, "2017-06-23", "2016-01-05")
    # four markets, four formats; the title says which number is which ("Average rating, Number of ratings")
    assert [(r["market"], r["sales"], r["rating"], r["positive"], r["neutral"], r["negative"])
            for r in vendor.external_ratings] == [
        ("alphabay", 685, None, 669, 4, 12), ("abraxas", 200, 5.0, None, None, None),
        ("agora", 2, 5.0, None, None, None), ("dream", 310, 4.9, None, None, None)]
    assert vendor.extra == {"feedback_positive": 46, "feedback_neutral": 2, "feedback_negative": 4}
    plain = _doc("vendor", "PushingSleepy")
    assert plain.trust_level is None and plain.level == "Level 5"


def test_real_claims_link_only_with_a_matching_vendor(tmp_path: Path) -> None:
    """Every real vendor page (Dream, Empire, Hansa) in one index: their claims name markets where the
    saved pages hold no vendor of that alias, so nothing is linked; one constructed Dream 'tramapro'
    turns Hansa tramapro's claim into a medium link."""
    shared_data("msc-darkweb-2019", "assertions.json")
    from analytics.identity import MEDIUM, link_vendors
    from benchmarks import real_adapters_eval as ev
    from indexer.models import Vendor
    from indexer.sqlite import SQLiteBackend

    docs = [_doc("vendor", n) for n in ("tramapro", "PushingSleepy", "Zloy3", "bitloxer", "dbworld")]
    for rel in [f"dream/html_files/sellers/seller_{i}.html" for i in (0, 1, 3, 5, 7)] + [
            f"empire/html_files/users/saved_empire_user_{i}" for i in range(6)]:
        docs.append(ev.load_page(rel).doc("vendor"))
    backend = SQLiteBackend(tmp_path / "index.sqlite")
    try:
        backend.upsert(docs)
        result = link_vendors(backend)
        assert result.identities == []
        claims = {(c["site"], c["name"], c["market"]): c["status"] for c in result.claims}
        assert claims[("empire", "ChillTimes", "dream")] == "no_match"
        assert claims[("hansa2017", "tramapro", "dream")] == "no_match"
        assert claims[("dream", "Bruiser89", "hansa")] == "no_match"
        backend.upsert([Vendor(id=Vendor.make_id("dream", "TramaPro"), site="dream", name="TramaPro",
                               capture_id="cap-dream-tramapro", capture_sha256="ab" * 32)])
        linked = link_vendors(backend)
        (group,) = linked.identities
        assert set(group.names) == {"hansa2017:tramapro", "dream:TramaPro"} and group.strength == MEDIUM
        assert group.evidence[0]["claim"]["sales"] == 310 and group.evidence[0]["claim"]["rating"] == 4.9
    finally:
        backend.close()
