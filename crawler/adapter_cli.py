"""CLI: ``sokhund adapter test SITE PAGE...`` and ``sokhund adapter suggest PAGE...`` (tools for adapter authors)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_MAX_SHOWN = 160  # characters of a value shown in the table view (--json keeps it whole)


def register(sub: Any) -> None:
    p = sub.add_parser("adapter", help="tools for adapter authors: test an adapter on saved pages, draft one",
                       description="Check what a site adapter extracts from saved pages, or draft a new adapter "
                       "from saved pages of a market that has none.")
    tools = p.add_subparsers(dest="adapter_command", metavar="{test,suggest}", required=True)
    t = tools.add_parser("test", help="print what the adapter extracts from saved pages, field by field, with warnings",
                         description="For each saved page: its page type (--page-type, --url, else by which "
                         "type's selectors match), the invalid-page detector that fires (or is overruled), and "
                         "every field of every item, warning about empty fields and fields the index has no "
                         "place for (a crawl drops them).")
    t.add_argument("site", metavar="SITE", help="adapter name (crawler/sites/NAME.yaml) or path to a YAML file")
    t.add_argument("pages", nargs="+", metavar="PAGE", help="saved HTML page(s)")
    t.add_argument("--url", help="the pages' URL (picks the page type through url_pattern)")
    t.add_argument("--page-type", help="use this page type of the adapter")
    t.add_argument("--json", action="store_true", help="one JSON object per page")
    t.set_defaults(func=cmd_test)
    s = tools.add_parser("suggest", help="draft a YAML adapter from saved pages of an unknown market",
                         description="Draft an adapter (selectors for title, price, vendor, ships from/to, PGP "
                         "key; follow rules for listings, vendors and pagination) from one or more saved pages. "
                         "The draft loads with the adapter loader; review it, then run `sokhund adapter test`.")
    s.add_argument("pages", nargs="+", metavar="PAGE", help="saved HTML pages (listings, category/search, vendors)")
    s.add_argument("--name", default="draft", help="adapter name (letters, digits, _)")
    s.add_argument("--base-url", default="http://change-me.invalid", help="the market's base URL")
    s.add_argument("--out", metavar="FILE.yaml", help="write the draft here (default: print it); an existing "
                   "file is kept unless --force")
    s.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    s.set_defaults(func=cmd_suggest)


def _read(path: str) -> tuple[str, list[str]]:
    """A saved page (gzip or not, in its own encoding); SavedPageError when it holds no HTML."""
    from crawler.saved_pages import read_saved_page

    return read_saved_page(path)


def _shown(value: Any) -> str:
    from indexer.terminal import printable

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = printable(text)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + f"… ({len(text)} chars)"


def cmd_test(args: argparse.Namespace) -> int:
    from crawler.adapter_check import check_page
    from crawler.adapters import AdapterError, load_adapter
    from indexer.terminal import json_line, printable

    try:
        adapter = load_adapter(args.site)
    except AdapterError as exc:
        print(f"sokhund adapter test: {exc}", file=sys.stderr)
        return 2
    from crawler.saved_pages import SavedPageError

    worst = 0
    for path in args.pages:
        try:
            html, notes = _read(path)
        except SavedPageError as exc:
            print(f"sokhund adapter test: {printable(str(exc))}", file=sys.stderr)
            worst = 2
            continue
        report = check_page(adapter, path, html, url=args.url, page_type=args.page_type)
        report.warnings[:0] = [f"saved page: {note}" for note in notes if note.startswith("gzip")]
        if report.page_type is None:
            worst = max(worst, 1)
        if args.json:
            print(json_line(report.to_dict(), default=str))
            continue
        print(f"{printable(path)}: page type {report.page_type or '-'} ({report.how}), item {report.item or '-'}")
        if report.detector:
            print(f"  DETECTOR: {report.detector} (a crawl would not index this page)")
        for note in report.overruled:
            print(f"  detector overruled: {printable(note)}")
        for warning in report.warnings:
            print(f"  warning: {printable(warning)}")
        for n, fields in enumerate(report.items, 1):
            if len(report.items) > 1:
                print(f"  item {n} of {len(report.items)}")
            width = max((len(f.name) for f in fields), default=0)
            for f in fields:
                warn = f"   <- {'; '.join(f.warnings)}" if f.warnings else ""
                print(f"    {f.name.ljust(width)}  {_shown(f.value)}{warn}")
    return worst


def cmd_suggest(args: argparse.Namespace) -> int:
    from crawler.adapter_suggest import suggest
    from crawler.adapters import AdapterError, load_adapter_file
    from crawler.saved_pages import SavedPageError
    from indexer.outfiles import write_whole

    try:
        pages = [_read(p)[0] for p in args.pages]
    except SavedPageError as exc:
        print(f"sokhund adapter suggest: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and (out.is_dir() or not args.force):
        why = "is a directory" if out.is_dir() else "exists (--force overwrites it)"
        print(f"sokhund adapter suggest: {out} {why}; nothing written", file=sys.stderr)
        return 2
    draft = suggest(pages, name=args.name, base_url=args.base_url)
    target = out or Path(_tmp_yaml())
    try:
        write_whole(target, draft)
    except OSError as exc:  # OutputError: names the file, leaves nothing behind
        print(f"sokhund adapter suggest: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        load_adapter_file(target)  # the draft must load: a broken draft is a bug here, not the author's
    except AdapterError as exc:
        print(f"sokhund adapter suggest: the draft does not load (please report): {exc}", file=sys.stderr)
        return 3
    finally:
        if out is None:
            target.unlink(missing_ok=True)
    if out is None:
        sys.stdout.write(draft)
    else:
        print(f"draft written to {out}; review it, then: sokhund adapter test {out} PAGE...", file=sys.stderr)
    return 0


def _tmp_yaml() -> str:
    import tempfile

    handle, name = tempfile.mkstemp(suffix=".yaml", prefix="sokhund-draft-")
    import os

    os.close(handle)
    return name
