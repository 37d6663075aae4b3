"""Substance recognition and per-unit prices on the real title sets in ../shared/data (issue 11).

    .venv/bin/python benchmarks/title_recognition.py

Per set: how many drug listings get a substance from the title alone (and with the site category as
evidence, where the set has one), how often the class agrees with the site's own category, and how the
price is normalised: per gram, per unit, and how many per-gram prices are absurd (> 2,000 USD/g, the
mark of a pill dose read as the listing's mass). Runs on older code too (no extractors.listing: the
per-text summary is used), which is how the "before" figures were taken.

Sets: Hansa onionscan 2016 (category Drugs), the 200 hand-labelled Hansa titles (tests/data),
Agora 2014 (cannabis subcategories), dark-market-scout 2024 product rows (drug categories),
TripSit's names and aliases (each alone, as a title).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.base import ExtractRequest  # noqa: E402

SHARED = Path(os.environ.get("SOKHUND_SHARED_DATA") or ROOT.parent / "shared" / "data")
DMS_DRUG_CATS = ("Benzos", "Stimulants", "Opioids", "Cannabis", "Ecstasy", "Psychedelics", "Dissociatives",
                 "Prescriptions", "Steroids", "Tobacco", "RC", "Research")
ABSURD_USD_PER_G = 2000.0


def _req(text: str, category: str | None) -> ExtractRequest:
    try:
        return ExtractRequest(text=text, kind="title", category=category)  # type: ignore[call-arg]
    except TypeError:  # older code: no category evidence
        return ExtractRequest(text=text, kind="title")


def _price_basis(result: dict[str, Any], category: str | None) -> tuple[str | None, float | None, float | None]:
    """(basis, divisor grams, divisor units) of one title: the listing reading when present, else the
    per-text summary (the old behaviour)."""
    try:
        from extractors.listing import read_listing
    except ImportError:
        s = result["summary"]
        if s["quantity_g"]:
            return "g", s["quantity_g"], None
        if s["units"]:
            return "unit", None, s["units"]
        return None, None, None
    r = read_listing({"title": result}, category)
    return r.basis, r.quantity_g if r.basis == "g" else None, r.units if r.basis == "unit" else None


def score(rows: list[dict[str, Any]], extractor: Any) -> dict[str, Any]:
    """rows: {"title", "category" (or None), "usd" (or None), "class" (expected class or None)}."""
    plain = extractor.extract([_req(r["title"], None) for r in rows])
    ctx = extractor.extract([_req(r["title"], r.get("category")) for r in rows])
    cats = sorted({r["category"] for r in rows if r.get("category")})
    by_cat = dict(zip(cats, extractor.extract([_req(c, None) for c in cats]), strict=True))
    c: Counter[str] = Counter()
    for r, p, x in zip(rows, plain, ctx, strict=True):
        c["rows"] += 1
        c["substance"] += p["summary"]["substance"] is not None
        found = (x["summary"]["substance"], x["summary"]["substance_class"])
        try:  # the listing reading: title, then the category's own words ("Kokain"), then its class
            from extractors.listing import read_listing

            reading = read_listing({"title": x}, r.get("category"), by_cat.get(r.get("category")))
            found = (reading.substance, reading.substance_class)
        except ImportError:
            pass
        c["substance_ctx"] += found[0] is not None
        c["class_ctx"] += found[1] is not None
        if r.get("class"):
            c["with_class"] += 1
            c["class_agrees"] += found[1] == r["class"]
        basis, grams, units = _price_basis(x, r.get("category"))
        if basis == "g" and grams:
            c["per_g"] += 1
            if r.get("usd") and r["usd"] / grams > ABSURD_USD_PER_G:
                c["absurd_per_g"] += 1
        elif basis == "unit":
            c["per_unit"] += 1
    n = c["rows"] or 1
    out = {"rows": c["rows"], "substance (title)": round(c["substance"] / n, 3),
           "substance (title+category)": round(c["substance_ctx"] / n, 3),
           "class (title+category)": round(c["class_ctx"] / n, 3),
           "per g": c["per_g"], "per unit": c["per_unit"], f"per g > {ABSURD_USD_PER_G:.0f} USD/g": c["absurd_per_g"]}
    if c["with_class"]:
        out["class agrees with site category"] = round(c["class_agrees"] / c["with_class"], 3)
    return out


def hansa() -> list[dict[str, Any]]:
    path = SHARED / "hansa-onionscan-2016" / "hansa-marketplace-listings-december-2016.csv"
    with path.open(encoding="utf-8", errors="replace") as fh:
        rows = [r for r in csv.reader(fh, skipinitialspace=True) if len(r) >= 6 and r[5] == "Drugs"]
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        usd = float(r[4].split(" ", 1)[1].replace(",", "")) if r[4].startswith("USD ") else None
        seen.setdefault(r[2], {"title": r[2], "category": None, "usd": usd, "class": None})
    return list(seen.values())


def hansa_sample() -> list[dict[str, Any]]:
    path = ROOT / "tests" / "data" / "hansa_sample_labels.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [{"title": r["title"], "category": None, "usd": None, "class": r["class"]} for r in rows if "title" in r and r.get("class")]


def agora() -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for f in sorted(glob.glob(str(SHARED / "agora-2014" / "*.csv"))):
        with open(f, encoding="utf-8", errors="replace") as fh:
            for r in csv.DictReader(fh):
                cat = " > ".join(x for x in (r["cat"], r["subcat"], r["subsubcat"]) if x)
                rows.setdefault(r["product"], {"title": r["product"], "category": cat, "usd": None, "class": "cannabis"})
    return list(rows.values())


def dark_market_scout() -> list[dict[str, Any]]:
    try:
        from extractors.context import category_classes
    except ImportError:  # older code: the set is still scored, without expected classes
        def category_classes(category: str | None) -> list[str]:
            return []

    path = SHARED / "dark-market-scout-2024" / "dashboard" / "data" / "product_vendor.csv"
    out: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for r in csv.DictReader(fh):
            cat = (r.get("category") or "").strip()
            if not cat.startswith(DMS_DRUG_CATS):
                continue
            classes = category_classes(cat)
            usd = float(r["price_usd"]) if r.get("price_usd") else None
            out.setdefault(r["name"], {"title": r["name"], "category": cat, "usd": usd, "class": classes[0] if classes else None})
    return list(out.values())


def tripsit() -> list[dict[str, Any]]:
    data = json.loads((SHARED / "tripsit-drugs" / "drugs.json").read_text(encoding="utf-8"))
    names: set[str] = set()
    for key, d in data.items():
        names.add(d.get("pretty_name") or key)
        names.update(str(a) for a in d.get("aliases", []) or [])
    return [{"title": n, "category": None, "usd": None, "class": None} for n in sorted(names)]


SETS = {"hansa-onionscan-2016 (Drugs)": hansa, "hansa 200 hand-labelled": hansa_sample, "agora-2014": agora,
        "dark-market-scout-2024 (drug categories)": dark_market_scout, "tripsit-drugs (names+aliases)": tripsit}


def main() -> None:
    from extractors.pipeline import SpacyExtractor

    if not SHARED.exists():
        sys.exit(f"{SHARED} missing")
    extractor = SpacyExtractor()
    for name, load in SETS.items():
        try:
            rows = load()
        except ImportError:  # older code without extractors.context: no category classes
            continue
        print(name.ljust(42), json.dumps(score(rows, extractor), ensure_ascii=False))


if __name__ == "__main__":
    main()
