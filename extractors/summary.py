"""From entities to the summary fields of the output contract (see SCHEMA.md)."""

from __future__ import annotations

from typing import Any

from extractors.base import SUMMARY_FIELDS
from extractors.listing import forms, is_dose, unit_form
from extractors.normalise import _tidy
from extractors.swedish import combine, signals_from_result

PILL_WORDS = ("pill", "piller", "tab", "tablet", "tablett", "caps", "kapsl", "blotter", "patch", "plåster", "bar", "strip", "ampul", "vial")


def _money(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def summarise(result: dict[str, Any], date: str | None, rates: Any, flags: list[str]) -> dict[str, Any]:
    ents = result["entities"]
    summary: dict[str, Any] = {name: None for name in SUMMARY_FIELDS}
    by: dict[str, list[dict[str, Any]]] = {}
    for e in ents:
        by.setdefault(e["label"], []).append(e)

    if "SUBSTANCE" in by:
        first = by["SUBSTANCE"][0]["value"]
        summary["substance"] = first["name"]
        summary["substance_class"] = first["class"]

    # quantity: a count wins (units); else the first mass that is not a per-pill dose
    quantities = [e["value"] for e in by.get("QUANTITY", [])]
    low = result["text"].lower()
    pillish = any(w in low for w in PILL_WORDS) or unit_form(result["text"])
    unit_dosed = summary["substance_class"] in forms()["unit_classes"]
    qty = next((q for q in quantities if q["count"] is not None), None)
    if qty is not None:
        summary["quantity"] = {"value": qty["count"], "unit": "pcs"}
        summary["units"] = qty["count"]
    else:
        # a pill's dose is not the listing's mass: "0,5 mg pellets", "Xanax 2mg" (see extractors/listing.py)
        masses = [q for q in quantities if q["grams"] is not None and not (q["unit"] in ("mg", "mcg") and pillish)
                  and not (is_dose(q) and (pillish or unit_dosed))]
        vols = [q for q in quantities if q["unit"] == "ml"]
        if masses:
            summary["quantity"] = {"value": masses[0]["value"], "unit": masses[0]["unit"]}
            summary["quantity_g"] = masses[0]["grams"]
        elif vols:
            summary["quantity"] = {"value": vols[0]["value"], "unit": "ml"}

    if "PRICE" in by:
        price = by["PRICE"][0]["value"]
        amount, cur = price["amount"], price["currency"]
        summary["price"] = {"amount": amount, "currency": cur}
        sek = _convert(rates, amount, cur, "SEK", date, flags)
        eur = _convert(rates, amount, cur, "EUR", date, flags)
        summary["price_sek"] = _money(sek)
        summary["price_eur"] = _money(eur)
        per = price.get("per")
        grams = summary["quantity_g"]
        units = summary["units"]
        if per == "g":
            summary["price_per_g_sek"], summary["price_per_g_eur"] = _money(sek), _money(eur)
        elif per == "unit":
            summary["price_per_unit_sek"], summary["price_per_unit_eur"] = _money(sek), _money(eur)
        else:
            if grams:
                summary["price_per_g_sek"] = _money(sek / grams) if sek is not None else None
                summary["price_per_g_eur"] = _money(eur / grams) if eur is not None else None
            if units:
                summary["price_per_unit_sek"] = _money(sek / units) if sek is not None else None
                summary["price_per_unit_eur"] = _money(eur / units) if eur is not None else None

    if "SHIP_FROM" in by:
        summary["ships_from"] = by["SHIP_FROM"][0]["value"]["code"]
    if "SHIP_TO" in by:
        summary["ships_to"] = _uniq(e["value"]["code"] for e in by["SHIP_TO"])
    if "SHIPPING" in by:
        summary["shipping"] = _uniq_dicts({"kind": e["value"]["kind"], "value": e["value"]["value"]} for e in by["SHIPPING"])
    if "PAYMENT" in by:
        summary["payment"] = _uniq(e["value"]["method"] for e in by["PAYMENT"] if not e["value"].get("negated")) or None
    if "CONTACT" in by:
        contacts = _uniq_dicts({"kind": e["value"]["kind"], "value": e["value"]["value"]} for e in by["CONTACT"])
        with_value = {c["kind"] for c in contacts if c["value"]}
        summary["contacts"] = [c for c in contacts if c["value"] or c["kind"] not in with_value]
    if "CRYPTO_ADDRESS" in by:
        summary["crypto_addresses"] = _uniq_dicts(dict(e["value"]) for e in by["CRYPTO_ADDRESS"])
    if "PGP_KEY" in by:
        summary["pgp_fingerprints"] = _uniq(e["value"]["fingerprint"] for e in by["PGP_KEY"])

    signals = signals_from_result(result)
    summary["swedish_score"] = combine(signals) if signals else 0.0
    summary["swedish_signals"] = signals
    summary["flags"] = flags or None
    return summary


def _convert(rates: Any, amount: float, cur: str, to: str, date: str | None, flags: list[str]) -> float | None:
    if cur.upper() == to:
        return float(amount)
    if rates is None:
        _flag(flags, f"rate_missing: no rates table for {cur}->{to}")
        return None
    value = rates.convert(amount, cur, to, date)
    if value is None:
        notes = []
        for c in (cur, to):
            look = rates.lookup(c, date) if hasattr(rates, "lookup") else None
            if look is not None and look.sek is None and look.note:
                notes.append(look.note)
        _flag(flags, f"rate_missing: {cur}->{to} on {date or 'unknown date'}" + (f" ({'; '.join(notes)})" if notes else ""))
    return _tidy(value) if value is not None else None


def _flag(flags: list[str], text: str) -> None:
    if text not in flags:
        flags.append(text)


def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _uniq_dicts(items: Any) -> list[dict[str, Any]]:
    return _uniq(items)
