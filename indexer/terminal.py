"""Crawled text is hostile in the terminal too: print it literally, with control characters made visible.

A vendor can name itself ``Säljare[/x]`` (a rich markup error), ``[link=…]`` (a fake link), or put raw
ANSI/OSC escape codes in a title (clear the screen, set the window title, hide text, forge a hyperlink).
Every command and alert channel that shows crawled text goes through :func:`printable` (plain text) or
:func:`rich_text` (rich tables and consoles: never parsed as markup); ``--json`` lines go through
:func:`json_line`, which keeps the values identical but writes terminal-active characters as ``\\uXXXX``.

Low in the stage order (``indexer``) so the crawler, analytics and alert CLIs can all import it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Characters that move the cursor, start escape sequences, or reorder what the eye reads: every C0/C1
# control and DEL (ESC starts ANSI/OSC, U+009B is an 8-bit CSI), bidi overrides and isolates (a name can
# read backwards), line and paragraph separators, and lone surrogates (left by broken decoding; they
# make ``print`` raise).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ACTIVE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + _BIDI + "\ud800-\udfff]")
# What ``json.dumps(ensure_ascii=False)`` leaves raw but a terminal would still act on.
_JSON_ACTIVE = re.compile("[\x7f-\x9f\u2028\u2029" + _BIDI + "]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as one line of literal text: control characters become visible escapes (``\\x1b``,
    ``\\n``, ``\\u202e``), nothing else changes (markup brackets stay literal brackets)."""
    text = value if isinstance(value, str) else str(value)
    return _ACTIVE.sub(_visible, text)


def rich_text(value: Any) -> Any:
    """A ``rich.text.Text`` holding :func:`printable` text: rich renders it as is, never as markup."""
    from rich.text import Text

    return Text(printable(value))


def markup_escape(value: Any) -> str:
    """:func:`printable` text that may be embedded in a rich markup string (brackets escaped)."""
    from rich.markup import escape

    return escape(printable(value))


def json_line(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False)`` with DEL, C1 controls and bidi characters escaped as
    ``\\uXXXX``: the same JSON values, but safe to print (json already escapes C0 controls)."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    return _JSON_ACTIVE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def is_printable(text: str) -> bool:
    """True when ``text`` holds nothing a terminal would act on (used by tests and asserts)."""
    return not _ACTIVE.search(text)


# ------------------------------------------------------------------ tables
# Free text that may run to pages (a forum post): cut in tables, visibly ("…"); --json/--format keep it.
LONG_TEXT = frozenset({"text", "description", "profile"})
LONG_TEXT_CHARS = 200


def signal_text(signal: Any) -> str:
    """A Swedish-score signal as an analyst reads it: ``swish (0.60): Swish``. Vendors store them as
    such strings already; extractor summaries (posts, listings) keep ``{"signal", "weight", "evidence"}``."""
    if isinstance(signal, dict) and "signal" in signal:
        weight = signal.get("weight")
        head = f"{signal['signal']} ({weight:.2f})" if isinstance(weight, int | float) else str(signal["signal"])
        return f"{head}: {signal['evidence']}" if signal.get("evidence") not in (None, "") else head
    return str(signal)


def cell_text(value: Any, column: str = "") -> str:
    """A value as one table cell, in full (hashes, ids, fingerprints are never shortened): lists joined
    with ``, ``, contacts as ``kind:value``, signals as text, numbers with thousands separators."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        if "signal" in value:
            return printable(signal_text(value))
        if "kind" in value and "value" in value:
            return printable(f"{value['kind']}:{value['value']}" if value["value"] else value["kind"])
        return printable(json.dumps(value, ensure_ascii=False, sort_keys=True))
    text = printable(value)
    if column in LONG_TEXT and len(text) > LONG_TEXT_CHARS:
        return text[: LONG_TEXT_CHARS - 1] + "…"
    return text


def print_table(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str], out: Any = None) -> None:
    """A rich table of ``columns``. On a terminal, long cells wrap (never an ellipsis); piped or
    redirected, the table is as wide as its widest row, so nothing is cut at 80 columns."""
    import sys

    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = out or sys.stdout
    cells = [[cell_text(row.get(c), c) for c in columns] for row in rows]
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for line in cells:
        table.add_row(*[Text(v) for v in line])  # crawled text: never markup
    terminal = hasattr(out, "isatty") and out.isatty()
    width = None
    if not terminal:
        widths = [max([cell_len(c), *(cell_len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
        width = sum(widths) + 3 * len(columns) + 1
    Console(file=out, width=width, soft_wrap=False).print(table)
