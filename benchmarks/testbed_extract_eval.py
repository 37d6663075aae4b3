"""Score the listing reading on the testbed's own listings against its ground truth (testbed/truth.py).

    .venv/bin/python benchmarks/testbed_extract_eval.py [--seed 7] [--show 20]

Every listing of the Swedish market, the international market and the shop goes through the crawl's
DocumentBuilder exactly as the adapters deliver it (title, description, category, quantity, price,
currency). Printed per site: the share of listings with a substance, with the right substance, and with
a price per gram (powders, herbs) or per unit (pills, blotters, pellets, vials) within 1% of the truth,
plus the listings whose per-gram price is set although the truth is counted in units.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def truth_units(row: dict[str, Any]) -> float | None:
    """A listing's true quantity (grams or pieces): its quantity, or (shop) the number its quantity text
    starts with ("50 x 0,5 mg", "5 g")."""
    if row["quantity"]:
        return float(row["quantity"])
    m = re.match(r"\s*(\d+(?:,\d+)?)", row["quantity_text"] or "")
    return float(m.group(1).replace(",", ".")) if m else None


def evaluate(seed: int = 7, show: int = 0) -> dict[str, dict[str, Any]]:
    from crawler.pipelines.documents import DocumentBuilder
    from extractors.base import ExtractRequest
    from extractors.pipeline import SpacyExtractor
    from extractors.rates import RateTable
    from indexer.models import Listing
    from testbed import catalog, rates, truth
    from testbed.entities import WorldConfig
    from testbed.world import World

    world = World(WorldConfig(seed=seed))
    today = world.today
    table = truth.build(world)
    by_key = {(x.site, x.listing_id): x for x in world.listings.values()}
    builder = DocumentBuilder(SpacyExtractor(), RateTable.default(), "eval", f"{today}T12:00:00+00:00", lambda *_: None)
    items, rows = [], []
    for row in table["listings"]:
        lst = by_key[(row["site"], row["listing_id"])]
        lang = "sv" if row["site"] in ("flugsvamp", "tillskott") else "en"
        fields = {"listing_id": row["listing_id"], "title": lst.title, "description": lst.description,
                  "price": lst.price, "currency": lst.currency, "quantity": lst.qty_text,
                  "category": catalog.classes().get(lst.sclass, {}).get(lang), "vendor": row["vendor"]}
        items.append({"type": "listing", "site": row["site"], "url": f"http://127.0.0.1/{row['listing_id']}", "fields": fields})
        rows.append(row)
    langs = {"flugsvamp": "sv", "tillskott": "sv", "nordbazaar": "en"}
    docs = [d for d in builder.build(items, {}, langs) if isinstance(d, Listing)]
    # the truth names specific substances ("3-mmc"); the taxonomy may file them under a group ("cathinones"):
    # the right answer is what the taxonomy makes of the truth's own name
    extractor = SpacyExtractor()
    names = sorted({row["substance"] for row in rows})
    canon = {n: r["summary"]["substance"] or n for n, r in zip(names, extractor.extract([ExtractRequest(n) for n in names]), strict=True)}
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    for row, doc in zip(rows, docs, strict=True):
        s = stats[row["site"]]
        s["listings"] += 1
        s["substance"] += doc.substance is not None
        right = doc.substance == canon[row["substance"]]
        s["substance_right"] += right
        sek = rates.to_sek(row["price_today"], row["currency"], today)
        if row["unit"] == "g":
            s["per_g_truth"] += 1
            want = sek / (truth_units(row) or 1.0)
            s["per_g_right"] += doc.price_per_g_sek is not None and abs(doc.price_per_g_sek - want) <= 0.01 * want
        else:
            units = truth_units(row)
            s["per_unit_truth"] += 1
            want = sek / units if units else None
            s["per_unit_right"] += bool(want and doc.price_per_unit_sek is not None and abs(doc.price_per_unit_sek - want) <= 0.01 * want)
            s["per_g_set_on_units"] += doc.price_per_g_sek is not None
        if not right and len(misses) < show:
            misses.append(f"  {row['site']}: {doc.title!r} -> {doc.substance} (truth {canon[row['substance']]})")
    out: dict[str, dict[str, Any]] = {}
    for site, s in sorted(stats.items()):
        n = s["listings"]
        out[site] = {
            "listings": n,
            "with substance": round(s["substance"] / n, 3),
            "right substance": round(s["substance_right"] / n, 3),
            "price/g right": f"{s['per_g_right']}/{s['per_g_truth']}",
            "price/unit right": f"{s['per_unit_right']}/{s['per_unit_truth']}",
            "price/g set on unit listings": s["per_g_set_on_units"],
        }
    for line in misses:
        print(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", type=int, default=0, help="print up to N listings with a wrong substance")
    args = ap.parse_args()
    for site, row in evaluate(args.seed, args.show).items():
        print(site.ljust(11), "  ".join(f"{k}: {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
