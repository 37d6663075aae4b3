"""Tables for partners: CSV (stdlib csv), XLSX (openpyxl) and JSON lines, full values, no truncation.

Crawled text is hostile in spreadsheets too: a vendor named ``=HYPERLINK(…)`` must not become a formula.
XLSX cells are typed as text (value unchanged); in CSV, text that starts with ``= + - @`` or a control
character gets a leading apostrophe, as OWASP recommends against CSV injection.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.selection import Selection

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]


def cell(value: Any) -> Any:
    """A value as one cell: lists joined with '; ', dicts as JSON, numbers kept as numbers."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(str(_flat(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _flat(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) >= {"kind", "value"}:
            return f"{value['kind']}:{value['value']}"
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


VENDOR_COLUMNS = ["id", "site", "name", "url", "first_seen", "last_seen", "listings", "sales", "rating",
                  "ships_from", "pgp_fingerprints", "contacts", "crypto_addresses", "swedish_score",
                  "swedish_signals", "capture_id", "capture_sha256"]
LISTING_COLUMNS = ["id", "site", "listing_id", "url", "title", "vendor", "category", "substance", "substance_class",
                   "quantity_g", "units", "price", "currency", "price_sek", "price_per_g_sek", "ships_from",
                   "ships_to", "shipping", "payment", "sold", "first_seen", "last_seen", "description",
                   "capture_id", "capture_sha256"]
ALERT_COLUMNS = ["id", "rule", "title", "fired_at", "entity_kind", "entity", "acknowledged", "evidence"]
CAPTURE_COLUMNS = ["id", "url", "site", "fetched_at", "observed_at", "status", "network", "sha256", "length",
                   "content_encoding", "warc_file", "warc_offset", "invalid_kind", "supports"]
IDENTITY_COLUMNS = ["id", "strength", "confidence", "names", "vendors", "evidence"]


def selection_tables(sel: Selection) -> list[Table]:
    def rows(docs: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
        return [[cell(doc.get(c)) for c in columns] for doc in docs]

    alerts = [a | {"evidence": [f"{e.get('capture_id')} sha256:{e.get('sha256')}" for e in a.get("evidence") or []]}
              for a in sel.alerts]
    captures = [c | {"supports": [f["label"] for f in sel.supports.get(cid, [])]} for cid, c in sel.captures.items()]
    identities = [i | {"evidence": [json.dumps(e, ensure_ascii=False) for e in i.get("evidence") or []]}
                  for i in sel.identities]
    return [
        Table("vendors", VENDOR_COLUMNS, rows(sel.vendors, VENDOR_COLUMNS)),
        Table("listings", LISTING_COLUMNS, rows(sel.listings, LISTING_COLUMNS)),
        Table("alerts", ALERT_COLUMNS, rows(alerts, ALERT_COLUMNS)),
        Table("identities", IDENTITY_COLUMNS, rows(identities, IDENTITY_COLUMNS)),
        Table("captures", CAPTURE_COLUMNS, rows(sorted(captures, key=lambda c: str(c.get("fetched_at"))), CAPTURE_COLUMNS)),
    ]


# C0 controls but tab/newline/CR (CSV quotes those), DEL and C1: ESC would drive the terminal that shows
# `--format csv` output, and the xlsx sheets show them as \xNN too.
_CSV_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _csv_safe(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _CSV_CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_csv(tables: list[Table], out: Path) -> list[Path]:
    """One CSV per table: ``out`` is a folder, or a file name whose stem prefixes ``-vendors.csv`` …"""
    if out.suffix.lower() == ".csv":
        folder, stem = out.parent, out.stem + "-"
    else:
        folder, stem = out, ""
    from indexer.outfiles import write_whole

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(table.columns)
        writer.writerows([_csv_safe(v) for v in row] for row in table.rows)
        # the BOM lets Excel read UTF-8; whole or not at all (a full disk leaves no short file)
        written.append(write_whole(folder / f"{stem}{table.name}.csv", "\ufeff" + buffer.getvalue()))
    return written


def write_xlsx(tables: list[Table], out: Path) -> Path:
    """One workbook, one sheet per table, every text cell typed as text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append(table.columns)
        for header in sheet[1]:
            header.font = Font(bold=True)
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row, start=1):
                target = sheet.cell(row=r, column=c)
                if isinstance(value, str):  # XML cannot hold control characters: show them as \xNN
                    value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", value)
                target.value = value
                if isinstance(value, str):
                    target.data_type = "s"  # never a formula, whatever the text starts with
        sheet.freeze_panes = "A2"
    from indexer.outfiles import write_whole

    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return write_whole(out, buffer.getvalue())


def write_json(tables: list[Table], out: Path) -> Path:
    """JSON lines: one object per row with its table name under ``table``."""
    from indexer.outfiles import write_whole

    return write_whole(out, "".join(
        json.dumps({"table": table.name, **dict(zip(table.columns, row, strict=True))}, ensure_ascii=False) + "\n"
        for table in tables for row in table.rows))


def tables_from_json(text: str, name: str) -> list[Table]:
    """Tables from a command's ``--json`` output: JSON lines become one table (columns: every key seen,
    in order); one JSON object becomes a ``name`` table of its plain values plus one table per list of
    objects in it (a vendor's listings, timeline …)."""
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    if len(docs) == 1 and isinstance(docs[0], dict) and any(_is_rows(v) for v in docs[0].values()):
        doc = docs[0]
        out = [_table(name, [{k: v for k, v in doc.items() if not _is_rows(v)}])]
        out += [_table(key, value) for key, value in doc.items() if _is_rows(value)]
        return out
    return [_table(name, [d if isinstance(d, dict) else {"value": d} for d in docs])]


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(name: str, docs: list[dict[str, Any]]) -> Table:
    columns: list[str] = []
    for doc in docs:
        columns += [k for k in doc if k not in columns]
    return Table(name[:31], columns, [[cell(doc.get(c)) for c in columns] for doc in docs])  # Excel: 31 chars


def write_tsv(tables: list[Table], out: Path | None, stdout: Any) -> list[Path]:
    """Tab-separated, one line per row, every value in full; tabs, newlines and other control characters
    inside a value are written visibly (``\x09``, ``\x0a``) so every row stays one line of the same columns
    (``cut -f``, ``sort``, ``awk -F'\t'``); a backslash is doubled (``\\``), so a value that holds the text
    ``\x09`` stays apart from one that holds a tab. Several tables: each after a ``# name`` line."""
    from indexer.terminal import printable

    def field(value: Any) -> str:
        return printable(value.replace("\\", "\\\\") if isinstance(value, str) else value)

    def lines() -> Iterator[str]:
        for table in tables:
            if len(tables) > 1:
                yield f"# {table.name}"
            yield "\t".join(field(c) for c in table.columns)
            for row in table.rows:
                yield "\t".join("" if v is None else field(v) for v in row)

    if out is None:
        for line in lines():
            stdout.write(line + "\n")
        return []
    from indexer.outfiles import write_whole

    return [write_whole(out, "".join(line + "\n" for line in lines()))]


def write_tables(tables: list[Table], fmt: str, out: Path | None, stdout: Any) -> list[Path]:
    """``--format csv|xlsx`` of any command: files at ``out``; CSV of a single table may go to stdout."""
    if fmt == "xlsx":
        if out is None:
            raise ValueError("--format xlsx needs --out FILE.xlsx")
        return [write_xlsx(tables, out)]
    if fmt == "tsv":
        return write_tsv(tables, out, stdout)
    if out is None:
        if len(tables) != 1:
            raise ValueError(f"this output has {len(tables)} tables: give --out FOLDER or NAME.csv")
        writer = csv.writer(stdout)
        writer.writerow(tables[0].columns)
        writer.writerows([_csv_safe(v) for v in row] for row in tables[0].rows)
        return []
    return write_csv(tables, out)
