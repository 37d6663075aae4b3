"""``sokhund evidence show|verify|export|check-package``: open, verify and hand over the WARC evidence."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from indexer.terminal import printable


def visible(value: Any) -> str:
    """Crawled text printed literally, line breaks kept (an archived page's text): control characters
    (ANSI/OSC escapes) and bidi overrides shown as ``\\x1b``, ``\\u202e`` (indexer.terminal.printable)."""
    return "\n".join(printable(line) for line in str(value).split("\n"))


def register(sub: Any) -> None:
    p = sub.add_parser("evidence", help="show, verify and export the WARC evidence behind the facts",
                       description="Open a capture (the archived HTTP response behind a fact), check its digests, "
                       "or export an evidence package for partners (WARC records, screenshots, manifest.json, "
                       "chain of custody, a standalone verifier).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="a capture: URL, site, time, status, network, sha256, WARC, facts")
    show.add_argument("capture_id")
    show.add_argument("--body", action="store_true", help="print the archived page as text")
    show.add_argument("--html", metavar="FILE", help="write the archived page (decoded) to FILE")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.add_argument("--index", help="index URL (default: embedded SQLite)")
    show.set_defaults(func=cmd_show)
    ver = actions.add_parser("verify", help="re-read WARC records and check every digest (exit 1 on a mismatch)")
    ver.add_argument("capture_ids", nargs="*", metavar="CAPTURE_ID")
    ver.add_argument("--all", action="store_true", help="every capture and every WARC file in $SOKHUND_HOME")
    ver.add_argument("--index", help="index URL (default: embedded SQLite)")
    ver.set_defaults(func=cmd_verify)
    exp = actions.add_parser("export", help="an evidence package for a vendor, an alert or captures")
    group = exp.add_mutually_exclusive_group(required=True)
    group.add_argument("--vendor", metavar="NAME")
    group.add_argument("--alert", metavar="ID")
    group.add_argument("--capture", metavar="ID", action="append")
    exp.add_argument("--site", help="with --vendor: the vendor of this site")
    exp.add_argument("--out", required=True, metavar="DIR|ZIP", help="a new folder, or a file ending in .zip")
    exp.add_argument("--exported-by", help="name in the chain of custody (default: user@host)")
    exp.add_argument("--index", help="index URL (default: embedded SQLite)")
    exp.set_defaults(func=cmd_export)
    rel = actions.add_parser("relink", help="migrate an older data directory: store WARC paths relative to "
                             "$SOKHUND_HOME (also after the directory was moved)")
    rel.add_argument("--index", help="index URL (default: embedded SQLite)")
    rel.set_defaults(func=cmd_relink)
    chk = actions.add_parser("check-package", help="verify an evidence package (what verify_package.py does)")
    chk.add_argument("package", metavar="DIR|ZIP")
    chk.set_defaults(func=cmd_check_package)


def _backend(args: argparse.Namespace) -> Any:
    from indexer.base import open_backend

    return open_backend(getattr(args, "index", None), must_exist=True)  # read commands: never a new empty index


def cmd_show(args: argparse.Namespace) -> int:
    from dashboards import evidence

    backend = _backend(args)
    try:
        info = evidence.show(backend, args.capture_id)
        cap = backend.get("capture", args.capture_id)
    finally:
        backend.close()
    if args.html:
        Path(args.html).write_bytes(evidence.page_bytes(cap))
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key in ("id", "url", "site", "fetched_at", "observed_at", "status", "network", "sha256", "length",
                    "content_encoding", "warc_file", "warc_offset", "page_type", "invalid_kind", "parse_error",
                    "screenshot", "campaign_run"):
            if info.get(key) not in (None, "", False):
                print(f"{key:17} {printable(info[key])}")
        print(f"facts citing it   {len(info['facts'])}")
        for fact in info["facts"]:
            print(f"  {fact['kind']:19} {fact['id']}  {printable(fact['label'])}")
    if args.body:
        print(visible(evidence.page_text(evidence.page_bytes(cap))).rstrip())
    if args.html:
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from dashboards import evidence

    if not args.all and not args.capture_ids:
        print("sokhund evidence verify: give CAPTURE_ID … or --all", file=sys.stderr)
        return 2
    backend = _backend(args)
    try:
        report = evidence.verify(backend, None if args.all else args.capture_ids)
    finally:
        backend.close()
    for problem in report.problems:
        print(f"FAIL {visible(problem)}")
    scope = f"{report.captures} captures" + (f", {report.records} records in {report.files} WARC files" if args.all else "")
    print(("OK: " if report.ok else f"FAILED ({len(report.problems)} problems): ") + scope)
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from dashboards import evidence
    from dashboards.selection import select

    backend = _backend(args)
    try:
        sel = select(backend, vendor=args.vendor, alert=args.alert, captures=args.capture, site=args.site)
        manifest = evidence.build_package(sel, Path(args.out), args.exported_by)
    finally:
        backend.close()
    out = Path(args.out)
    manifest_sha = _manifest_sha256(out)
    print(f"wrote {out}: {len(manifest['captures'])} captures, {len(manifest['files'])} files")
    print(f"manifest.json sha256 {manifest_sha} (note it in the case file)")
    print(f"verify anywhere: python3 {evidence.VERIFIER_NAME} {out.name if out.suffix == '.zip' else '.'}")
    return 0


def _manifest_sha256(out: Path) -> str:
    import hashlib
    import zipfile

    if out.suffix.lower() == ".zip":
        with zipfile.ZipFile(out) as archive:
            return hashlib.sha256(archive.read("manifest.json")).hexdigest()
    return hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


def cmd_relink(args: argparse.Namespace) -> int:
    from dashboards import evidence

    backend = _backend(args)
    try:
        changed, missing = evidence.relink(backend)
    finally:
        backend.close()
    print(f"{changed} captures now point at their evidence relative to $SOKHUND_HOME")
    for path in missing:
        print(f"not found: {visible(path)}")
    return 1 if missing else 0


def cmd_check_package(args: argparse.Namespace) -> int:
    from crawler import warc_check

    return warc_check.main([args.package])
