"""Lexicon data that does not depend on start-up: the edibles rules, the derived Swedish lemma table,
the candidate-position scans (same matches as a full regex scan), and a spaCy-free title path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from extractors import matching, normalise
from extractors.base import ExtractRequest
from tests.fixtures_extract import extractor  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parents[2]


def summary(ex, text: str, kind: str = "title") -> dict:  # noqa: ANN001
    return ex.extract([ExtractRequest(text=text, kind=kind)])[0]["summary"]


def both_paths(ex, text: str) -> tuple[dict, dict]:  # noqa: ANN001
    """The fast title path and the spaCy pipeline give the same summary."""
    title, desc = summary(ex, text, "title"), summary(ex, text, "description")
    assert (title["substance"], title["substance_class"]) == (desc["substance"], desc["substance_class"]), text
    return title, desc


# ------------------------------------------------------------------ edibles


@pytest.mark.parametrize("text", ["1 Quad Dose Cheeba Chew", "Brownies x4", "10 gummies, 25mg each",
                                  "Bhang Dark Chocolate, double strength", "EdiPure Lemon Drops - 250mg",
                                  "Strawberry lollipops (4 pack)"])
def test_an_edible_product_alone_means_cannabis(extractor, text: str) -> None:  # noqa: F811
    s, _ = both_paths(extractor, text)
    assert (s["substance"], s["substance_class"]) == ("cannabis", "cannabis"), text


@pytest.mark.parametrize(("text", "name"), [("Psilocybin chocolate bar 3.5g", "psilocybin mushrooms"),
                                            ("LSD gummies 100ug", "lsd"), ("MDMA brownies", "mdma")])
def test_edible_words_next_to_a_named_substance_are_ignored(extractor, text: str, name: str) -> None:  # noqa: F811
    s, _ = both_paths(extractor, text)
    assert s["substance_class"] != "cannabis", (text, s["substance"])
    res = extractor.extract([ExtractRequest(text=text)])[0]
    assert [e["value"]["name"] for e in res["entities"] if e["label"] == "SUBSTANCE"] == [s["substance"]]


@pytest.mark.parametrize("text", ["Rolex Daytona Chocolate Dial Ceramic Bezel", "RDP with cookies / Not Hacked",
                                  "All About Cookies", "Candy Lickers 2 - DVD", "Net Video Girls - Caramel"])
def test_a_weak_edible_word_alone_is_not_evidence(extractor, text: str) -> None:  # noqa: F811
    s, _ = both_paths(extractor, text)
    assert s["substance"] is None, text


@pytest.mark.parametrize("text", ["(6) Chocolate Chip Cookies", "10 300mg Chocolate Bars", "Toffee fudge 2 pack"])
def test_a_weak_edible_word_with_a_second_one_or_a_mg_dose_is(extractor, text: str) -> None:  # noqa: F811
    s, _ = both_paths(extractor, text)
    assert s["substance_class"] == "cannabis", text


def test_a_longer_edible_phrase_outranks_the_alias_inside_it(extractor) -> None:  # noqa: F811
    s, _ = both_paths(extractor, "1 Deca Dose Cheeba Chew")
    assert s["substance"] == "cannabis"
    s, _ = both_paths(extractor, "Deca Durabolin 250mg/ml 10ml")
    assert s["substance"] == "anabolic steroids"


def test_an_edible_word_that_is_the_unit_of_a_count_still_counts(extractor) -> None:  # noqa: F811
    for kind in ("title", "description"):
        res = extractor.extract([ExtractRequest(text="10 gummies, 25mg each", kind=kind)])[0]
        ents = [(e["label"], e["text"]) for e in res["entities"]]
        assert ents == [("QUANTITY", "10 gummies"), ("SUBSTANCE", "gummies"), ("QUANTITY", "25mg")], kind
        assert res["summary"]["units"] == 10 and res["summary"]["substance"] == "cannabis"
    assert summary(extractor, "5 cookies")["substance"] is None  # a weak word still needs support


def test_edibles_keep_the_contract(extractor) -> None:  # noqa: F811
    res = extractor.extract([ExtractRequest(text="Brownies x4, 100mg each")])[0]
    [sub] = [e for e in res["entities"] if e["label"] == "SUBSTANCE"]
    assert sub["value"] == {"name": "cannabis", "class": "cannabis"} and sub["text"] == "Brownies"
    assert {e["label"] for e in res["entities"]} <= {"SUBSTANCE", "QUANTITY"}
    json.dumps(res)


# ------------------------------------------------------------------ derived lemma table


def test_lemma_table_maps_the_lexicons_inflected_forms() -> None:
    table = matching.lemma_table("sv")
    assert table is not None and 0 < len(table) < 20_000
    for form, lemma in {"gräset": "gräs", "tabletter": "tablett", "kokainet": "kokain"}.items():
        assert table.get(form) == lemma, form
    assert all(form == form.lower() and "\t" not in form and lemma for form, lemma in table.items())


def test_lemma_table_is_current_with_the_lexicon() -> None:
    """Every form of spacy-lookups-data whose lemma (or which itself) is a lexicon word is in the
    shipped table, and nothing else: regenerate with ``python -m extractors.build_lemmas``."""
    pytest.importorskip("spacy_lookups_data")
    from extractors.build_lemmas import derive, full_table

    full = full_table("sv")
    words = matching.lemma_relevant_words()
    shipped = matching.lemma_table("sv")
    expected = derive(full, words)
    missing = {f: lemma for f, lemma in expected.items() if shipped.get(f) != lemma}
    assert not missing, f"stale data/sv_lemmas.txt, e.g. {sorted(missing.items())[:5]}"
    assert set(shipped) == set(expected)
    # every inflected form of a lexicon word the full table knows is covered
    inflected = {f for f, lemma in full.items() if f == f.lower() and lemma.lower() in words and f != lemma.lower()}
    assert inflected and inflected <= set(shipped)


# ------------------------------------------------------------------ candidate-position scans

TRICKY = [
    "5×10mg x10 ½ oz half oz 1/2 kg 8-ball eighth 10x (30MG) 100mg x 10", "två lax och 3 papp", "SEK 1 200 kr. 200:-",
    "İstanbul 5g 300 kr", "٣ g ١٠ kr", "mBTC 5 us$ 20 $5 £10 €10 Ƀ 0,1 kr.5 5kr", "e-mail: a@b.se the-mail x@y.com",
    "wickr: abc_99 Telegram @nick e-post epost snap kik whatsapp +46701234567 mejl",
    "t.me/someone 05" + "a" * 64, "1,200.50 USD 0.005 BTC 1.200 EUR", "x 5 X5 ×5 5 x", "ett lakan tio laxar",
]


def _texts() -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "tests" / "data" / "sv_gold.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    return TRICKY + [r["text"] for r in rows if "text" in r]


def test_scans_find_what_a_full_regex_scan_finds() -> None:
    pf = matching.PatternFinder()
    for text in _texts():
        spans = lambda it: [m.span() for m in it]  # noqa: E731
        assert spans(normalise._price_matches(text)) == spans(normalise.PRICE_RE.finditer(text)), text
        assert spans(normalise._quantity_matches(text)) == spans(normalise.QUANTITY_RE.finditer(text)), text
        assert spans(pf._kinds(text, text.lower())) == spans(matching._KIND_RE.finditer(text)), text


def test_titles_do_not_import_spacy() -> None:
    code = ("import sys; from extractors.pipeline import SpacyExtractor; from extractors.base import ExtractRequest; "
            "r = SpacyExtractor().extract([ExtractRequest('Kokain 1g 800 kr', lang='sv'), ExtractRequest('Cocaine 1g $80', lang='en')]); "
            "assert r[0]['summary']['substance'] == 'cocaine' and r[1]['summary']['price'] == {'amount': 80, 'currency': 'USD'}, r; "
            "assert 'spacy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
