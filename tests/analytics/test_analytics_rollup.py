"""Vendor roll-up on the real SQLite backend."""

from __future__ import annotations

from pathlib import Path

from analytics.rollup import (
    SWEDISH_THRESHOLD,
    fallback_swedish_score,
    market_profiles,
    rollup,
    rollup_vendors,
)
from indexer.models import Vendor
from tests.analytics_data import backend, listing, vendor

SV_DESC = "Allt skickas från Sverige med PostNord brev, vakuumförpackat. Betala med Bitcoin eller Swish till stamkunder."


def _fixed_scorer(texts: list[str], ships_from: str | None, ships_to: list[str]) -> tuple[float, list[str]]:
    return (0.9 if ships_from == "SE" else 0.1), [f"ships_from:{ships_from}", f"texts:{len(texts)}"]


def test_rollup_listings_majority_country_and_swedish_score(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([
        vendor("flugsvamp", "Isbjornen", profile="Liten svensk säljare. Skickar brev med PostNord.", last=3),
        listing("flugsvamp", "1", "Isbjornen", price=300, currency="SEK", ships_from="SE", n_last=3,
                description=SV_DESC, ships_to=["SE"]),
        listing("flugsvamp", "2", "Isbjornen", price=500, currency="SEK", ships_from="SE", n_last=3,
                description=SV_DESC, ships_to=["SE"]),
        listing("flugsvamp", "3", "Isbjornen", price=500, currency="SEK", ships_from="NL", n_last=3),
        listing("flugsvamp", "4", "Isbjornen", price=500, currency="SEK", ships_from="NL", n_last=1),  # gone
        vendor("nordbazaar", "Tulip", profile="Shipping worldwide from the Netherlands, stealth guaranteed.", last=3),
        listing("nordbazaar", "a1", "Tulip", price=30, currency="USD", ships_from="NL", n_last=3,
                description="Fast shipping with DHL. Pay in XMR.", ships_to=["EU", "SE"]),
    ])
    result = rollup_vendors(idx)
    assert result.scorer in ("analytics.rollup.fallback", "extractors.swedish.swedish_score")
    isb = idx.get("vendor", Vendor.make_id("flugsvamp", "Isbjornen"))
    tulip = idx.get("vendor", Vendor.make_id("nordbazaar", "Tulip"))
    assert isb is not None and tulip is not None
    assert isb["listings"] == 3  # listing 4 was not in the latest crawl
    assert isb["ships_from"] == "SE"  # 2 of the 3 current listings
    assert isb["swedish_score"] >= SWEDISH_THRESHOLD and isb["swedish_signals"]
    assert tulip["listings"] == 1 and tulip["ships_from"] == "NL"
    assert tulip["swedish_score"] < SWEDISH_THRESHOLD
    assert rollup_vendors(idx).updated == []  # idempotent: nothing changes the second time


def test_fallback_scorer_signals_and_negated_swish() -> None:
    score, signals = fallback_swedish_score([SV_DESC], "SE", ["SE"], currencies=["SEK"])
    assert set(signals) == {"ships_from:SE", "text:swedish", "currency:SEK", "payment:swish",
                            "shipping:postnord/brev", "ships_to:SE-only"}
    assert score == 1.0
    _, negated = fallback_swedish_score(["Betalning i Bitcoin via marknadens escrow. Swish tas INTE emot här."],
                                        "SE", [])
    assert "payment:swish" not in negated
    abroad, abroad_signals = fallback_swedish_score([SV_DESC], "NL", ["SE"], currencies=["SEK"])
    assert "ships_from:abroad" in abroad_signals and abroad < SWEDISH_THRESHOLD


def test_rollup_uses_the_given_scorer_and_creates_missing_vendors(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([listing("flugsvamp", "9", "Nyckelpigan", price=100, currency="SEK", ships_from="SE", n_first=2,
                        n_last=4)])
    result = rollup_vendors(idx, scorer=_fixed_scorer)
    vid = Vendor.make_id("flugsvamp", "Nyckelpigan")
    assert result.created == [vid]
    doc = idx.get("vendor", vid)
    assert doc is not None
    assert doc["swedish_score"] == 0.9 and doc["swedish_signals"] == ["ships_from:SE", "texts:1"]
    assert doc["first_seen"].startswith("2026-09-02") and doc["last_seen"].startswith("2026-09-04")
    assert rollup_vendors(idx, scorer=_fixed_scorer).created == []


def test_rollup_entry_point_also_links_identities(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    fp = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
    idx.upsert([vendor("flugsvamp", "a", fingerprints=[fp]), vendor("nordbazaar", "b", fingerprints=[fp])])
    rollup(idx)
    assert idx.count("vendor_identity") == 1


def test_structured_ships_from_abroad_overrides_a_text_mention_of_sweden(tmp_path: Path) -> None:
    def scorer(texts: list[str], ships_from: str | None, ships_to: list[str]) -> tuple[float, list[dict[str, object]]]:
        return 0.67, [{"signal": "ships_from_se", "weight": 0.45, "evidence": "till Sverige"},
                      {"signal": "swedish_text", "weight": 0.4, "evidence": "3 of 3 texts are Swedish"}]

    idx = backend(tmp_path)
    idx.upsert([listing("flugsvamp", "7", "Tysken", price=100, currency="SEK", ships_from="DE",
                        description="Skickas från Tyskland med spårbart brev, 3–5 dagar till Sverige.")])
    rollup_vendors(idx, scorer=scorer)
    doc = idx.get("vendor", Vendor.make_id("flugsvamp", "Tysken"))
    assert doc is not None
    assert doc["swedish_signals"] == ["swedish_text: 3 of 3 texts are Swedish"]
    assert doc["swedish_score"] == 0.4


def _swedish_market(idx, extra_vendors: int = 5) -> None:  # noqa: ANN001
    idx.upsert([listing("flugsvamp", f"m{i}", f"Svensk{i}", price=300, currency="SEK", ships_from="SE", lang="sv",
                        ships_to=["SE"], description=SV_DESC) for i in range(extra_vendors)])


def test_market_profiles_come_from_the_sites_listings(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    _swedish_market(idx)
    idx.upsert([listing("nordbazaar", f"e{i}", f"Intl{i}", price=30, currency="USD", ships_from="NL", lang="en",
                        ships_to=["WW"]) for i in range(5)]
               + [listing("tillskott", "p1", "Shop", price=300, currency="SEK", lang="sv", ships_to=["SE"])])
    profiles = market_profiles(idx.iter_docs("listing"))
    assert profiles["flugsvamp"] == {"site": "flugsvamp", "lang": "sv", "currency": "SEK", "ships_to_se": True}
    assert profiles["nordbazaar"] == {"site": "nordbazaar", "lang": "en", "currency": "USD", "ships_to_se": False}
    assert "tillskott" not in profiles  # one vendor: its language and currency are the vendor's own


def test_foreign_vendor_on_a_swedish_market_is_not_swedish(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    _swedish_market(idx)
    idx.upsert([
        vendor("flugsvamp", "Tulpanen", profile="Hej! Stamkunder får rabatt. Swish kan ordnas. Alltid PostNord."),
        listing("flugsvamp", "nl1", "Tulpanen", price=300, currency="SEK", ships_from="NL", lang="sv", ships_to=["SE"],
                description="Grym kvalitet. Skickas från Nederländerna med spårbart brev, 3–5 dagar till Sverige."),
        vendor("nordbazaar", "Viking", profile="Small quality-focused shop. Same PGP key on every market."),
        listing("nordbazaar", "se1", "Viking", price=30, currency="USD", ships_from="SE", lang="en",
                description="Premium hash. Encrypt your address with our PGP key.", ships_to=["WW"]),
    ])
    rollup_vendors(idx)
    nl = idx.get("vendor", Vendor.make_id("flugsvamp", "Tulpanen"))
    se = idx.get("vendor", Vendor.make_id("nordbazaar", "Viking"))
    home = idx.get("vendor", Vendor.make_id("flugsvamp", "Svensk0"))
    assert nl is not None and se is not None and home is not None
    assert nl["swedish_score"] < SWEDISH_THRESHOLD
    assert nl["swedish_signals"][0].startswith("ships_from_abroad: ships_from field: NL")
    assert any("discounted" in s for s in nl["swedish_signals"])  # Swedish text on a Swedish market
    assert se["swedish_score"] >= SWEDISH_THRESHOLD  # English only, but ships from Sweden
    assert home["swedish_score"] >= SWEDISH_THRESHOLD


def test_fallback_scorer_drops_market_norms() -> None:
    market = {"site": "flugsvamp", "lang": "sv", "currency": "SEK", "ships_to_se": True}
    _, signals = fallback_swedish_score([SV_DESC], None, ["SE"], currencies=["SEK"], market=market)
    assert not {"text:swedish", "currency:SEK", "ships_to:SE-only"} & set(signals)
    assert "payment:swish" in signals


def test_rollup_marks_baseline_vendors_and_copies_scores_onto_observations(tmp_path: Path) -> None:
    from indexer.models import VendorObservation

    idx = backend(tmp_path)
    old, new = vendor("fs", "gammal", first=1, last=8), vendor("fs", "ny", first=8, last=8)
    obs = [VendorObservation(id=VendorObservation.make_id(v.id, f"r{n}"), vendor=v.id, site="fs", name=v.name,
                             observed_at=f"2026-09-0{n}T12:00:00+00:00", run_id=f"r{n}", swedish_score=0.99)
           for v, n in ((old, 1), (old, 8), (new, 8))]
    idx.upsert([old, new, listing("fs", "L1", "gammal", price=1.0, currency="SEK", n_last=8), *obs])
    rollup(idx)
    vendors = {v["name"]: v for v in idx.iter_docs("vendor")}
    assert vendors["gammal"]["baseline"] is True and vendors["ny"]["baseline"] is False
    scores = {v["id"]: v["swedish_score"] for v in vendors.values()}
    assert all(o["swedish_score"] == scores[o["vendor"]] != 0.99 for o in idx.iter_docs("vendor_observation"))
