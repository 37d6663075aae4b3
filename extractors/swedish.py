"""Swedish-vendor score: explainable signals combined by noisy-OR into 0..1.

Each signal is ``{"signal", "weight", "evidence"}``. The weights are judgement, documented here and in
SCHEMA.md; a vendor with English text only but shipping from Sweden still scores (0.45 on its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

WEIGHTS: dict[str, float] = {
    "ships_from_se": 0.45,  # structural field or "skickas från Sverige" / "ships from Sweden"
    "ships_to_se_only": 0.30,  # destinations are Sweden only
    "ships_to_nordic_only": 0.10,  # destinations Nordic / SE+neighbours only
    "swedish_text": 0.25,  # the text is Swedish
    "sek_price": 0.25,  # price in SEK (kr, :-, SEK)
    "swish": 0.35,  # Swish: a Swedish mobile payment, needs a Swedish bank account
    "swedish_carrier": 0.20,  # PostNord, Budbee, Instabox, Early Bird, Airmee
    "letter_post": 0.05,  # "brev" (letter post) on its own
    "swedish_place": 0.15,  # Stockholm, Göteborg, Malmö … (dead drops, local delivery)
    "sweden_mentioned": 0.10,  # "Sverige"/"Sweden" without a shipping role
}
SE_CARRIERS = {"PostNord", "Budbee", "Instabox", "Early Bird", "Airmee", "Bring"}
NORDIC = {"SE", "NO", "DK", "FI", "IS", "NORDIC"}


def combine(signals: list[dict[str, Any]]) -> float:
    """Noisy-OR of the distinct signals' weights (a signal counts once however often it is seen)."""
    best: dict[str, float] = {}
    for s in signals:
        best[s["signal"]] = max(best.get(s["signal"], 0.0), float(s["weight"]))
    p = 1.0
    for w in best.values():
        p *= 1.0 - w
    return round(1.0 - p, 3)


def _sig(name: str, evidence: str) -> dict[str, Any]:
    return {"signal": name, "weight": WEIGHTS[name], "evidence": evidence}


def signals_from_result(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Signals found in one extractor result (its entities, language and bare place mentions)."""
    out: list[dict[str, Any]] = []
    if result.get("lang") == "sv":
        out.append(_sig("swedish_text", "language identified as Swedish"))
    ships_to: set[str] = set()
    for ent in result.get("entities", []):
        label, value, text = ent["label"], ent.get("value") or {}, ent.get("text", "")
        if label == "SHIP_FROM" and value.get("code") == "SE":
            out.append(_sig("ships_from_se", text))
        elif label == "SHIP_TO":
            ships_to.add(value.get("code"))
        elif label == "PRICE" and value.get("currency") == "SEK":
            out.append(_sig("sek_price", text))
        elif label == "PAYMENT" and value.get("method") == "Swish":
            out.append(_sig("swish", text))
        elif label == "SHIPPING" and value.get("kind") == "carrier" and value.get("value") in SE_CARRIERS:
            out.append(_sig("swedish_carrier", text))
        elif label == "SHIPPING" and value.get("value") == "letter" and re.search(r"brev", text, re.I):
            out.append(_sig("letter_post", text))
    out.extend(_destination_signals(ships_to))
    for place in result.get("_places", []) or []:
        if place["label"] == "SE_PLACE":
            out.append(_sig("swedish_place", place["text"]))
        elif place["value"].get("code") == "SE":
            out.append(_sig("sweden_mentioned", place["text"]))
    return out


def _destination_signals(ships_to: Iterable[str | None]) -> list[dict[str, Any]]:
    dest = {d for d in ships_to if d}
    if dest == {"SE"}:
        return [_sig("ships_to_se_only", "ships to: SE")]
    if dest and dest <= NORDIC and "SE" in dest | {"SE" if "NORDIC" in dest else ""}:
        return [_sig("ships_to_nordic_only", "ships to: " + ", ".join(sorted(dest)))]
    return []


def swedish_score(
    texts: Iterable[str],
    ships_from: str | None = None,
    ships_to: Iterable[str] | None = None,
    extractor: Any = None,
) -> tuple[float, list[dict[str, Any]]]:
    """Score aggregated vendor text (listing titles, descriptions, profile) plus structural shipping
    fields. Returns ``(score 0..1, signals)``."""
    from extractors.base import ExtractRequest

    if extractor is None:
        from extractors.pipeline import default_spacy_extractor

        extractor = default_spacy_extractor()
    texts = [t for t in texts if t and t.strip()]
    signals: list[dict[str, Any]] = []
    if ships_from and ships_from.upper() in ("SE", "SWEDEN", "SVERIGE"):
        signals.append(_sig("ships_from_se", f"ships_from field: {ships_from}"))
    if ships_to is not None:
        signals.extend(_destination_signals([s.upper() for s in ships_to if s]))
    if texts:
        results = extractor.extract([ExtractRequest(text=t, kind="description") for t in texts])
        langs = [r["lang"] for r in results]
        for r in results:
            signals.extend(s for s in r["summary"].get("swedish_signals") or [] if s["signal"] != "swedish_text")
        sv_share = langs.count("sv") / len(langs)
        if sv_share >= 0.3:
            signals.append(_sig("swedish_text", f"{langs.count('sv')} of {len(langs)} texts are Swedish"))
    dedup: dict[tuple[str, str], dict[str, Any]] = {}
    for s in signals:
        dedup.setdefault((s["signal"], s["evidence"]), s)
    signals = list(dedup.values())
    return combine(signals), signals
