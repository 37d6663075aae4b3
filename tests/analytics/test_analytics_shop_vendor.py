"""An open-web shop is a vendor of its own: scored on shop-level signals, seen when its products are seen."""

from __future__ import annotations

from pathlib import Path

from analytics.rollup import SWEDISH_THRESHOLD, rollup_vendors
from crawler.adapters import load_adapter
from indexer.models import Vendor
from tests.analytics_data import backend, listing

SHOP = "tillskott"
NAME = "Tillskott Nordic"
TERMS = "Betala med Swish eller Bitcoin. Leverans med PostNord 1–3 dagar."  # the shop's payment/delivery text
PRODUCTS = ["Testosteron Enanthate 250 mg/ml 10 ml", "Deca 300 mg/ml 10 ml", "Anavar 10 mg – 100 tabletter",
            "3-MMC kristaller 5 g", "2C-B 20 mg pellets"]


def _products(n_last: int, ships_from: str | None) -> list:
    return [listing(SHOP, f"p{i}", NAME, price=450, currency="SEK", ships_from=ships_from, n_last=n_last,
                    title=title, description=TERMS) for i, title in enumerate(PRODUCTS)]


def test_shop_scores_on_shop_level_signals_without_ships_from(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert(_products(1, None))  # even without the adapter's declared ships_from
    rollup_vendors(idx)
    shop = idx.get("vendor", Vendor.make_id(SHOP, NAME))
    names = {s.split(":")[0] for s in shop["swedish_signals"]}
    assert {"swedish_text", "sek_price", "swish", "swedish_carrier"} <= names
    assert shop["swedish_score"] >= SWEDISH_THRESHOLD  # 0.48 before: Swish + PostNord only


def test_shop_last_seen_follows_its_products(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert(_products(1, "SE"))
    rollup_vendors(idx)
    first = idx.get("vendor", Vendor.make_id(SHOP, NAME))
    idx.upsert(_products(3, "SE"))  # the products are seen again two days later
    rollup_vendors(idx)
    later = idx.get("vendor", Vendor.make_id(SHOP, NAME))
    assert later["last_seen"] > first["last_seen"] and later["last_seen"] == _products(3, "SE")[0].last_seen
    assert later["ships_from"] == "SE"


def test_shop_adapter_declares_ships_from():
    adapter = load_adapter(SHOP)
    assert adapter.kind == "shop"
    for page in ("shop", "product"):
        assert adapter.pages[page].fields["ships_from"].value == "SE"
