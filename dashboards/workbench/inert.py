"""Archived HTML made inert for viewing (the WARC keeps the bytes as served; this is only the rendering).

The viewer's CSP (``default-src 'none'`` + ``sandbox``) stops scripts, styles, images, frames and forms,
but not everything that reaches the network: chromium opens a connection for a nested ``<iframe src>``
before its CSP check refuses it (tested with a loopback sentinel), resource hints (``<link
rel=preconnect|dns-prefetch>``) are outside CSP, and a meta refresh or a clicked link navigates the frame
to the seller's server. So those elements are renamed before the HTML tokenizer sees them: ``<link …>`` becomes
``<sokhund-link …>``, an unknown element with no behaviour, whatever its attributes hold."""

from __future__ import annotations

import re

# Tag names as the HTML tokenizer reads them: case-insensitive, ended by whitespace, "/" or ">".
_ACTIVE = re.compile(rb"<(/?)(link|meta|a|area|base|iframe|frame|frameset|object|embed|portal|fencedframe)(?=[\t\n\f\r />])", re.IGNORECASE)
# Charsets in which ASCII bytes mean ASCII characters, so the rewrite above sees every tag.
_ASCII_COMPATIBLE = re.compile(r"(utf-?8|us-ascii|ascii|iso-?8859-\d+|latin-?1|windows-125\d|cp125\d|koi8-[ru])$",
                               re.IGNORECASE)


_CHARSET = re.compile(r"charset=([A-Za-z0-9._-]{1,40})", re.I)
_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# A byte-order mark outranks the Content-Type charset in the browser; these two switch it to UTF-16, where
# the byte-level rename above sees no tag (a UTF-8 BOM is harmless: ASCII stays ASCII).
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def ascii_compatible(charset: str) -> bool:
    return bool(_ASCII_COMPATIBLE.fullmatch(charset.strip()))


def inert_html(body: bytes) -> bytes:
    return _ACTIVE.sub(lambda m: b"<" + m.group(1) + b"sokhund-" + m.group(2).lower(), body)


def served_type(declared: str, body: bytes) -> str:
    """The Content-Type to serve an archived body with, from the one it was served with: images as they are,
    HTML only where ``inert_html`` can read it (ASCII-compatible charset, no UTF-16 BOM), all else as text
    (JSON, scripts, SVG, XML …: shown, never interpreted)."""
    found = _CHARSET.search(declared)
    charset = found.group(1) if found else "utf-8"
    mime = declared.split(";")[0].strip().lower()
    if mime in _IMAGES:
        return mime
    if mime in ("text/html", "application/xhtml+xml") and ascii_compatible(charset) and not body.startswith(_UTF16_BOMS):
        return f"text/html; charset={charset}"
    return f"text/plain; charset={charset}"
