"""Imported ratings as identity evidence (``claimed_elsewhere``): medium at most, and only with a vendor of
the same normalised alias on the claimed market (real SQLite backend, constructed vendor docs)."""

from __future__ import annotations

from pathlib import Path

from analytics.identity import CLAIMED_ELSEWHERE, MEDIUM, link_vendors
from indexer.models import Vendor
from tests.analytics_data import backend, vendor

FP = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"


def _rating(market: str, sales: int = 138, rating: float = 5.0) -> dict[str, object]:
    return {"market": market, "sales": sales, "rating": rating, "rating_max": 5}


def test_claim_links_the_matching_vendor_on_the_claimed_market_as_medium(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([
        # Empire vendor imports its Dream rating; Dream has "Nordic_Kings" (the same normalised alias)
        vendor("empire", "NordicKings", external_ratings=[_rating("dream")], fingerprints=[FP]),
        vendor("dream", "Nordic_Kings"),
        # a claim on a market we do not crawl: recorded, links nothing
        vendor("empire", "Lonely", external_ratings=[_rating("alphabay", 800)]),
        # a claim whose market is crawled, but nobody there has the alias
        vendor("empire", "Ghost", external_ratings=[_rating("dream", 12)]),
        vendor("dream", "SomeoneElse"),
    ])
    result = link_vendors(idx)
    group = result.group_of(Vendor.make_id("empire", "NordicKings"))
    assert group is not None and set(group.names) == {"empire:NordicKings", "dream:Nordic_Kings"}
    # self-asserted and unverifiable: never strong, even though the claimant has a full PGP fingerprint
    assert group.strength == MEDIUM and group.confidence < 0.95
    (evidence,) = group.evidence
    assert evidence["type"] == CLAIMED_ELSEWHERE and evidence["strength"] == MEDIUM
    assert evidence["claim"] == {"vendor": Vendor.make_id("empire", "NordicKings"), "market": "dream",
                                 "sales": 138, "rating": 5.0}
    assert {c["capture_id"] for c in evidence["captures"]} == {"cap-v-empire-NordicKings", "cap-v-dream-Nordic_Kings"}
    status = {(c["name"], c["market"]): c["status"] for c in result.claims}
    assert status == {("NordicKings", "dream"): "linked", ("Lonely", "alphabay"): "no_match",
                      ("Ghost", "dream"): "no_match"}
    assert len(result.identities) == 1
    assert not any(Vendor.make_id("empire", "Ghost") in c.vendors for c in result.candidates)


def test_same_alias_without_a_claim_stays_a_candidate(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([vendor("empire", "NordicKings"), vendor("dream", "Nordic_Kings")])
    result = link_vendors(idx)
    assert result.identities == [] and result.claims == []
    assert [c.strength for c in result.candidates] == ["candidate"]


def test_a_claim_names_a_market_not_a_similar_site_and_is_ambiguous_with_two_matches(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([
        # "dreamland" is not Dream: no link although the alias is the same
        vendor("empire", "Kalle", external_ratings=[_rating("dream")]),
        vendor("dreamland", "Kalle"),
        # two Hansa vendors fold to the same alias: the claim cannot say which one, so it links neither
        vendor("empire", "Bjorn", external_ratings=[_rating("hansa")]),
        vendor("hansa_market", "bjorn_se"),
        vendor("hansa_market", "Bjorn"),
        # a vendor quoting its own market's rating claims nothing new
        vendor("dream", "Selfie", external_ratings=[_rating("dream")]),
    ])
    result = link_vendors(idx)
    assert result.identities == []
    status = {c["name"]: c["status"] for c in result.claims}
    assert status == {"Kalle": "no_match", "Bjorn": "ambiguous", "Selfie": "own_market"}
    ambiguous = next(c for c in result.claims if c["name"] == "Bjorn")
    assert ambiguous["matches"] == sorted([Vendor.make_id("hansa_market", "bjorn_se"),
                                           Vendor.make_id("hansa_market", "Bjorn")])
