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
