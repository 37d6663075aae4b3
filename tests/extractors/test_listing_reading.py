"""Issue 11: street names and site categories as evidence, NPS code names, quantities as sellers write
them, one coherent quantity reading with a price per gram or per unit, negated payment."""

from __future__ import annotations

from typing import Any

import pytest

from extractors.base import ExtractRequest
from extractors.context import category_classes
from extractors.listing import read_listing
from extractors.normalise import find_quantities, parse_amount
from extractors.pipeline import SpacyExtractor


@pytest.fixture(scope="module")
def ex() -> SpacyExtractor:
    return SpacyExtractor(rates=None)


def one(ex: SpacyExtractor, text: str, **kw: Any) -> dict[str, Any]:
    return ex.extract([ExtractRequest(text=text, **kw)])[0]


@pytest.mark.parametrize(("title", "substance"), [
    ("Vitt – 10 g (REK/brev)", "cocaine"),
    ("Colombianskt flak – 2 g (REK/brev)", "cocaine"),
    ("Häst 1 g – toppkvalitet", "heroin"),
    ("200 x 50 mg Tramis | snabb leverans", "tramadol"),
    ("Rolex 5 x 200 mg – toppkvalitet", "mdma"),
    ("Red Bull Pills - 50 x 200 mg - lab tested", "mdma"),
    ("Tesla 10 st", "mdma"),
    ("5 g Ice - TOP QUALITY", "methamphetamine"),
    ("Is 2 g ★ skickas från Sverige", "methamphetamine"),
    ("🔥 Deka 5 x 300 mg 🔥", "anabolic steroids"),
    ("Flualp – 100 x 0,5 mg (REK/brev)", "designer benzodiazepines"),
    ("Blåbärskush 10 g – toppkvalitet", "cannabis"),
])
def test_street_names_in_titles(ex: SpacyExtractor, title: str, substance: str) -> None:
    assert one(ex, title)["summary"]["substance"] == substance


@pytest.mark.parametrize("text", ["Vitt", "Häst och vagn", "the quality is great, 5 g", "Köp en Tesla idag",
                                  "Hej, vitt pulver 5 g"])
def test_weak_street_words_need_a_listing_context(ex: SpacyExtractor, text: str) -> None:
    kind = "description" if "," in text else "title"
    assert one(ex, text, kind=kind)["summary"]["substance"] is None


def test_site_category_confirms_and_chooses(ex: SpacyExtractor) -> None:
    assert one(ex, "Häst", category="Opioider")["summary"]["substance"] == "heroin"
    assert one(ex, "Toppar 5 g", category="Psykedelika")["summary"]["substance"] == "psilocybin mushrooms"
    assert one(ex, "Toppar 5 g")["summary"]["substance"] == "cannabis"
    assert one(ex, "Vitt 5 g", category="Cannabis")["summary"]["substance"] is None  # the category contradicts it
    assert category_classes("Drugs > Stimulants > Cocaine") == ["stimulant"]
    assert category_classes("Bensodiazepiner") == ["benzodiazepine"]


@pytest.mark.parametrize(("title", "name", "cls"), [
    ("500gr. ADB-FUBINACA", "synthetic cannabinoids", "synthetic_cannabinoid"),
    ("5F-EDMB-PICA 10g", "synthetic cannabinoids", "synthetic_cannabinoid"),
    ("20 grams best 6cladb chememical", "synthetic cannabinoids", "synthetic_cannabinoid"),
    ("200gr. A PVP", "cathinones", "stimulant"),
    ("4F-MAR POWDER", "4f-mar", "stimulant"),
    ("N-Desethyletonitazene HCL", "nitazenes", "opioid"),
    ("Protonitazene 10mg", "nitazenes", "opioid"),
    ("Bromazolam 1mg pellets x 50", "designer benzodiazepines", "benzodiazepine"),
    ("4-AcO-DMT 1g", "4-aco-dmt", "psychedelic"),
    ("1P-LSD 150mcg", "lsd", "psychedelic"),
    ("2C-B 20mg", "2c-b", "psychedelic"),
])
def test_nps_code_names(ex: SpacyExtractor, title: str, name: str, cls: str) -> None:
    s = one(ex, title)["summary"]
    assert (s["substance"], s["substance_class"]) == (name, cls)


@pytest.mark.parametrize("text", ["Write a PHP shell 5 USD", "Fullz with DOB+SSN", "Nexus market 2024"])
def test_code_patterns_leave_ordinary_words_alone(ex: SpacyExtractor, text: str) -> None:
    assert one(ex, text)["summary"]["substance"] is None


def test_leading_decimal_point_is_a_quantity_not_part_of_a_code(ex: SpacyExtractor) -> None:
    s = one(ex, "3-MMC .5g")["summary"]
    assert s["substance"] == "cathinones" and s["quantity"] == {"value": 0.5, "unit": "g"}
    assert parse_amount(".5") == 0.5 and parse_amount(",25") == 0.25
    [q] = find_quantities("Flualprazolam .5mg x 100")
    assert (q.count, q.dose) == (100, (0.5, "mg"))


def test_packs_and_decimal_commas() -> None:
    qs = find_quantities("2C-B 20 mg – 25-pack")
    assert [(q.unit, q.count) for q in qs] == [("mg", None), ("pcs", 25)]
    assert find_quantities("MDMA 0,5 g")[0].value == 0.5


def _read(ex: SpacyExtractor, **texts: str) -> Any:
    results = {k: one(ex, v, kind="description" if k == "description" else "title") for k, v in texts.items()}
    return read_listing(results)


def test_pellets_get_a_price_per_unit_never_per_gram(ex: SpacyExtractor) -> None:
    r = _read(ex, title="Flualprazolam 0,5 mg pellets", quantity="50 x 0,5 mg")
    assert (r.basis, r.units, r.quantity_g, r.dose) == ("unit", 50, None, {"value": 0.5, "unit": "mg"})
    assert r.per_unit(690.0) == 13.8 and r.per_g(690.0) is None
    alone = _read(ex, title="Flualprazolam 0,5 mg pellets")  # no count anywhere: no per-gram figure either
    assert alone.basis == "unit" and alone.per_g(690.0) is None and alone.per_unit(690.0) is None


def test_pack_in_the_title_is_the_count(ex: SpacyExtractor) -> None:
    r = _read(ex, title="2C-B 20 mg – 25-pack")
    assert (r.units, r.dose, r.basis) == (25, {"value": 20, "unit": "mg"}, "unit")


def test_powder_gets_price_per_gram(ex: SpacyExtractor) -> None:
    r = _read(ex, title="Kokain 5 g – toppkvalitet", description="Säljer 5 g, ärlig vikt. 10 st stamkunder nöjda.")
    assert (r.basis, r.quantity_g, r.units) == ("g", 5, None)
    assert r.per_g(4000.0) == 800.0


def test_one_source_for_the_quantity(ex: SpacyExtractor) -> None:
    # the count in the description is not divided into the title's mass
    r = _read(ex, title="Amfetamin 10 g", description="Vi har skickat 500 st paket utan problem.")
    assert (r.source, r.basis, r.quantity_g, r.units) == ("title", "g", 10, None)


def test_negated_payment_is_not_offered(ex: SpacyExtractor) -> None:
    res = one(ex, "Swish tas INTE emot, bara Bitcoin.", kind="description")
    assert res["summary"]["payment"] == ["Bitcoin"]
    swish = [e for e in res["entities"] if e["label"] == "PAYMENT" and e["value"]["method"] == "Swish"]
    assert swish and swish[0]["value"]["negated"] is True
    assert one(ex, "Betala med Swish eller Bitcoin.", kind="description")["summary"]["payment"] == ["Swish", "Bitcoin"]


def test_text_summary_never_prices_a_pill_dose_per_gram() -> None:
    ex = SpacyExtractor()  # with the shipped rates: the summary converts to SEK
    for text in ("Flualprazolam 0,5 mg pellets 690 kr", "Xanax 2mg 100 kr"):
        s = ex.extract([ExtractRequest(text=text, date="2025-01-01")])[0]["summary"]
        assert s["price_per_g_sek"] is None and s["quantity_g"] is None, text
    s = ex.extract([ExtractRequest(text="MDMA 500mg 200 kr", date="2025-01-01")])[0]["summary"]
    assert s["price_per_g_sek"] == 400.0  # half a gram of powder is a quantity
