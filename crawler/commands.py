"""CLI: ``sokhund crawl``, ``search``, ``vendors``, ``sites``, ``demo``. Heavy imports live in handlers."""

from __future__ import annotations

import argparse
import json
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
    p = sub.add_parser("crawl", help="crawl one or more sites now (resumes a killed run of the site)",
                       description="Crawl sites through their adapters (crawler/sites/NAME.yaml). A run that "
                       "was killed resumes where it stopped when you run the same command again.")
    p.add_argument("sites", nargs="+", metavar="SITE", help="site adapter name(s); see `sokhund sites`")
    p.add_argument("--run-id", help="resume or name this run (default: resume the last unfinished run, else new)")
    p.add_argument("--new", action="store_true", help="start a new run even if an unfinished one exists")
    p.add_argument("--as-of", help="ISO time to stamp observations with (default: now)")
    p.add_argument("--tor", action="store_true", help="route through Tor (onion sites always are)")
    p.add_argument("--page-budget", type=int, help="max pages per site (default: from the adapter)")
    p.add_argument("--max-depth", type=int, help="max link depth (default: from the adapter)")
    p.add_argument("--index", help="index URL: sqlite:///path or http://es.example:9200 (default: embedded)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_crawl)

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

    p = sub.add_parser("sites", help="list site adapters and check that they load")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("demo", help="run the whole job on the simulated testbed world",
                       description="Starts the testbed markets and forum on 127.0.0.1, crawls them once per "
                       "simulated day into the embedded index, evaluates alerts and ends with a summary "
                       "and trend plots.")
    p.add_argument("--days", type=int, default=7, help="simulated days to crawl (default 7)")
    p.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    p.add_argument("--tor", action="store_true", help="crawl the markets as onion services over a private Tor network")
    p.add_argument("--out", default=None, help="where to write plots and truth (default $SOKHUND_HOME/demo)")
    p.set_defaults(func=cmd_demo)


def _filters(args: argparse.Namespace) -> Any:
    from indexer.base import SearchFilters

    return SearchFilters(
        site=args.site, vendor=getattr(args, "vendor", None), substance=getattr(args, "substance", None),
        substance_class=getattr(args, "substance_class", None), ships_from=getattr(args, "ships_from", None),
        price_min=getattr(args, "price_min", None), price_max=getattr(args, "price_max", None),
        date_from=getattr(args, "since", None), date_to=getattr(args, "until", None),
    )


def cmd_crawl(args: argparse.Namespace) -> int:
    from rich.console import Console

    from crawler.runner import run_crawl, unfinished_run

    console = Console(stderr=True)
    run_id = args.run_id
    if not run_id and not args.new and len(args.sites) == 1:
        run_id = unfinished_run(args.sites[0])
        if run_id:
            console.print(f"resuming unfinished run [bold]{run_id}[/] of {args.sites[0]} (use --new to start over)")
    with _progress(console) as update:
        result = run_crawl(args.sites, as_of=args.as_of, run_id=run_id, use_tor=args.tor,
                           page_budget=args.page_budget, max_depth=args.max_depth, index_url=args.index,
                           progress=update)
    if args.json:
        print(json.dumps({"run_id": result.run_id, "ok": result.ok, "stats": result.stats,
                          "finish_reasons": result.finish_reasons, "new_vendors": result.new_vendor_ids}, default=str))
    else:
        for site, stats in result.stats.items():
            console.print(f"{site}: {stats.get('pages', 0)} pages, items {stats.get('items', {})}, "
                          f"invalid {stats.get('invalid_pages', {})}, errors {stats.get('errors', 0)}, "
                          f"finished: {result.finish_reasons.get(site)}")
            if stats.get("site_stopped"):
                console.print(f"[red]ALERT[/] {site} stopped: {stats['site_stopped']}")
    return 0 if result.ok else 3


class _progress:
    """A rich progress bar fed by the runner's progress callback (pages per site)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        self.progress.start()
        return self.update

    def update(self, latest: dict[str, dict[str, Any]]) -> None:
        for site, row in latest.items():
            if site not in self.tasks:
                self.tasks[site] = self.progress.add_task(site, total=None, info="")
            items = row.get("items", {})
            info = f"{row.get('pages', 0)} pages · " + ", ".join(f"{v} {k}" for k, v in items.items())
            done = row.get("event") == "closed"
            self.progress.update(self.tasks[site], completed=row.get("pages", 0),
                                 total=row.get("pages", 0) if done else None, info=info)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _print_rows(rows: list[dict[str, Any]], fields: tuple[str, ...], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        for row in rows:
            print(json.dumps({k: row.get(k) for k in fields}, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
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


def cmd_sites(args: argparse.Namespace) -> int:
    from crawler.adapters import AdapterError, adapter_paths, load_adapter_file

    status = 0
    for name, path in adapter_paths().items():
        try:
            adapter = load_adapter_file(path)
            print(f"{name:14} {adapter.kind:7} {adapter.network:9} {adapter.language}  {adapter.url()}")
        except AdapterError as exc:
            print(exc, file=sys.stderr)
            status = 1
    return status


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import run_demo

    return run_demo(days=args.days, seed=args.seed, use_tor=args.tor, out=args.out)
