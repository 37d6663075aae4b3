"""Vendor identity links on the real SQLite backend: strong / medium / candidate, and precision."""

from __future__ import annotations

from pathlib import Path

from analytics.identity import (
    CANDIDATE,
    MEDIUM,
    STRONG,
    alias_similarity,
    link_vendors,
    normalise_fingerprint,
)
from benchmarks.identity_eval import score_identity
from indexer.models import Vendor
from tests.analytics_data import backend, vendor

FP_A = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
FP_A_SUB = "0F1E2D3C4B5A69788796A5B4C3D2E1F001234567"
FP_B = "FFEEDDCCBBAA99887766554433221100FFEEDDCC"


def _spaced(fp: str) -> str:
    return " ".join(fp[i : i + 4] for i in range(0, 40, 4)).lower()


def test_fingerprint_normalisation_rejects_short_ids() -> None:
    assert normalise_fingerprint(_spaced(FP_A)) == FP_A
    assert normalise_fingerprint("0x" + FP_A.lower()) == FP_A
    assert normalise_fingerprint(FP_A[-16:]) is None  # a long key id is not a fingerprint
    assert normalise_fingerprint(FP_A[:39] + "Z") is None


def test_strong_medium_and_candidate_links(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([
        # strong: the same key, once as the primary and once listed as a subkey with spaces
        vendor("flugsvamp", "Isbjornen", fingerprints=[FP_A, FP_A_SUB]),
        vendor("nordbazaar", "PolarKing", fingerprints=[_spaced(FP_A_SUB)]),
        # medium: a shared Wickr handle (written with @ and other case) / a shared BTC address
        vendor("flugsvamp", "Sotsaken", contacts=[{"kind": "wickr", "value": "sotsaken_se"}], fingerprints=[FP_B]),
        vendor("nordbazaar", "SweetDeals", contacts=[{"kind": "wickr", "value": "@SotSaken_SE"}]),
        vendor("flugsvamp", "Gronsaken", addresses=["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]),
        vendor("nordbazaar", "GreenThumb", addresses=["BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"]),
        # the same alias on two sites, nothing else in common: a candidate only
        vendor("flugsvamp", "Kalle_SE", fingerprints=["1111222233334444555566667777888899990000"]),
        vendor("nordbazaar", "kalle", fingerprints=["AAAA222233334444555566667777888899990000"]),
        # a short key id in common is no evidence at all
        vendor("flugsvamp", "Lonely", fingerprints=[FP_B[-16:]]),
    ])
    result = link_vendors(idx)
    groups = {frozenset(g.names): g for g in result.identities}
    strong = groups[frozenset({"flugsvamp:Isbjornen", "nordbazaar:PolarKing"})]
    assert strong.strength == STRONG and strong.confidence >= 0.95
    assert strong.evidence[0]["type"] == "pgp_fingerprint" and strong.evidence[0]["value"] == FP_A_SUB
    assert {c["capture_id"] for c in strong.evidence[0]["captures"]} == {
        "cap-v-flugsvamp-Isbjornen", "cap-v-nordbazaar-PolarKing"}
    contact = groups[frozenset({"flugsvamp:Sotsaken", "nordbazaar:SweetDeals"})]
    assert contact.strength == MEDIUM and 0.5 <= contact.confidence < 0.95
    assert contact.evidence[0]["type"] == "contact" and contact.evidence[0]["value"] == "wickr:sotsaken_se"
    address = groups[frozenset({"flugsvamp:Gronsaken", "nordbazaar:GreenThumb"})]
    assert address.strength == MEDIUM and address.evidence[0]["type"] == "crypto_address"
    assert len(result.identities) == 3  # Kalle / kalle and Lonely are not merged into anything
    kalle = Vendor.make_id("flugsvamp", "Kalle_SE")
    assert result.group_of(kalle) is None
    assert [sorted(c.names) for c in result.candidates] == [["flugsvamp:Kalle_SE", "nordbazaar:kalle"]]
    assert result.candidates[0].strength == CANDIDATE and result.candidates[0].confidence < 0.5
    stored = list(idx.iter_docs("vendor_identity"))
    assert sorted(d["strength"] for d in stored) == [CANDIDATE, MEDIUM, MEDIUM, STRONG]


def test_union_find_merges_chains_and_reports_mixed_strength(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([
        vendor("a", "one", fingerprints=[FP_A]),
        vendor("b", "two", fingerprints=[FP_A], contacts=[{"kind": "telegram", "value": "twohandle"}]),
        vendor("c", "three", contacts=[{"kind": "telegram", "value": "twohandle"}]),
    ])
    result = link_vendors(idx)
    assert len(result.identities) == 1
    ident = result.identities[0]
    assert len(ident.vendors) == 3 and ident.strength == MEDIUM  # the third is only linked by a contact
    assert [e["strength"] for e in ident.evidence] == [STRONG, MEDIUM]


def test_generic_contact_shared_by_many_vendors_is_ignored(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    idx.upsert([vendor("m", f"v{i}", contacts=[{"kind": "email", "value": "support@market.onion"}]) for i in range(6)])
    result = link_vendors(idx)
    assert result.identities == []
    assert result.generic_values and result.generic_values[0]["value"] == "email:support@market.onion"


def test_linking_is_idempotent_and_drops_stale_identities(tmp_path: Path) -> None:
    idx = backend(tmp_path)
    a = vendor("a", "one", fingerprints=[FP_A])
    b = vendor("b", "two", fingerprints=[FP_A])
    idx.upsert([a, b])
    first = sorted(d["id"] for d in idx.iter_docs("vendor_identity")) if link_vendors(idx) else []
    link_vendors(idx)
    assert sorted(d["id"] for d in idx.iter_docs("vendor_identity")) == first and len(first) == 1
    b.pgp_fingerprints = [FP_B]  # the vendor changed keys: the link is gone
    idx.upsert([b])
    link_vendors(idx)
    assert idx.count("vendor_identity") == 0


def test_alias_similarity_folds_lookalikes() -> None:
    assert alias_similarity("Sn0wMan_SE", "snowman") == 1.0
    assert alias_similarity("GreenThumb", "Isbjornen") < 0.5


def test_score_identity_strong_precision_on_a_testbed_like_world(tmp_path: Path) -> None:
    """Ten identities on two sites with one key each, look-alike aliases on unrelated vendors and a
    shared generic contact: strong links must be exactly the true pairs."""
    idx = backend(tmp_path)
    truth = []
    docs = []
    for i in range(10):
        fp = f"{i:02d}" * 20
        for site, name in (("flugsvamp", f"sv_vendor{i}"), ("nordbazaar", f"intl{i}x")):
            docs.append(vendor(site, name, fingerprints=[fp],
                               contacts=[{"kind": "email", "value": "help@market.onion"}]))
            truth.append({"site": site, "vendor": name, "identity_id": f"id{i}"})
    for i in range(5):  # different people who picked the same alias as someone on the other site
        docs.append(vendor("nordbazaar", f"sv_vendor{i}", fingerprints=[f"{i + 50:02d}" * 20]))
        truth.append({"site": "nordbazaar", "vendor": f"sv_vendor{i}", "identity_id": f"other{i}"})
    idx.upsert(docs)
    result = link_vendors(idx)
    scores = score_identity(result.identities + result.candidates, truth,
                            indexed=[(t["site"], t["vendor"].casefold()) for t in truth])
    assert scores["strong"]["precision"] == 1.0
    assert scores["strong"]["recall"] == 1.0
    assert scores["candidate"]["predicted_pairs"] >= 5 and scores["candidate"]["precision"] == 0.0
    assert scores["medium"]["predicted_pairs"] == 0  # the generic contact linked nobody


def test_fingerprints_are_read_from_the_published_key_block(tmp_path: Path) -> None:
    """A vendor whose crawl kept only the armored key (no fingerprints) still links strongly."""
    import json

    keys = Path(__file__).resolve().parents[2] / "testbed" / "data" / "pgp_keys.jsonl"
    first, second = (json.loads(line) for line in keys.read_text(encoding="utf-8").splitlines()[:2])
    idx = backend(tmp_path)
    idx.upsert([
        vendor("flugsvamp", "Nordanvind", pgp_key=first["armored"]),
        vendor("nordbazaar", "NorthWind", fingerprints=[first["fingerprint"]]),
        vendor("nordbazaar", "Other", pgp_key=second["armored"]),
        vendor("flugsvamp", "Broken", pgp_key="-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n"
                                              "-----END PGP PUBLIC KEY BLOCK-----"),
    ])
    result = link_vendors(idx)
    assert [sorted(i.names) for i in result.identities] == [["flugsvamp:Nordanvind", "nordbazaar:NorthWind"]]
    assert result.identities[0].strength == STRONG
    assert result.identities[0].evidence[0]["value"] == first["fingerprint"]
