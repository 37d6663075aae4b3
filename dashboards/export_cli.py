"""``sokhund export csv|xlsx|json|stix|misp`` (exchange formats for partner agencies) and
``sokhund report vendor NAME --pdf FILE`` (the vendor dossier)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("csv", "xlsx", "json", "stix", "misp")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="findings as CSV, XLSX, JSON lines, a STIX 2.1 bundle or a MISP event",
                       description="Export a vendor (with its linked identities), an alert or a search for partner "
                       "agencies. csv: one file per table (vendors, listings, alerts, identities, captures); xlsx: one "
                       "sheet per table; stix: a STIX 2.1 bundle; misp: a MISP event (JSON, no server needed).")
    p.add_argument("format", choices=FORMATS)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--vendor", metavar="NAME")
    group.add_argument("--alert", metavar="ID")
    group.add_argument("--query", metavar="TEXT", help="listings matching a search ('' for all)")
    p.add_argument("--site", help="with --vendor: the vendor of this site")
    p.add_argument("--out", required=True, metavar="FILE", help="csv: a folder or NAME.csv (NAME-vendors.csv …)")
    p.add_argument("--index", help="index URL (default: embedded SQLite)")
    p.set_defaults(func=cmd_export)

    r = sub.add_parser("report", help="a vendor dossier as PDF")
    kinds = r.add_subparsers(dest="report", metavar="REPORT", required=True)
    v = kinds.add_parser("vendor", help="identity, timeline, listings, turnover, shipping, Swedish signals, evidence")
    v.add_argument("name")
    v.add_argument("--site")
    v.add_argument("--pdf", required=True, metavar="FILE")
    v.add_argument("--index", help="index URL (default: embedded SQLite)")
    v.set_defaults(func=cmd_report_vendor)


def cmd_export(args: argparse.Namespace) -> int:
    from dashboards import tables
    from dashboards.selection import select
    from indexer.base import open_backend

    out = Path(args.out)
    backend = open_backend(args.index, must_exist=True)  # never a new empty index
    try:
        sel = select(backend, vendor=args.vendor, alert=args.alert, query=args.query, site=args.site)
    finally:
        backend.close()
    if args.format == "csv":
        written = tables.write_csv(tables.selection_tables(sel), out)
        print("wrote " + ", ".join(str(p) for p in written))
        return 0
    if args.format == "xlsx":
        path = tables.write_xlsx(tables.selection_tables(sel), out)
    elif args.format == "json":
        path = tables.write_json(tables.selection_tables(sel), out)
    elif args.format == "stix":
        from dashboards.stix_export import write_stix

        write_stix(sel, out)
        path = out
    else:
        from dashboards.misp_export import write_misp

        write_misp(sel, out)
        path = out
    print(f"wrote {path}: {len(sel.vendors)} vendors, {len(sel.listings)} listings, {len(sel.alerts)} alerts, "
          f"{len(sel.captures)} captures")
    return 0


def cmd_report_vendor(args: argparse.Namespace) -> int:
    from analytics.profile import vendor_profile
    from dashboards.dossier import build_pdf
    from dashboards.selection import select_vendor
    from indexer.base import open_backend

    backend = open_backend(args.index, must_exist=True)  # never a new empty index
    try:
        profile = vendor_profile(backend, args.name, args.site)
        sel = select_vendor(backend, args.name, args.site)
    finally:
        backend.close()
    path = build_pdf(profile, sel, Path(args.pdf))
    print(f"wrote {path}")
    return 0
