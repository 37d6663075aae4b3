"""Listing context as evidence: the site category a listing sits in, and the weak street words it confirms.

A weak street word ("Vitt", "Häst", "Tesla": see ``data/street_names.yaml``) comes out of the resolver as
``SUBSTANCE_WEAK``. It becomes a ``SUBSTANCE`` when the listing context supports it — the site category
names the same class ("Häst" in "Opioider"), or the text is a title that also carries a quantity
("Vitt – 10 g") — and is dropped otherwise. Category words per class live in ``data/categories.yaml``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from extractors.matching import DATA, load_yaml

CATEGORIES = DATA / "categories.yaml"


@lru_cache(maxsize=1)
def _category_terms() -> list[tuple[re.Pattern[str], str]]:
    data = load_yaml(CATEGORIES)
    out = []
    for cls, words in data["classes"].items():
        for w in words:
            out.append((re.compile(rf"(?<!\w){re.escape(str(w).lower())}(?!\w)"), cls))
    out.sort(key=lambda t: -len(t[0].pattern))  # longest term first: "research chemicals" before "chemicals"
    return out


def category_classes(category: str | None) -> list[str]:
    """The substance classes a site category names, most specific (last breadcrumb part) first:
    'Drugs > Opioids' -> ['opioid']; 'Kokain' -> ['stimulant']; None or unknown -> []."""
    if not category:
        return []
    parts = [p for p in re.split(r"\s*(?:>|›|»|/|\||::)\s*", category.lower()) if p]
    out: list[str] = []
    for part in reversed(parts):
        for rx, cls in _category_terms():
            if rx.search(part) and cls not in out:
                out.append(cls)
    return out


def confirm_weak(entities: list[dict[str, Any]], kind: str, category: str | None) -> list[dict[str, Any]]:
    """Weak street words -> SUBSTANCE when the context supports them, else dropped (see module doc)."""
    if not any(e["label"] == "SUBSTANCE_WEAK" for e in entities):
        return entities
    classes = category_classes(category)
    has_qty = any(e["label"] == "QUANTITY" for e in entities)
    out = []
    for e in entities:
        if e["label"] != "SUBSTANCE_WEAK":
            out.append(e)
            continue
        means = e["value"].get("means") or [e["value"]]
        pick = next((m for cls in classes for m in means if m["class"] == cls), None)
        if pick is None and kind == "title" and has_qty and not classes:
            pick = means[0]
        if pick is not None:
            out.append({**e, "label": "SUBSTANCE", "value": {"name": pick["name"], "class": pick["class"]}})
    return out
