"""SpacyExtractor: contract, robustness, Swedish score, and regression on the hand-labelled gold set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from extractors.base import SUMMARY_FIELDS, Extractor, ExtractRequest
from extractors.swedish import swedish_score
from tests.fixtures_extract import extractor  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[2]


def one(ex, text: str, **kw):  # noqa: ANN001
    return ex.extract([ExtractRequest(text=text, **kw)])[0]


def test_implements_protocol(extractor) -> None:  # noqa: F811
    assert isinstance(extractor, Extractor)


def test_contract_shape_and_nulls(extractor) -> None:  # noqa: F811
    res = one(extractor, "Hbonow Account Lifetime Warranty")
    assert set(res) == {"text", "lang", "entities", "summary"}
    assert set(SUMMARY_FIELDS) <= set(res["summary"])
    for key in ("substance", "price", "price_sek", "quantity", "ships_from", "ships_to", "payment", "contacts",
                "crypto_addresses", "pgp_fingerprints", "flags"):
        assert res["summary"][key] is None, key
    json.dumps(res)


def test_swedish_ad_end_to_end(extractor) -> None:  # noqa: F811
    text = "Kola 5g 3 500:-, skickas från Sverige med PostNord brev. Swish eller BTC. Wickr: snöfinger99"
    res = one(extractor, text, date="2024-01-01", kind="description")
    s = res["summary"]
    assert res["lang"] == "sv"
    assert (s["substance"], s["substance_class"]) == ("cocaine", "stimulant")
    assert s["quantity"] == {"value": 5, "unit": "g"} and s["quantity_g"] == 5
    assert s["price"] == {"amount": 3500, "currency": "SEK"} and s["price_sek"] == 3500
    assert s["price_per_g_sek"] == 700
    assert s["price_eur"] is not None and s["price_per_g_eur"] is not None
    assert s["ships_from"] == "SE"
    assert {"kind": "carrier", "value": "PostNord"} in s["shipping"]
    assert {"kind": "method", "value": "letter"} in s["shipping"]
    assert s["payment"] == ["Swish", "Bitcoin"]
    assert s["contacts"] == [{"kind": "wickr", "value": "snöfinger99"}]
    for e in res["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]


def test_offsets_refer_to_original_text(extractor) -> None:  # noqa: F811
    text = "☢☢ Ｋｏｋａｉｎ 2g 1500 kr ☢☢"
    res = one(extractor, text, kind="title")
    sub = next(e for e in res["entities"] if e["label"] == "SUBSTANCE")
    assert sub["text"] == "Ｋｏｋａｉｎ" and sub["value"]["name"] == "cocaine"


def test_price_per_unit_and_units(extractor) -> None:  # noqa: F811
    s = one(extractor, "Xanor 2mg 20 st 1000 kr", kind="title")["summary"]
    assert s["units"] == 20 and s["quantity_g"] is None
    assert s["price_per_unit_sek"] == 50


def test_missing_rate_is_flagged_not_guessed(extractor) -> None:  # noqa: F811
    s = one(extractor, "Cocaine 1g USD 90", date="1999-01-01", kind="title")["summary"]
    assert s["price"] == {"amount": 90, "currency": "USD"}
    assert s["price_sek"] is None and s["price_per_g_sek"] is None
    assert any(f.startswith("rate_missing") for f in s["flags"])
    s = one(extractor, "Cocaine 1g USD 90", kind="title")["summary"]  # no observation date
    assert s["price_sek"] is None and s["flags"]


def test_never_crashes_and_truncates(extractor) -> None:  # noqa: F811
    weird = ["", " ", "\x00\x01", "💊" * 50, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n!!\n-----END PGP PUBLIC KEY BLOCK-----",
             "kr" * 5000, "1" * 3000, "A" * 30000]
    results = extractor.extract([ExtractRequest(text=t, kind="description") for t in weird])
    assert len(results) == len(weird)
    assert any(f.startswith("truncated") for f in results[-1]["summary"]["flags"])
    assert any(f.startswith("pgp_unparsed") for f in results[4]["summary"]["flags"])


def test_ship_roles(extractor) -> None:  # noqa: F811
    s = one(extractor, "14g - Moroccan Hash 8/10 - UK Delivery Only", kind="title")["summary"]
    assert s["ships_from"] is None and s["ships_to"] == ["GB"]
    s = one(extractor, "Säljer hasch från Marocko, skickas från Sverige till hela Norden", kind="description")["summary"]
    assert s["ships_from"] == "SE" and s["ships_to"] == ["NORDIC"]
    s = one(extractor, "Cocaine 5g ships from Netherlands to Sweden", kind="title")["summary"]
    assert (s["ships_from"], s["ships_to"]) == ("NL", ["SE"])


def test_swedish_score_signals(extractor) -> None:  # noqa: F811
    s = one(extractor, "Koks 1g 800 kr, skickas från Sverige, Swish", kind="description")["summary"]
    names = {x["signal"] for x in s["swedish_signals"]}
    assert {"ships_from_se", "swish", "sek_price", "swedish_text"} <= names
    assert s["swedish_score"] >= 0.75
    assert all({"signal", "weight", "evidence"} <= set(x) for x in s["swedish_signals"])
    s = one(extractor, "Cocaine 1g 90 EUR ships from Germany", kind="title")["summary"]
    assert s["swedish_score"] == 0.0
    assert [(x["signal"], x["weight"] < 0) for x in s["swedish_signals"]] == [("ships_from_abroad", True)]


def test_english_only_vendor_shipping_from_se_still_scores(extractor) -> None:  # noqa: F811
    score, signals = swedish_score(["Top quality cocaine, fast shipping, escrow only."], ships_from="SE",
                                   ships_to=["SE"], extractor=extractor)
    names = {s["signal"] for s in signals}
    assert "swedish_text" not in names
    assert {"ships_from_se", "ships_to_se_only"} <= names
    assert score >= 0.5
    score_en, _ = swedish_score(["Top quality cocaine, fast shipping."], ships_from="DE", ships_to=["WW"], extractor=extractor)
    assert score_en == 0.0


@pytest.mark.parametrize("text", [
    "Betalning i Bitcoin via escrow. Swish tas INTE emot här.",
    "Ingen Swish, bara BTC.",
    "We don't accept Swish, crypto only.",
    "No Swish. Payment in XMR.",
    "Swish accepteras ej.",
])
def test_negated_swish_is_not_a_signal(extractor, text: str) -> None:  # noqa: F811
    score, signals = swedish_score([text], extractor=extractor)
    names = {s["signal"] for s in signals}
    assert "swish" not in names and "negated:swish" in names, signals
    assert all(s["weight"] == 0.0 for s in signals if s["signal"].startswith("negated:"))


def test_unnegated_swish_counts_even_near_other_clauses(extractor) -> None:  # noqa: F811
    for text in ("Stamkunder kan höra av sig om Swish.", "Inga problem med tullen. Swish eller BTC.",
                 "Swish, BTC or XMR - no cash"):
        _, signals = swedish_score([text], extractor=extractor)
        assert "swish" in {s["signal"] for s in signals}, text


def test_ships_from_abroad_outweighs_swedish_market_signals(extractor) -> None:  # noqa: F811
    texts = ["Grym kvalitet, skickas från Sverige med PostNord brev. Swish eller BTC.",
             "Stamkunder får rabatt, betala med Swish."]
    home, _ = swedish_score(texts, ships_from="SE", ships_to=["SE"], extractor=extractor)
    abroad, signals = swedish_score(texts, ships_from="NL", ships_to=["SE"], extractor=extractor)
    assert home >= 0.5 > abroad
    by_name = {s["signal"]: s for s in signals}
    assert by_name["ships_from_abroad"]["weight"] < 0 and "NL" in by_name["ships_from_abroad"]["evidence"]
    assert "ships_from_se" not in by_name and "conflict:ships_from_se" in by_name  # text claim vs the field


def test_text_origin_claims_decide_without_a_structured_field(extractor) -> None:  # noqa: F811
    en = ["Top quality hash. Ships from Sweden, 1-2 days.", "Fast shipping, escrow only."]
    score, _ = swedish_score(en, extractor=extractor)
    assert score >= 0.5
    mixed = ["Skickas från Nederländerna med spårbart brev.", "Vi skickar från Nederländerna varje dag.",
             "Hasch 10 g, skickas från Sverige"]
    score, signals = swedish_score(mixed, extractor=extractor)
    names = {s["signal"] for s in signals}
    assert score < 0.5 and "ships_from_abroad" in names and "outvoted:ships_from_se" in names


def test_market_norms_are_discounted(extractor) -> None:  # noqa: F811
    texts = ["Hej och välkommen! Säljer bra grejer, ärlig vikt. Beställ innan kl 14 så går det samma dag."]
    alone, _ = swedish_score(texts, ships_to=["SE"], extractor=extractor)
    market = {"site": "svmarket", "lang": "sv", "currency": "SEK", "ships_to_se": True}
    on_sv_market, signals = swedish_score(texts, ships_to=["SE"], extractor=extractor, market=market)
    assert alone >= 0.4 and on_sv_market < 0.2 < alone
    discounted = [s for s in signals if "discounted" in s["evidence"]]
    assert {s["signal"] for s in discounted} == {"swedish_text", "ships_to_se_only"}
    assert all("svmarket" in s["evidence"] for s in discounted)
    # the vendor's own SE origin is not a market property and keeps its full weight
    score, _ = swedish_score(["Top quality, fast shipping."], ships_from="SE", extractor=extractor, market=market)
    assert score >= 0.5


# Regression on the hand-labelled Swedish gold set: thresholds just under the measured values, so
# a real regression fails the test (measured F1 per type: see benchmarks/extract_eval.py --sets gold).
GOLD_MIN_F1 = {"SUBSTANCE": 0.95, "QUANTITY": 0.95, "PRICE": 0.97, "SHIP_FROM": 0.93, "SHIP_TO": 0.93,
               "SHIPPING": 0.95, "PAYMENT": 0.95, "CONTACT": 0.92, "CRYPTO_ADDRESS": 0.99, "PGP_KEY": 0.99}


def test_gold_set_regression(extractor) -> None:  # noqa: F811
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from extract_eval import eval_gold, load_gold

    rows = load_gold()
    assert len(rows) >= 200
    scores = eval_gold(extractor, rows)
    failed = {k: v["f1"] for k, v in scores.items() if v["f1"] < GOLD_MIN_F1[k]}
    assert not failed, f"gold-set F1 below threshold: {failed}"


def test_fast_title_path_agrees_with_spacy(extractor) -> None:  # noqa: F811
    from extractors.pipeline import SpacyExtractor

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from extract_eval import load_gold

    slow = SpacyExtractor(fast_titles=False, rates=extractor.rates)
    slow._nlp = extractor._nlp  # same pipelines, only the title path differs
    titles = [r["text"] for r in load_gold()]
    a = extractor.extract([ExtractRequest(text=t, kind="title") for t in titles])
    b = slow.extract([ExtractRequest(text=t, kind="title") for t in titles])
    same = sum(1 for x, y in zip(a, b, strict=True) if x["entities"] == y["entities"])
    assert same / len(titles) >= 0.97


@pytest.mark.parametrize("kind", ["title", "description"])
def test_batch_order_is_preserved(extractor, kind: str) -> None:  # noqa: F811
    texts = ["Kola 1g 800kr", "Cocaine 1g $90 from Germany", "Hej", "Tjack 10g 1000:-"]
    res = extractor.extract([ExtractRequest(text=t, kind=kind) for t in texts])
    assert [r["text"] for r in res] == texts
