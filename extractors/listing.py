"""One coherent reading of a listing: substance, quantity, dose and the price per gram or per unit.

The title, the description and a structural quantity field ("50 x 0,5 mg", "1 st (10 ml)") are each
extracted on their own (extractors/pipeline.py). A listing's quantity is then read from **one** source,
the first that states a quantity (quantity field, else title, else description), so a count from the
description is never divided into a mass from the title. Within that source:

- a count ("10 st", "25-pack", "100 x 2 mg") makes the listing one counted in units; a small mass
  (< ``dose_max_mg``, see data/forms.yaml) next to it, or inside it, is the dose of one unit;
- a dosage-form word (pill, tablett, pellets, blotter …) or a unit-dosed class (benzodiazepines, opioids,
  doping) with only a dose ("Flualprazolam 0,5 mg pellets") is a unit listing whose count is unknown;
- otherwise a mass is the listing's quantity in grams (powders and herbs).

Prices are then per gram for mass listings and per unit (per dose) for unit listings, never both: the
1,420,000 SEK/g "per gram" of a 0.5 mg pellet is not a number an analyst can use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from extractors.context import category_classes
from extractors.matching import DATA, load_yaml

SOURCES = ("quantity", "title", "description")


@lru_cache(maxsize=1)
def forms() -> dict[str, Any]:
    data = load_yaml(DATA / "forms.yaml")
    words = "|".join(re.escape(str(w)) for w in sorted(data["unit_forms"], key=len, reverse=True))
    data["_rx"] = re.compile(rf"(?<!\w)(?:{words})(?:s|es|ar|er|or|na|en|et|erna|arna|ter)?(?!\w)", re.I)
    return data


def unit_form(text: str) -> bool:
    """Does ``text`` name a dosage form counted in units (pills, tabletter, pellets, blotters …)?"""
    return bool(forms()["_rx"].search(text or ""))


def is_dose(q: dict[str, Any]) -> bool:
    return q.get("unit") in ("mg", "mcg") and q.get("grams") is not None and q["grams"] * 1000 < forms()["dose_max_mg"]


@dataclass
class Reading:
    substance: str | None = None
    substance_class: str | None = None
    quantity: dict[str, Any] | None = None  # {"value", "unit"}
    quantity_g: float | None = None  # mass listings only
    units: int | None = None  # unit listings: the count
    dose: dict[str, Any] | None = None  # {"value", "unit"} of one unit
    basis: str | None = None  # "g" (price per gram), "unit" (price per unit/dose) or None
    source: str | None = None  # where the quantity was read: quantity, title or description

    def per_g(self, price: float | None) -> float | None:
        return round(price / self.quantity_g, 2) if price and self.basis == "g" and self.quantity_g else None

    def per_unit(self, price: float | None) -> float | None:
        return round(price / self.units, 2) if price and self.basis == "unit" and self.units else None


def _quantities(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [e["value"] for e in (result or {}).get("entities", []) if e["label"] == "QUANTITY"]


def _substance(result: dict[str, Any] | None) -> tuple[str, str] | None:
    s = (result or {}).get("summary") or {}
    return (s["substance"], s["substance_class"]) if s.get("substance") else None


def read_listing(results: dict[str, dict[str, Any]], category: str | None = None,
                 category_result: dict[str, Any] | None = None) -> Reading:
    """``results``: extractor results by slot (``quantity``, ``title``, ``description``);
    ``category_result``: the extractor's result on the category text ("Kokain" names cocaine)."""
    r = Reading()
    found = _substance(results.get("title")) or _substance(results.get("description")) or _substance(category_result)
    classes = category_classes(category)
    if found:
        r.substance, r.substance_class = found
    elif classes:
        r.substance_class = classes[0]
    text = " ".join((results.get(k) or {}).get("text") or "" for k in SOURCES)
    pill = unit_form(text) or (r.substance_class in forms()["unit_classes"])
    for source in SOURCES:
        qs = _quantities(results.get(source))
        if not qs:
            continue
        r.source = source
        counts = [q for q in qs if q.get("count") is not None]
        doses = [q["dose"] for q in counts if q.get("dose")] + [{"value": q["value"], "unit": q["unit"]} for q in qs if is_dose(q)]
        masses = [q for q in qs if q.get("grams") is not None and not is_dose(q) and not (pill and q["unit"] in ("mg", "mcg"))]
        if not doses and source != "title":  # "1 st (10 ml)" in the field, "250 mg/ml" in the title
            doses = [{"value": q["value"], "unit": q["unit"]} for q in _quantities(results.get("title")) if is_dose(q)]
        r.dose = doses[0] if doses else None
        if counts:
            r.units = int(counts[0]["count"])
            r.quantity = {"value": r.units, "unit": "pcs"}
            r.basis = "unit"
        elif masses and not (pill and r.dose):
            r.quantity = {"value": masses[0]["value"], "unit": masses[0]["unit"]}
            r.quantity_g = masses[0]["grams"]
            r.basis = "g"
        elif r.dose or pill:
            r.basis = "unit"
        else:
            vols = [q for q in qs if q.get("unit") == "ml"]
            if vols:
                r.quantity = {"value": vols[0]["value"], "unit": "ml"}
        break
    if r.basis is None and pill:
        r.basis = "unit"
    return r
