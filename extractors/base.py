"""The extractor seam: the crawl pipeline calls ``Extractor.extract`` on every title, description and post.

The output per text is the stable JSON contract documented in the README:
``{"text", "lang", "entities": [{"label","start","end","text","value"}], "summary": {...}}``.
Missing fields are ``None`` — never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

SUMMARY_FIELDS: tuple[str, ...] = (
    "substance",
    "substance_class",
    "quantity",
    "quantity_g",
    "units",
    "price",
    "price_sek",
    "price_eur",
    "price_per_g_sek",
    "price_per_unit_sek",
    "ships_from",
    "ships_to",
    "shipping",
    "payment",
    "contacts",
    "crypto_addresses",
    "pgp_fingerprints",
    "swedish_score",
    "swedish_signals",
    # additive (issue 3): EUR per gram / per unit, and flags (truncated text, missing exchange rate …)
    "price_per_g_eur",
    "price_per_unit_eur",
    "flags",
)


@dataclass
class ExtractRequest:
    text: str
    lang: str | None = None  # hint from the adapter (site language); the extractor may detect
    date: str | None = None  # ISO date of the observation, for exchange rates
    kind: str = "title"  # title | description | post | profile
    category: str | None = None  # the listing's site category ("Opioider", "Drugs > Stimulants"): evidence


@runtime_checkable
class Extractor(Protocol):
    def extract(self, requests: list[ExtractRequest]) -> list[dict[str, Any]]:
        """One result dict per request, in order. Must never raise on bad text."""


def empty_result(text: str, lang: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {name: None for name in SUMMARY_FIELDS}
    return {"text": text, "lang": lang, "entities": [], "summary": summary}


def default_extractor() -> Extractor:
    """The spaCy pipeline (``extractors.pipeline.SpacyExtractor``), one per process: every crawler of a
    worker (one per site) shares its pipelines, lexicons and language profiles, built once."""
    from extractors.pipeline import default_spacy_extractor

    return default_spacy_extractor()
