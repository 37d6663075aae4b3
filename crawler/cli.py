"""CLI: ``sokhund crawl`` and ``sokhund sites``. Heavy imports live in the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("crawl", help="crawl one or more sites now (resumes a killed run of the site)",
                       description="Crawl sites through their adapters (crawler/sites/NAME.yaml). A run that "
                       "was killed resumes where it stopped when you run the same command again.")
    p.add_argument("sites", nargs="*", metavar="SITE", help="site adapter name(s); see `sokhund sites`")
    p.add_argument("--generic", metavar="URL", help="crawl a market or shop that has no adapter, from URL, with the "
                   "zero-config extractor (page structure + NLP); budget 500 pages, depth 4 unless given")
    p.add_argument("--run-id", help="resume or name this run (default: resume the last unfinished run, else new)")
    p.add_argument("--new", action="store_true", help="start a new run even if an unfinished one exists")
    p.add_argument("--as-of", help="ISO time to stamp observations with (default: now)")
    p.add_argument("--tor", action="store_true", help="route through Tor (onion sites always are)")
    p.add_argument("--page-budget", type=int, help="max pages per site (default: from the adapter)")
    p.add_argument("--max-depth", type=int, help="max link depth (default: from the adapter)")
    p.add_argument("--index", help="index URL: sqlite:///path or http://es.example:9200 (default: embedded)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("sites", help="list site adapters and check that they load")
    p.set_defaults(func=cmd_sites)


def cmd_crawl(args: argparse.Namespace) -> int:
    from rich.console import Console

    from crawler.progress_bar import CrawlProgressBar
    from crawler.runner import run_crawl, unfinished_run
    from crawler.spiders.generic import generic_name
    from indexer.terminal import markup_escape

    console = Console(stderr=True)
    settings: dict[str, Any] = {}
    if args.generic:
        from crawler.spiders.generic import generic_adapter_file

        args.sites = [str(generic_adapter_file(args.generic)), *args.sites]
        settings["SOKHUND_GENERIC"] = True
    if not args.sites:
        console.print("name a SITE (see `sokhund sites`) or give --generic URL")
        return 2
    run_id = args.run_id
    if not run_id and not args.new and len(args.sites) == 1:
        run_id = unfinished_run(generic_name(args.generic) if args.generic else args.sites[0])
        if run_id:
            console.print(f"resuming unfinished run [bold]{run_id}[/] of {args.sites[0]} (use --new to start over)")
    with CrawlProgressBar(console) as update:
        result = run_crawl(args.sites, as_of=args.as_of, run_id=run_id, use_tor=args.tor,
                           page_budget=args.page_budget, max_depth=args.max_depth, index_url=args.index,
                           progress=update, settings=settings)
    if args.json:
        print(json.dumps({"run_id": result.run_id, "ok": result.ok, "stats": result.stats,
                          "finish_reasons": result.finish_reasons, "new_vendors": result.new_vendor_ids}, default=str))
    else:
        # finish reasons are keyed as the sites were given (a name or an adapter path), stats by site name
        reasons = {name: result.finish_reasons.get(spec) for name, spec in zip(result.sites, args.sites, strict=False)}
        for site, stats in result.stats.items():
            console.print(markup_escape(
                f"{site}: {stats.get('pages', 0)} pages, items {stats.get('items', {})}, "
                f"invalid {stats.get('invalid_pages', {})}, errors {stats.get('errors', 0)}, "
                f"finished: {reasons.get(site)}"))
            if reasons.get(site) == "closespider_pagecount":
                console.print(f"[yellow]note[/] {markup_escape(site)}: the page budget stopped the crawl before "
                              "the site was read completely (raise --page-budget or the adapter's page_budget)")
            if stats.get("depth_limited"):
                console.print(f"[yellow]note[/] {markup_escape(site)}: {stats['depth_limited']} links lay beyond "
                              "max_depth and were not followed (pagination does not count towards depth)")
            if stats.get("disk_full") or reasons.get(site) == "disk_full":
                why = stats.get("disk_full") or "the data directory is full; free space and crawl again"
                console.print(f"[red]DISK FULL[/] {markup_escape(site)}: {markup_escape(why)}")
            if stats.get("site_stopped"):
                console.print(f"[red]ALERT[/] {markup_escape(site)} stopped: {markup_escape(stats['site_stopped'])}")
    return 0 if result.ok else 3


def cmd_sites(args: argparse.Namespace) -> int:
    from crawler.adapters import AdapterError, adapter_paths, load_adapter_file

    status = 0
    for name, path in adapter_paths().items():
        try:
            adapter = load_adapter_file(path)
            note = "  (reference: saved real pages, never crawled)" if adapter.reference else ""
            print(f"{name:14} {adapter.kind:7} {adapter.network:9} {adapter.language}  {adapter.url()}{note}")
        except AdapterError as exc:
            print(exc, file=sys.stderr)
            status = 1
    return status
