"""Apply an adapter's page spec to HTML: structural fields by CSS/XPath, cleaned and typed.

Used by the spiders and by ``sokhund extract --page``; works on broken HTML (lxml repairs it).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler.adapters import FieldSpec, PageSpec, SiteAdapter

_NUMBER = re.compile(r"-?\d[\d\s\u00a0.,']*")
_WS = re.compile(r"\s+")


def parse_number(text: str | None) -> float | None:
    """'1 200,50' -> 1200.5; '$1,200.50' -> 1200.5; '0,5' -> 0.5; None when no number."""
    if not text:
        return None
    match = _NUMBER.search(text)
    if not match:
        return None
    raw = re.sub(r"[\s\u00a0']", "", match.group(0)).rstrip(".,")
    if "," in raw and "." in raw:
        # the later separator is the decimal one
        if raw.rfind(",") > raw.rfind("."):
            raw = raw.replace(".", "").replace(",", ".")
        else:
            raw = raw.replace(",", "")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 and head.replace(",", "").isdigit() else raw.replace(",", ".")
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")
    try:
        return float(raw)
    except ValueError:
        return None


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _select(sel: Selector, spec: FieldSpec) -> list[str]:
    if spec.css:
        return sel.css(spec.css).getall()
    if spec.xpath:
        return sel.xpath(spec.xpath).getall()
    return []


def _text_of(fragment: str) -> str:
    """Visible text of an HTML fragment (or the string itself when it is already text)."""
    if "<" in fragment and ">" in fragment:
        return _clean(" ".join(Selector(text=fragment).css("*::text").getall()))
    return _clean(fragment)


def _block_of(fragment: str) -> str:
    """Visible text keeping its line structure (armored PGP blocks need their line breaks)."""
    text = "".join(Selector(text=fragment).css("*::text").getall()) if "<" in fragment else fragment
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def extract_field(sel: Selector, spec: FieldSpec, url_groups: dict[str, str]) -> Any:
    if spec.value is not None and not (spec.css or spec.xpath or spec.from_url):
        return spec.value
    if spec.type == "block":
        blocks = [b for b in (_block_of(v) for v in _select(sel, spec)) if b]
        return ("\n".join(blocks) if blocks else spec.default)
    if spec.from_url:
        values = [url_groups[spec.from_url]] if url_groups.get(spec.from_url) else []
    else:
        values = [_text_of(v) if spec.type != "str" or "<" in v else _clean(v) for v in _select(sel, spec)]
    if spec.regex:
        kept = []
        for value in values:
            match = re.search(spec.regex, value, re.I | re.S)
            if match:
                kept.append(match.group(1) if match.groups() else match.group(0))
        values = kept
    values = [v for v in (_clean(v) for v in values) if v]
    if not values:
        return [] if spec.all or spec.type == "list" else spec.default
    if spec.join is not None:
        values = [spec.join.join(values)]
    if spec.all or spec.type == "list":
        return [_convert(v, spec.type) for v in values] if spec.type not in ("list", "str") else values
    return _convert(values[0], spec.type)


def _convert(value: str, kind: str) -> Any:
    if kind in ("str", "text", "date", "list"):
        return value
    number = parse_number(value)
    if number is None:
        return None
    return int(number) if kind == "int" else number


def url_groups(spec: PageSpec, url: str) -> dict[str, str]:
    path = re.sub(r"^[a-z]+://[^/]+", "", url) or "/"
    match = re.search(spec.url_pattern, path)
    return {k: v for k, v in (match.groupdict() if match else {}).items() if v is not None}


def parse_page(spec: PageSpec, html: str, url: str) -> list[dict[str, Any]]:
    """The items on a page: one dict for single-item pages, one per row when ``rows`` is set."""
    sel = Selector(text=html or "<html></html>")
    groups = url_groups(spec, url)
    if spec.item == "none" or not spec.fields:
        return []
    scopes = sel.css(spec.rows) if spec.rows else [sel]
    items = []
    for scope in scopes:
        item = {name: extract_field(scope, fspec, groups) for name, fspec in spec.fields.items()}
        items.append(item)
    return items


def links(adapter: SiteAdapter, spec: PageSpec, html: str, url: str) -> list[tuple[str, str | None, int]]:
    """(absolute url, expected page type, priority) for every follow rule, deduplicated, in page order."""
    sel = Selector(text=html or "<html></html>")
    seen: set[str] = set()
    out = []
    for rule in spec.follow:
        hrefs = sel.css(rule.css).getall() if rule.css else sel.xpath(rule.xpath or "").getall()
        for href in hrefs:
            href = href.strip()
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            absolute = urljoin(url, href)
            if absolute in seen:
                continue
            seen.add(absolute)
            out.append((absolute, rule.page_type or adapter.page_type(absolute), rule.priority))
    return out
