"""Score ``sokhund adapter suggest``: draft an adapter from some saved pages of a real market, run it with
``adapter test`` (crawler.adapter_check) on every page that has expected values, and count right fields.

Real pages and expected values: ../shared/data/msc-darkweb-2019 (Dream, Empire; ``assertions.json`` from an
independent scraper's tests). Only fields the draft can name are scored: title, seller name, price and
currency, origin, destinations, vendor name. Dream listing_2's expected price belongs to listing_0
(upstream error, see the data's README): it is reported apart, not scored.

    .venv/bin/python benchmarks/adapter_suggest_eval.py [--data ../shared/data] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.adapter_check import check_page  # noqa: E402
from crawler.adapter_suggest import suggest  # noqa: E402
from crawler.adapters import load_adapter_file  # noqa: E402
from extractors.normalise import country_code, parse_price  # noqa: E402

# upstream field -> the draft's field
FIELDS = {"title": "title", "seller_name": "vendor", "price_and_currency": "price", "price": "price",
          "currency": "price", "origin_country": "ships_from", "destination_countries": "ships_to", "name": "name"}
KNOWN_WRONG = {("dream/html_files/listings/listing_2.html", "price_and_currency")}
# the pages the draft is made from (the rest of the asserted pages are held out)
TRAIN = {
    "dream": ["listings/listing_0.html", "listings/listing_1.html", "listings/listing_3.html",
              "search_result/search_result_0.html", "sellers/seller_0.html"],
    "empire": ["listings/saved_empire_listing_0", "listings/saved_empire_listing_1", "listings/saved_empire_listing_2",
               "search_results/saved_empire_search_result_0", "users/saved_empire_user_0"],
}


def _codes(value: Any) -> set[str]:
    parts = value if isinstance(value, list) else str(value or "").split(",")
    return {country_code(str(p).strip()) or str(p).strip().lower() for p in parts if str(p).strip()}


def right(expr: str, expected: Any, got: Any) -> bool:
    if got in (None, "", []):
        return False
    if expr in ("price_and_currency", "price", "currency"):
        price = parse_price(str(got))
        if price is None:
            return False
        if expr == "price_and_currency":
            return abs(price.amount - float(expected[0])) < 1e-6 and price.currency == str(expected[1]).upper()
        if expr == "price":
            return abs(price.amount - float(expected)) < 1e-6
        return price.currency == str(expected).upper()
    if expr in ("origin_country", "destination_countries"):
        return _codes(got) == _codes(expected)
    return " ".join(str(got).split()) == " ".join(str(expected).split())


def evaluate(data: Path, market: str) -> dict[str, Any]:
    root = data / "msc-darkweb-2019"
    rows = [r for r in json.loads((root / "assertions.json").read_text())["rows"]
            if r["market"] == market and r["field_expr"] in FIELDS and r.get("fixture_exists", True)]
    pages = [(root / market / "html_files" / p).read_text(encoding="utf-8", errors="replace") for p in TRAIN[market]]
    draft = suggest(pages, name=f"{market}_draft")
    path = Path("/tmp") / f"sokhund-{market}-draft.yaml"
    path.write_text(draft, encoding="utf-8")
    adapter = load_adapter_file(path)  # the draft must load
    results: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong, known = [], []
    for r in rows:
        html = (root / r["fixture_path"]).read_text(encoding="utf-8", errors="replace")
        report = check_page(adapter, r["fixture_path"], html)
        fields = {f.name: f.value for f in (report.items[0] if report.items else [])}
        got = fields.get(FIELDS[r["field_expr"]])
        if r["field_expr"] == "seller_name" and report.item == "vendor":
            got = fields.get("name")
        ok = right(r["field_expr"], r["expected"], got)
        if (r["fixture_path"], r["field_expr"]) in KNOWN_WRONG:
            known.append({"page": r["fixture_path"], "field": r["field_expr"], "expected": r["expected"], "got": got})
            continue
        held_out = not any(r["fixture_path"].endswith(t) for t in TRAIN[market])
        key = f"{r['field_expr']}{' (held out)' if held_out else ''}"
        results[key][0] += ok
        results[key][1] += 1
        if not ok:
            wrong.append({"page": r["fixture_path"], "field": r["field_expr"], "expected": r["expected"],
                          "got": got, "page_type": report.page_type})
    right_n = sum(v[0] for v in results.values())
    total = sum(v[1] for v in results.values())
    return {"market": market, "right": right_n, "scored": total, "by_field": {k: tuple(v) for k, v in results.items()},
            "wrong": wrong, "known_wrong_upstream": known, "draft": str(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for market in TRAIN:
        result = evaluate(args.data, market)
        if args.json:
            print(json.dumps(result, ensure_ascii=False, default=str))
            continue
        print(f"{market}: {result['right']} of {result['scored']} expected values right (draft {result['draft']})")
        for field, (ok, n) in sorted(result["by_field"].items()):
            print(f"  {field}: {ok}/{n}")
        for w in result["wrong"]:
            print(f"  wrong: {w['page']} {w['field']}: expected {w['expected']!r}, got {w['got']!r} ({w['page_type']})")
        for k in result["known_wrong_upstream"]:
            print(f"  not scored (upstream error): {k['page']} {k['field']}: expected {k['expected']!r}, got {k['got']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
