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


def register(sub: Any) -> None:
    p = sub.add_parser("search", help="full-text search of the index with filters",
                       description="Search listings (default), vendors or posts. Filters combine with AND.")
    p.add_argument("query", nargs="?", default=None, help="words, \"phrases\" or prefixes like tjack*")
    p.add_argument("--kind", choices=["listing", "vendor", "post", "feedback"], default="listing")
    p.add_argument("--site")
    p.add_argument("--vendor")
    p.add_argument("--substance", help="canonical substance, e.g. cocaine")
    p.add_argument("--class", dest="substance_class", help="substance class, e.g. stimulants")
    p.add_argument("--ships-from", help="ISO country code, e.g. SE")
    p.add_argument("--price-min", type=float, help="minimum price in SEK")
    p.add_argument("--price-max", type=float, help="maximum price in SEK")
    p.add_argument("--since", help="last seen on or after this ISO date")
    p.add_argument("--until", help="last seen on or before this ISO date")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--index", help="index URL (default: embedded SQLite)")
    p.add_argument("--json", action="store_true", help="one JSON object per line (stable fields, see README)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("vendors", help="list vendors in the index")
    p.add_argument("--site")
    p.add_argument("--swedish", action="store_true", help="only vendors with a Swedish score ≥ 0.5")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--index")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_vendors)



def _filters(args: argparse.Namespace) -> Any:
    from indexer.base import SearchFilters

    return SearchFilters(
        site=args.site, vendor=getattr(args, "vendor", None), substance=getattr(args, "substance", None),
        substance_class=getattr(args, "substance_class", None), ships_from=getattr(args, "ships_from", None),
        price_min=getattr(args, "price_min", None), price_max=getattr(args, "price_max", None),
        date_from=getattr(args, "since", None), date_to=getattr(args, "until", None),
    )


def _print_rows(rows: list[dict[str, Any]], fields: tuple[str, ...], as_json: bool, columns: tuple[str, ...]) -> None:
    from indexer.terminal import json_line, rich_text

    if as_json:
        for row in rows:
            print(json_line({k: row.get(k) for k in fields}, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[rich_text(_cell(row.get(c))) for c in columns])  # crawled text: never markup
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value[:4])
    return str(value)[:70]


def cmd_search(args: argparse.Namespace) -> int:
    from indexer.base import open_backend

    backend = open_backend(args.index)
    try:
        filters = _filters(args)
        if args.kind != "listing":
            filters.date_field = "first_seen" if args.kind != "feedback" else "date"
        hits = backend.search(args.kind, args.query, filters, limit=args.limit)
    finally:
        backend.close()
    rows = [h.doc for h in hits]
    if args.kind == "listing":
        _print_rows(rows, LISTING_FIELDS, args.json,
                    ("site", "vendor", "title", "substance_class", "price", "currency", "price_per_g_sek", "ships_from"))
    elif args.kind == "vendor":
        _print_rows(rows, VENDOR_FIELDS, args.json, ("site", "name", "first_seen", "listings", "swedish_score"))
    elif args.kind == "post":
        _print_rows(rows, POST_FIELDS, args.json, ("site", "author", "thread_title", "text"))
    else:
        _print_rows(rows, tuple(rows[0]) if rows else (), args.json, ("site", "date", "rating", "text"))
    if not args.json and not rows:
        print("no matches", file=sys.stderr)
    return 0


def cmd_vendors(args: argparse.Namespace) -> int:
    from indexer.base import SearchFilters, open_backend

    backend = open_backend(args.index)
    try:
        rows = list(backend.iter_docs("vendor", SearchFilters(site=args.site)))
    finally:
        backend.close()
    if args.swedish:
        rows = [r for r in rows if (r.get("swedish_score") or 0) >= 0.5]
    rows.sort(key=lambda r: (r.get("first_seen") or "", r.get("name") or ""))
    _print_rows(rows[: args.limit], VENDOR_FIELDS, args.json,
                ("site", "name", "first_seen", "last_seen", "listings", "swedish_score", "pgp_fingerprints"))
    return 0
