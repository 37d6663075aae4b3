"""Crawled text on a page: autoescaping handles markup; this handles what escaping does not — control
characters and bidi overrides (U+202E turns "gpj.exe" into "exe.jpg") are shown as visible \\uXXXX
codes, so a vendor name cannot reorder or hide the text around it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

# C0/C1 controls (but tab/newline), bidi embeddings/overrides/isolates, zero-width and BOM characters.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible(value: str) -> str:
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", value)


def finalize(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ expression }}`` passes through here before it is escaped."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def safe_href(url: Any) -> str:
    """A crawled URL as a link target only when it is http(s); anything else (``javascript:``, ``data:``)
    becomes an inert ``#``."""
    text = str(url or "")
    return text if urlsplit(text).scheme.lower() in ("http", "https") else "#"


def number(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):,.{digits}f}".replace(",", "\u202f")  # narrow no-break space as thousands separator
    except (TypeError, ValueError):
        return str(value)


def clip(value: Any, length: int = 300) -> str:
    """A long crawled text cut for a table cell, visibly ("… [+N chars]"); the full text is on its own page."""
    text = "" if value is None else str(value)
    return text if len(text) <= length else f"{text[:length]}… [+{len(text) - length} chars]"
