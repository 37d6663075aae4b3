"""One parse per page (crawler/page_tree.py): the detectors reading the spider's tree see exactly what
they see parsing the page themselves — visible text, title, selector hits and verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.adapters import load_all
from crawler.detectors import MAX_INSPECT_BYTES, _Page, classify, generic_detectors
from crawler.page_tree import shareable
from crawler.parsing import load_html

PAGES = Path(__file__).resolve().parents[1] / "data" / "pages"
SNIPPETS = [
    "<html><head><title>Log<!-- x -->ga in</title></head><body><p>capt<!--c-->cha</p></body></html>",
    "<html><head><title>Market</title><style>p{}</style></head><body>a<script>var x='<p>'</script>b"
    "<b>c</b><script>1</script><i>d</i>e<?pi x?>f</body></html>",
    "<html><body><form class=login><input type=password></form><!-- a --><div class=ddos-queue>q</div>"
    "<script src=captcha.js></script><img src='/captcha.png'></body></html>",
    "<html><body><p><!--only a comment--></p><p> <script>x</script> </p>Checking your browser<!--x--> now"
    "</body></html>",
    "<html><head><title>Just a moment...</title><meta http-equiv=refresh content='5; url=/queue'></head>"
    "<body>" + "<div>" * 300 + "deep" + "</div>" * 300 + "</body></html>",
    "<html><body>" + "<p>Please login to continue.</p>" * 3 + "<a href=/logout>Logga ut</a></body></html>",
    "<html><body><h1>Too Many Requests</h1><script>a</script><p>rate limited</p></body></html>",
]


def _bodies() -> list[bytes]:
    return [p.read_bytes() for p in sorted(PAGES.glob("*/*.html"))] + [s.encode() for s in SNIPPETS]


def _selectors() -> list[str]:
    detectors = list(generic_detectors())
    adapters = load_all().values()
    for adapter in adapters:
        detectors += adapter.detectors
    found = {sel for d in detectors for m in d.any for sel in (m.css, m.not_css) if sel}
    found |= {sel for a in adapters for sel in a.session.logged_in_css}
    return sorted(found | {"p", "title", "script", "div > p", "p + b", "p:empty"})


@pytest.mark.parametrize("body", _bodies(), ids=lambda b: b[:40].decode(errors="replace"))
def test_detectors_read_the_shared_tree_as_their_own(body: bytes) -> None:
    assert shareable(body, "utf-8", MAX_INSPECT_BYTES)
    tree = load_html(body.decode("utf-8"))[0].root
    shared, own = _Page(200, {}, body, MAX_INSPECT_BYTES, tree), _Page(200, {}, body, MAX_INSPECT_BYTES)
    assert shared.text == own.text
    assert shared.title == own.title
    for selector in _selectors():
        assert shared.has(selector) == own.has(selector), selector
    for adapter in load_all().values():
        assert classify(200, {}, body, adapter.detectors, tree=tree) == classify(200, {}, body, adapter.detectors)


def test_pages_the_detectors_read_differently_are_not_shared() -> None:
    page = b"<html><body><p>x</p></body></html>"
    assert shareable(page, "utf-8", MAX_INSPECT_BYTES)
    assert not shareable(page, "cp1252", MAX_INSPECT_BYTES) or page.isascii()
    assert not shareable("<p>blåbär</p>".encode("cp1252"), "utf-8", MAX_INSPECT_BYTES)  # not UTF-8
    assert not shareable(page + b"\x00", "utf-8", MAX_INSPECT_BYTES)
    assert not shareable(page * 10_000, "utf-8", MAX_INSPECT_BYTES)  # beyond the inspection bound
    assert not shareable(b"<template><p>x</p></template>", "utf-8", MAX_INSPECT_BYTES)
    big_uri = b"<img src='data:image/png;base64," + b"A" * 400 + b"'>"
    assert not shareable(big_uri, "utf-8", MAX_INSPECT_BYTES)
