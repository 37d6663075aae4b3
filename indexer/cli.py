"""CLI: ``sokhund search`` and ``sokhund vendors``: read the index (any backend). Heavy imports live in handlers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

LISTING_FIELDS = (
    "id", "site", "listing_id", "url", "title", "vendor", "category", "substance", "substance_class",
    "price", "currency", "price_sek", "price_per_g_sek", "quantity_g", "units", "ships_from", "ships_to",
    "first_seen", "last_seen", "capture_id", "capture_sha256",
)


VENDOR_FIELDS = (
    "id", "site", "name", "first_seen", "last_seen", "listings", "pgp_fingerprints", "contacts",
    "swedish_score", "swedish_signals", "ships_from", "capture_id", "capture_sha256",
)


POST_FIELDS = ("id", "site", "post_id", "thread_id", "thread_title", "author", "posted_at", "url", "text",
               "first_seen", "capture_id", "capture_sha256")


SEARCH_EXAMPLES = """examples:
  sokhund search kokain                      cocaine listings in any language (also: koks, cocaine, coke)
  sokhund search '"koks"'                    the literal word only (quoted: no synonyms)
  sokhund search tjack* --ships-from SE      a prefix; shipped from Sweden
  sokhund search --class stimulant --price-max 1000
  sokhund search --substance kokain --since 2024-01-01
  sokhund search postnord --kind vendor
  sokhund search kokain --format tsv         every field, tab-separated (also csv, json, xlsx)
"""

VENDORS_EXAMPLES = """examples:
  sokhund vendors --swedish
  sokhund vendors --site flugsvamp --format tsv
"""


def register(sub: Any) -> None:
    p = sub.add_parser("search", help="full-text search of the index with filters",
                       description="Search listings (default), vendors, posts or feedback. Words are ANDed; a "
                       "word that names a substance matches all its Swedish and English names and the "
                       "extracted substance; a vendor's name matches its listings. Filters combine with AND.",
                       epilog=SEARCH_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query", nargs="?", default=None,
                   help='words, "quoted words" (literal, no synonyms), "phrases" or prefixes like tjack*')
    p.add_argument("--kind", choices=["listing", "vendor", "post", "feedback"], default="listing")
    p.add_argument("--site")
    p.add_argument("--vendor", help="vendor name as the site shows it")
    p.add_argument("--substance", type=_substance, help="substance in any language, e.g. kokain or cocaine")
    p.add_argument("--class", dest="substance_class", type=_class,
                   help="substance class, e.g. stimulant, cannabis, opioid")
    p.add_argument("--ships-from", help="ISO country code, e.g. SE")
    p.add_argument("--price-min", type=float, help="minimum price in SEK")
    p.add_argument("--price-max", type=float, help="maximum price in SEK")
    p.add_argument("--since", type=_iso_date, help="last seen on or after this ISO date, e.g. 2024-03-01")
    p.add_argument("--until", type=_iso_date, help="last seen on or before this ISO date")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--index", help="index URL or path (default: the embedded index in $SOKHUND_HOME); must exist")
    p.add_argument("--json", action="store_true", help="one JSON object per line (stable fields, see README)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("vendors", help="list vendors in the index", epilog=VENDORS_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--site")
    p.add_argument("--swedish", action="store_true", help="only vendors with a Swedish score ≥ 0.5")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--index", help="index URL or path (default: the embedded index in $SOKHUND_HOME); must exist")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_vendors)


def _checked(check: Any) -> Any:
    """An argparse ``type`` from a ValueError-raising check: a bad value is a usage error naming it."""
    def convert(text: str) -> Any:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = check.__name__
    return convert


def _iso_date(text: str) -> str:
    from indexer.query import iso_date

    return _checked(iso_date)(text)


def _substance(text: str) -> str:
    from indexer.synonyms import canonical_substance

    return _checked(canonical_substance)(text)


def _class(text: str) -> str:
    from indexer.synonyms import canonical_class

    return _checked(canonical_class)(text)


def _filters(args: argparse.Namespace) -> Any:
    from indexer.base import SearchFilters

    return SearchFilters(
        site=args.site, vendor=getattr(args, "vendor", None), substance=getattr(args, "substance", None),
        substance_class=getattr(args, "substance_class", None), ships_from=getattr(args, "ships_from", None),
        price_min=getattr(args, "price_min", None), price_max=getattr(args, "price_max", None),
        date_from=getattr(args, "since", None), date_to=getattr(args, "until", None),
    )


def _print_rows(rows: list[dict[str, Any]], fields: tuple[str, ...], as_json: bool, columns: tuple[str, ...]) -> None:
    from indexer.terminal import json_line, print_table

    if as_json:
        for row in rows:
            print(json_line({k: row.get(k) for k in fields}, default=str))
        return
    print_table(rows, columns)


LISTING_COLUMNS = ("site", "vendor", "title", "substance", "substance_class", "price", "currency", "price_per_g_sek",
                   "ships_from")
COLUMNS = {
    "listing": LISTING_COLUMNS,
    "vendor": ("site", "name", "first_seen", "listings", "swedish_score"),
    "post": ("site", "author", "thread_title", "text"),
    "feedback": ("site", "date", "vendor", "rating", "text"),
}


def cmd_search(args: argparse.Namespace) -> int:
    from indexer.base import open_backend

    backend = open_backend(args.index, must_exist=True)
    try:
        filters = _filters(args)
        if args.kind != "listing":
            filters.date_field = "first_seen" if args.kind != "feedback" else "date"
        hits = backend.search(args.kind, args.query, filters, limit=args.limit)
        total = backend.count(args.kind, filters, args.query) if not args.json else len(hits)
    finally:
        backend.close()
    rows = [h.doc for h in hits]
    fields = {"listing": LISTING_FIELDS, "vendor": VENDOR_FIELDS, "post": POST_FIELDS}.get(
        args.kind, tuple(rows[0]) if rows else ())
    _print_rows(rows, fields, args.json, COLUMNS[args.kind])
    if not args.json:
        more = f" (--limit {total} shows all)" if total > len(rows) else ""
        print(f"{len(rows)} of {total} {args.kind}s{more}" if rows else "no matches", file=sys.stderr)
    return 0


def cmd_vendors(args: argparse.Namespace) -> int:
    from indexer.base import SearchFilters, open_backend

    backend = open_backend(args.index, must_exist=True)
    try:
        rows = list(backend.iter_docs("vendor", SearchFilters(site=args.site)))
    finally:
        backend.close()
    if args.swedish:
        rows = [r for r in rows if (r.get("swedish_score") or 0) >= 0.5]
    rows.sort(key=lambda r: (r.get("first_seen") or "", r.get("name") or ""))
    _print_rows(rows[: args.limit], VENDOR_FIELDS, args.json,
                ("site", "name", "first_seen", "last_seen", "listings", "swedish_score", "pgp_fingerprints"))
    if not args.json and len(rows) > args.limit:
        print(f"{args.limit} of {len(rows)} vendors (--limit {len(rows)} shows all)", file=sys.stderr)
    return 0
