"""One lxml parse per page, shared by the invalid-page detectors and the spider.

The invalid-page middleware runs first: for an ordinary page it parses the body exactly as the spider
would (``crawler.parsing.load_html``), hands the tree to the detectors, and keeps it for the spider's
callback, which then does not parse the page again. The detectors read the tree without changing it
(visible text without script, style, comments; see ``crawler.detectors``).

A page is shared only when the detectors' own reading of it would be the same: the body is valid UTF-8
and decoded as UTF-8 by the spider, within the detectors' inspection bound and the adapter's parse
limit, without NUL bytes, big inline ``data:`` URIs or ``<template>`` elements (the detectors squeeze,
cut or drop those). Anything else is parsed by each side as before.
"""

from __future__ import annotations

import codecs
import re
import weakref
from typing import Any

_DATA_URI = re.compile(rb"data:[\w/+.-]{1,64};base64,[A-Za-z0-9+/=\s]{256,}")
_TEMPLATE = re.compile(rb"<template", re.I)
_TREES: weakref.WeakKeyDictionary[Any, tuple[Any, str | None]] = weakref.WeakKeyDictionary()


def _utf8(name: str | None) -> bool:
    try:
        return codecs.lookup(name or "utf-8").name == "utf-8"
    except LookupError:
        return False


def shareable(body: bytes, encoding: str | None, limit: int) -> bool:
    """Would the detectors read this body exactly as the spider parses it?"""
    if not body.strip() or len(body) > limit or b"\x00" in body or not _utf8(encoding):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _DATA_URI.search(body) is None and _TEMPLATE.search(body) is None


def parse_for_detectors(response: Any, limit: int) -> Any | None:
    """The page's tree (lxml root) for the detectors, parsed once and kept for the spider; None when the
    page is not shared (see the module docstring)."""
    from scrapy.http import TextResponse

    from crawler.parsing import load_html

    if not isinstance(response, TextResponse):
        return None
    body = response.body
    if not shareable(body, response.encoding, limit):
        return None
    document, problem = load_html(body.decode("utf-8"))
    if problem is not None:  # a tree the parser gave up on: each side reads the page its own way
        return None
    _TREES[response] = (document, problem)
    return document.root


def take(response: Any) -> tuple[Any, str | None] | None:
    """The spider's (Selector, problem) of a page the detectors parsed, or None (parse it yourself)."""
    try:
        return _TREES.pop(response, None)
    except TypeError:  # not weak-referenceable
        return None
