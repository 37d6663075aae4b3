"""Apply an adapter's page spec to HTML: structural fields by CSS/XPath, cleaned and typed.

Used by the spiders and by ``sokhund extract --page``; works on broken HTML (lxml repairs it).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler.adapters import FieldPlan, FieldSpec, PageSpec, SiteAdapter
from crawler.compiled import TEXT_NODES, text_of
from crawler.dates import parse_date

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


_INT64 = 2**63


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
    if not math.isfinite(value):  # a 400-digit "price" is inf, which neither JSON nor the index can hold
        return None
    return -value if match.group("neg") else value


def _clean(text: str) -> str:
    return " ".join(text.split())  # the same as collapsing r"\s+" and stripping (str.isspace), faster


def _root(node: Any) -> Any:
    """The lxml node under a parsel Selector (or the node itself)."""
    return node.root if isinstance(node, Selector) else node


def _block_of(found: Any) -> str:
    """Visible text keeping its line structure (armored PGP blocks need their line breaks)."""
    text = found if isinstance(found, str) else "".join(TEXT_NODES(found))
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def extract_field(sel: Any, spec: FieldSpec | FieldPlan, url_groups: dict[str, str], *,
                  parent: dict[str, Any] | None = None, now: datetime | str | None = None) -> Any:
    """One field from a page or a row (``sel``: a parsel Selector or an lxml node).

    A single value is the first non-empty match, converted to the field's type; ``default`` when nothing
    matched or the value does not convert. A list (``all``, ``type: list`` or ``split``) has one entry per
    match, in page order, and keeps None where a match gave nothing (empty text, ``regex`` not matching, a
    value that does not convert), so parallel list fields stay aligned; no match at all is ``[]``."""
    plan = spec.plan if isinstance(spec, FieldSpec) else spec
    return _extract(_root(sel), plan, url_groups, parent, now)


def _extract(node: Any, plan: FieldPlan, groups: dict[str, str], parent: dict[str, Any] | None,
             now: datetime | str | None) -> Any:
    """``extract_field`` on a compiled plan (plain attributes: the per-page hot path)."""
    if plan.constant is not None:
        return plan.constant
    if plan.from_item:
        value = (parent or {}).get(plan.from_item)
        return plan.default if value in (None, "", []) else value
    if plan.type == "block":
        blocks = [b for b in (_block_of(v) for v in plan.query(node)) if b] if plan.query is not None else []
        return "\n".join(blocks) if blocks else plan.default
    if plan.from_url:
        values: list[str | None] = [groups[plan.from_url]] if groups.get(plan.from_url) else []
    elif plan.query is not None:
        values = [_clean(text_of(v)) or None for v in plan.query(node)]
    else:
        values = []
    if plan.pattern is not None:
        search = plan.pattern.search
        values = [_clean(_group(search(v)) or "") or None if v else None for v in values]
    if plan.splitter is not None:
        values = [part for v in values for part in (_split(plan.splitter, v) if v else [None])]
    if plan.join is not None:
        present = [v for v in values if v]
        values = [plan.join.join(present)] if present else []
    kind = plan.type
    if plan.is_list:
        if kind in ("list", "str", "text"):
            return values
        return [_convert(v, plan, now) if v is not None else None for v in values]
    for value in values:
        if value:
            if kind in ("str", "text", "list"):
                return value
            converted = _convert(value, plan, now)
            return plan.default if converted is None else converted
    return plan.default


def _group(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    return match.group(1) if match.re.groups else match.group(0)


def _split(splitter: re.Pattern[str], value: str) -> list[str | None]:
    parts = [p.strip() for p in splitter.split(value)]
    return [p for p in parts if p] or [None]


def _convert(value: str, plan: FieldPlan, now: datetime | str | None = None) -> Any:
    kind = plan.type
    if kind in ("str", "text", "list"):
        return value
    if kind == "date":
        return parse_date(value, now, plan.date_format)
    number = parse_number(value)
    if number is None:
        return None
    if kind == "int":
        whole = int(number)
        return whole if -_INT64 <= whole < _INT64 else None  # SQLite and Elasticsearch hold 64-bit integers
    return number


def url_groups(spec: PageSpec, url: str) -> dict[str, str]:
    if spec.url_rx is None:
        return {}
    path = re.sub(r"^[a-z]+://[^/]+", "", url) or "/"
    match = spec.url_rx.search(path)
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


def _items_of(root: Any, rows: Any, plans: tuple[tuple[str, FieldPlan], ...], groups: dict[str, str],
              cut: list[str], parent: dict[str, Any] | None, now: datetime | str | None) -> list[dict[str, Any]]:
    scopes = [scope for scope in (rows(root) if rows is not None else [root]) if not isinstance(scope, str)]
    if len(scopes) < 2:
        return [{name: _cap(_extract(scope, plan, groups, parent, now), name, cut) for name, plan in plans}
                for scope in scopes]
    # a field of the whole page (``//h1/a`` on each feedback row: the vendor) is read once, not per row
    shared = {name: _cap(_extract(root, plan, groups, parent, now), name, cut) for name, plan in plans
              if plan.query is not None and plan.query.absolute}
    return [{name: _copy(shared[name]) if name in shared else _cap(_extract(scope, plan, groups, parent, now), name, cut)
             for name, plan in plans} for scope in scopes]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def parse_items(spec: PageSpec, html: str | Selector, url: str, problems: list[str] | None = None, *,
                now: datetime | str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every item on a page as (item kind, fields): the page's own item (one, or one per ``rows`` match),
    then each ``items:`` entry's (a vendor page's feedback rows, a search page's listing rows), whose
    ``from_item`` fields read the page's (first) own item. ``now`` (the capture time) anchors relative
    dates. Text fields longer than ``MAX_FIELD_CHARS`` are cut; ``problems`` (when given) says which."""
    root = _root(_selector(html))
    groups = url_groups(spec, url)
    cut: list[str] = []
    out: list[tuple[str, dict[str, Any]]] = []
    main: list[dict[str, Any]] = []
    if spec.item != "none" and spec.fields:
        main = _items_of(root, spec.rows_query, spec.field_plans, groups, cut, None, now)
        out += [(spec.item, item) for item in main]
    for extra in spec.items:
        if extra.item == "none" or not extra.fields:
            continue
        parent = main[0] if main else None
        out += [(extra.item, item) for item in _items_of(root, extra.rows_query, extra.field_plans, groups, cut,
                                                         parent, now)]
    if problems is not None:
        problems.extend(dict.fromkeys(cut))
    return out


def parse_page(spec: PageSpec, html: str | Selector, url: str, problems: list[str] | None = None, *,
               now: datetime | str | None = None) -> list[dict[str, Any]]:
    """The page's own items (kind ``spec.item``): one dict for single-item pages, one per row when ``rows``
    is set; the ``items:`` entries are in :func:`parse_items`."""
    if spec.item == "none" or not spec.fields:
        return []
    cut: list[str] = []
    items = _items_of(_root(_selector(html)), spec.rows_query, spec.field_plans, url_groups(spec, url), cut, None,
                      now)
    if problems is not None:
        problems.extend(dict.fromkeys(cut))
    return items


def links(adapter: SiteAdapter, spec: PageSpec, html: str | Selector, url: str) -> list[tuple[str, str | None, int]]:
    """(absolute url, expected page type, priority) for every follow rule, deduplicated, in page order.
    A rule selecting elements (``a``) follows their ``href``."""
    root = _root(_selector(html))
    seen: set[str] = set()
    out = []
    for rule in spec.follow:
        for found in rule.query(root):
            href = found if isinstance(found, str) else found.get("href") if hasattr(found, "get") else None
            href = (href or "").strip()
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            absolute = urljoin(url, href)
            if absolute in seen:
                continue
            seen.add(absolute)
            out.append((absolute, rule.page_type or adapter.page_type(absolute), rule.priority))
    return out
