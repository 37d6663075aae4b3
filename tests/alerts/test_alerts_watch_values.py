"""Watch-list values are normalised the way the extractor normalises pages: Swedish and English substance
names, contacts as `sokhund vendor` prints them; values that can never match are refused with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.evaluate import retro_hunt
from alerts.rules import AlertConfigError, WatchEntry, add_watch
from indexer.base import open_backend
from indexer.models import Vendor
from tests.alerts_support import crawl_docs

DAY = "2024-03-01T06:00:00+00:00"


@pytest.fixture()
def backend(sokhund_home: Path):
    path = sokhund_home / "alerts" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("channels:\n  - {name: stdout, enabled: false}\n", encoding="utf-8")
    b = open_backend()
    crawl_docs(b, "flugsvamp", "r1", DAY, vendors=[
        {"name": "gbgkemisten", "contacts": [{"kind": "signal", "value": "gbgkemisten.60"}]},
        {"name": "other", "contacts": [{"kind": "wickr", "value": "someone_else"}]},
    ], listings=[
        {"listing_id": "a", "vendor": "gbgkemisten", "title": "Colombian flake 1g", "substance": "cocaine",
         "substance_class": "stimulant"},  # the extractor read "flake": no "kokain" in the text
        {"listing_id": "b", "vendor": "other", "title": "Kokain 2g, ren", "substance": "cocaine"},
        {"listing_id": "c", "vendor": "other", "title": "Hasch 5g", "substance": "hashish"},
    ])
    yield b
    b.close()


def _hits(backend, kind: str, value: str) -> set[str]:
    return {a.entity for a in retro_hunt(backend, WatchEntry(kind=kind, value=value), deliver=False)}


def test_swedish_and_english_substance_names_match_the_same(backend):
    swedish = _hits(backend, "substance", "kokain")
    assert len(swedish) == 2  # the old literal match found only listing b (its text says "Kokain")
    assert WatchEntry(kind="substance", value="Kokain").key == WatchEntry(kind="substance", value="cocaine").key
    assert WatchEntry(kind="substance", value="gräs").norm == "cannabis"


def test_contact_as_printed_by_sokhund_vendor_matches(backend):
    hits = _hits(backend, "contact", "signal:gbgkemisten.60")
    assert hits == {Vendor.make_id("flugsvamp", "gbgkemisten")}  # the old code took "signal:" as part of it
    assert WatchEntry(kind="contact", value="Wickr me: someone_else").norm == "someone_else"


@pytest.mark.parametrize("kind, value, hint", [
    ("substance", "kokian", "did you mean"),
    ("substance", "blaha", "--kind keyword"),
    ("contact", "skype:abc", "not a contact channel"),
    ("contact", "signal", "names only a channel"),
])
def test_unmatchable_values_are_refused_with_a_hint(sokhund_home, kind, value, hint):
    with pytest.raises(AlertConfigError, match=hint):
        add_watch(kind, value)
