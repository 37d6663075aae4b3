"""``sokhund extract``: run the extractor on text, stdin lines, or a saved page parsed by a site adapter.

Prints one JSON object per text (the contract in extractors/SCHEMA.md). Heavy imports live in the
handler so ``sokhund --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# Page fields that are free text and go through the extractor, and the request kind for each.
TEXT_FIELDS = {"title": "title", "name": "title", "description": "description", "body": "post", "text": "post",
               "profile": "profile", "bio": "profile", "terms": "profile", "pgp": "profile", "pgp_key": "profile"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract substances, prices, shipping, contacts, crypto addresses and PGP keys from text",
        description=(
            "Print one JSON object per text: {text, lang, entities:[{label,start,end,text,value}], summary}. "
            "Give --text, --stdin (one text per line) or --page FILE --site ADAPTER."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="one text to analyse")
    src.add_argument("--stdin", action="store_true", help="read texts from stdin, one per line")
    src.add_argument("--page", metavar="FILE", help="a saved HTML page to parse with --site")
    p.add_argument("--site", metavar="ADAPTER", help="site adapter name or YAML path (with --page)")
    p.add_argument("--url", help="the page's URL: picks the page type by the adapter's url_pattern")
    p.add_argument("--page-type", help="page type of the adapter to use (instead of --url)")
    p.add_argument("--lang", help="language hint (sv, en); detected when omitted")
    p.add_argument("--date", help="observation date YYYY-MM-DD for exchange rates (missing -> flagged)")
    p.add_argument("--kind", default="description", choices=["title", "description", "post", "profile"],
                   help="what the text is (titles take the fast path)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from extractors.base import ExtractRequest
    from extractors.pipeline import SpacyExtractor

    extractor = SpacyExtractor()
    indent = 2 if args.pretty else None
    if args.page:
        return _page(args, extractor, indent)
    if args.text is not None:
        texts = [args.text]
    else:
        texts = [line.rstrip("\n") for line in sys.stdin]
    batch: list[ExtractRequest] = []
    for text in texts:
        batch.append(ExtractRequest(text=text, lang=args.lang, date=args.date, kind=args.kind))
        if len(batch) >= 1000:
            _emit(extractor.extract(batch), indent)
            batch = []
    if batch:
        _emit(extractor.extract(batch), indent)
    return 0


def _emit(results: list[dict[str, Any]], indent: int | None) -> None:
    for r in results:
        sys.stdout.write(json.dumps(r, ensure_ascii=False, indent=indent) + "\n")
    sys.stdout.flush()


def _page(args: argparse.Namespace, extractor: Any, indent: int | None) -> int:
    from pathlib import Path

    from crawler.adapters import load_adapter
    from crawler.parsing import load_html, parse_items
    from extractors.base import ExtractRequest
    from extractors.normalise import country_code

    if not args.site:
        raise ValueError("--page needs --site ADAPTER")
    adapter = load_adapter(args.site)
    url = args.url or ""
    html = Path(args.page).read_text(encoding="utf-8", errors="replace")
    document, _problem = load_html(html)
    # --page-type, else the page's content (an adapter's `match:`) and the URL, as the crawler decides
    page_type = args.page_type or adapter.page_type_for(url or adapter.url() + "/", document.root,
                                                        adapter.page_type(url) if url else None)
    if page_type is None or page_type not in adapter.pages:
        known = ", ".join(adapter.pages)
        raise ValueError(f"cannot tell the page type; give --url or --page-type ({known})")
    spec = adapter.pages[page_type]
    for kind, item in parse_items(spec, document, url or adapter.url() + "/", now=args.date):
        out: dict[str, Any] = {"site": adapter.name, "page_type": page_type, "item": kind, "fields": item}
        fields = [(k, v) for k, v in item.items() if k in TEXT_FIELDS and isinstance(v, str) and v.strip()]
        reqs = [ExtractRequest(text=v, lang=args.lang or adapter.language, date=args.date or item.get("date"),
                               kind=TEXT_FIELDS[k]) for k, v in fields]
        results = extractor.extract(reqs) if reqs else []
        out["extracted"] = {k: r for (k, _), r in zip(fields, results, strict=True)}
        out["normalised"] = _normalise_fields(item, results, adapter.currency, country_code)
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=indent, default=str) + "\n")
    return 0


def _normalise_fields(item: dict[str, Any], results: list[dict[str, Any]], default_currency: str | None,
                      country_code: Any) -> dict[str, Any]:
    """Structural fields (price, ships_from, ships_to, pgp) normalised, falling back to the text."""
    from extractors.base import SUMMARY_FIELDS
    from extractors.normalise import parse_price
    from extractors.pgp import PGPParseError, parse_key

    merged: dict[str, Any] = {name: None for name in SUMMARY_FIELDS}
    for r in results:  # first non-null value from the free-text results
        for k, v in r["summary"].items():
            if merged.get(k) is None and v is not None:
                merged[k] = v
    price_raw = item.get("price")
    if isinstance(price_raw, str):
        p = parse_price(price_raw)
        if p is None and default_currency:
            p = parse_price(f"{price_raw} {default_currency}")
        if p:
            merged["price"] = {"amount": p.amount, "currency": p.currency}
    elif isinstance(price_raw, int | float) and default_currency:
        merged["price"] = {"amount": price_raw, "currency": default_currency}
    if isinstance(item.get("ships_from"), str):
        merged["ships_from"] = country_code(item["ships_from"]) or merged.get("ships_from")
    st = item.get("ships_to")
    if st:
        parts = st if isinstance(st, list) else [s for s in str(st).replace(";", ",").split(",")]
        codes = [c for c in (country_code(s) for s in parts) if c]
        if codes:
            merged["ships_to"] = codes
    for key in ("pgp", "pgp_key"):
        if isinstance(item.get(key), str) and "BEGIN PGP" in item[key]:
            try:
                k = parse_key(item[key])
                merged["pgp_key"] = k
                merged["pgp_fingerprints"] = [k["fingerprint"]]
            except PGPParseError as exc:
                merged.setdefault("flags", [])
                merged["flags"] = [*(merged["flags"] or []), f"pgp_unparsed: {exc}"]
    return merged
