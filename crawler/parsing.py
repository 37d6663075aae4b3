"""Apply an adapter's page spec to HTML: structural fields by CSS/XPath, cleaned and typed.

Used by the spiders and by ``sokhund extract --page``; works on broken HTML (lxml repairs it).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler.adapters import FieldSpec, PageSpec, SiteAdapter

# A number as markets write it. Digits separated by a plain space merge only as thousands groups (exactly
# three digits, the last one not glued to a unit: "1 200 kr", "16 000+", not "17 112g" or "1 2 3"); the
# typographic separators (no-break, thin, narrow no-break space: Swedish and French style) always group.
_NUMBER = re.compile(
    r"(?P<neg>-)?(?:"
    r"(?P<space>[1-9]\d{0,2}(?: \d{3})+(?:[.,]\d+)?)(?!\w)"
    r"|(?P<typo>[1-9]\d{0,2}(?:[\u00a0\u2009\u202f]\d{3})+(?:[.,]\d+)?)(?!\d)"
    r"|(?P<mark>[1-9]\d{0,2}(?P<sep>[,.'’])\d{3}(?:(?P=sep)\d{3})*(?:(?!(?P=sep))[.,]\d+)?)(?!\d)"
    r"|(?P<plain>\d+(?:[.,]\d+)?)"
    r")"
)
_WS = re.compile(r"\s+")
# Stored text fields are capped (a 50 MB text node must not become an 8 MB description); the capture's
# parse_error says which field was cut. Same bound as the extractor's text limit.
MAX_FIELD_CHARS = 20_000


def load_html(html: str) -> tuple[Selector, str | None]:
    """Parse once with lxml (huge trees allowed) and report what the parser gave up on: a document nested
    deeper than libxml2's limit loses everything after that point, which must not pass silently."""
    import lxml.html

    parser = lxml.html.HTMLParser(huge_tree=True, encoding="utf-8")
    try:
        root = lxml.html.document_fromstring((html or "<html></html>").encode("utf-8"), parser=parser)
    except Exception as exc:  # lxml.etree.ParserError for documents with nothing in them
        return Selector(text="<html></html>"), f"HTML could not be parsed: {exc}"
    fatal = [e.message for e in parser.error_log if e.level_name == "FATAL"]
    problem = f"HTML parse error (content after it is lost): {fatal[0]}" if fatal else None
    return Selector(root=root, type="html"), problem


def parse_number(text: str | None) -> float | None:
    """The first number: '1 200,50' -> 1200.5; '$1,200.50' -> 1200.5; '0,5' -> 0.5; '17 112g' -> 17 (two
    numbers, not 17112); '1\u202f200' -> 1200. None when there is no number."""
    if not text:
        return None
    match = _NUMBER.search(text)
    if not match:
        return None
    if match.group("plain") is not None:
        raw = match.group("plain").replace(",", ".")
    elif match.group("mark") is not None:
        sep = match.group("sep")
        raw = match.group("mark").replace(sep, "").replace(",", ".")
    else:
        raw = re.sub(r"[ \u00a0\u2009\u202f]", "", match.group("space") or match.group("typo")).replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return -value if match.group("neg") else value


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _select(sel: Selector, spec: FieldSpec) -> list[Selector]:
    if spec.css:
        return list(sel.css(spec.css))
    if spec.xpath:
        return list(sel.xpath(spec.xpath))
    return []


def _is_text(found: Selector) -> bool:
    """A text node or attribute value (already entity-decoded), not an element."""
    return isinstance(found.root, str)


def _text_of(found: Selector) -> str:
    """Visible text of a selected element, or the selected text itself. Text is never parsed again as
    HTML: a title ``&lt;script&gt;`` is stored as ``<script>``, as the page shows it."""
    if _is_text(found):
        return _clean(found.root)
    return _clean(" ".join(found.xpath(".//text()").getall()))


def _block_of(found: Selector) -> str:
    """Visible text keeping its line structure (armored PGP blocks need their line breaks)."""
    text = found.root if _is_text(found) else "".join(found.xpath(".//text()").getall())
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
        values = [_text_of(v) for v in _select(sel, spec)]
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


def _cap(value: Any, name: str, cut: list[str]) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        cut.append(f"field {name!r} cut from {len(value)} to {MAX_FIELD_CHARS} characters")
        return value[:MAX_FIELD_CHARS]
    if isinstance(value, list):
        return [_cap(v, name, cut) for v in value]
    return value


def _selector(html: str | Selector) -> Selector:
    return html if isinstance(html, Selector) else Selector(text=html or "<html></html>")


def parse_page(spec: PageSpec, html: str | Selector, url: str, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The items on a page: one dict for single-item pages, one per row when ``rows`` is set. Text fields
    longer than ``MAX_FIELD_CHARS`` are cut; ``problems`` (when given) says which."""
    sel = _selector(html)
    groups = url_groups(spec, url)
    if spec.item == "none" or not spec.fields:
        return []
    scopes = sel.css(spec.rows) if spec.rows else [sel]
    items, cut = [], []
    for scope in scopes:
        item = {name: _cap(extract_field(scope, fspec, groups), name, cut) for name, fspec in spec.fields.items()}
        items.append(item)
    if problems is not None:
        problems.extend(dict.fromkeys(cut))
    return items


def links(adapter: SiteAdapter, spec: PageSpec, html: str | Selector, url: str) -> list[tuple[str, str | None, int]]:
    """(absolute url, expected page type, priority) for every follow rule, deduplicated, in page order."""
    sel = _selector(html)
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
