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


def ascii_compatible(charset: str) -> bool:
    return bool(_ASCII_COMPATIBLE.fullmatch(charset.strip()))


def inert_html(body: bytes) -> bytes:
    return _ACTIVE.sub(lambda m: b"<" + m.group(1) + b"sokhund-" + m.group(2).lower(), body)
