"""What an adapter extracts from saved pages, field by field, with warnings (``sokhund adapter test``).

For each page: the page type (given, by ``--url`` through the adapter's ``url_pattern``, else the type whose
selectors match most of the page), the invalid-page detectors that fire (with the detector that fired, or
the ones overruled by the page's normal structure), and per item every field's value with warnings:
empty fields, and fields the data model has no place for (a crawl keeps them in the document's ``extra``
map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from crawler.adapters import PageSpec, SiteAdapter
from crawler.parsing import load_html, parse_page


@cache
def stored_fields(item: str) -> frozenset[str] | None:
    """Adapter field names the document builder maps onto data-model fields for an item kind (the
    ``*_INPUTS`` sets of crawler/pipelines/documents.py, so the answer follows the data model as it grows).
    Any other field is kept in the document's ``extra`` map; None for an item kind the builder does not
    know."""
    from crawler.pipelines import documents

    inputs = {"listing": documents.LISTING_INPUTS, "product": documents.LISTING_INPUTS,
              "vendor": documents.VENDOR_INPUTS, "feedback": documents.FEEDBACK_INPUTS,
              "post": documents.POST_INPUTS}.get(item)
    return None if inputs is None else frozenset(inputs | documents._STRUCTURAL)


@dataclass
class FieldReport:
    name: str
    value: Any
    warnings: list[str] = field(default_factory=list)


@dataclass
class PageReport:
    path: str
    page_type: str | None
    how: str  # how the page type was chosen
    item: str | None = None
    items: list[list[FieldReport]] = field(default_factory=list)
    detector: str | None = None  # the verdict that makes the page invalid
    overruled: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.path, "page_type": self.page_type, "how": self.how, "item": self.item,
                "detector": self.detector, "overruled": self.overruled, "warnings": self.warnings,
                "items": [{f.name: {"value": f.value, "warnings": f.warnings} for f in fields}
                          for fields in self.items]}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def match_score(spec: PageSpec, html: str) -> tuple[int, int]:
    """(selector fields that match something, selector fields): how well a page type fits a page."""
    sel, _ = load_html(html)
    scope = sel.css(spec.rows) if spec.rows else [sel]
    if spec.rows and not scope:
        return 0, max(1, len(spec.fields))
    first = scope[0]
    selectors = [f for f in spec.fields.values() if f.css or f.xpath]
    hits = sum(1 for f in selectors if (first.css(f.css) if f.css else first.xpath(f.xpath or "")))
    return hits, len(selectors)


def choose_page_type(adapter: SiteAdapter, html: str, url: str | None, page_type: str | None) -> tuple[str | None, str]:
    if page_type:
        return (page_type, "given") if page_type in adapter.pages else (None, f"no page type {page_type!r}")
    if url:
        found = adapter.page_type(url)
        return (found, "by url_pattern") if found else (None, f"no url_pattern matches {url}")
    scored = []
    for name, spec in adapter.pages.items():
        if spec.item == "none" or not spec.fields:
            continue
        hits, total = match_score(spec, html)
        if total and hits:
            scored.append((hits / total, hits, name, total))
    if not scored:  # e.g. a category page: only follow rules, nothing to score
        return None, ("no page type's selectors match this page: give the page's --url (its url_pattern picks "
                      f"the type) or --page-type ({', '.join(adapter.pages)})")
    share, hits, name, total = max(scored)
    return name, f"by content: {hits} of {total} selectors match"


def check_page(adapter: SiteAdapter, path: str, html: str, *, url: str | None = None,
               page_type: str | None = None) -> PageReport:
    from crawler.detectors import PageStructure, classify

    body, limit = html.encode("utf-8", errors="replace"), adapter.politeness.max_body_bytes
    cut = len(body) > limit  # what the crawl's spider does: the evidence keeps it all, parsing reads the start
    if cut:
        html = body[:limit].decode("utf-8", errors="ignore")
    chosen, how = choose_page_type(adapter, html, url, page_type)
    report = PageReport(path, chosen, how)
    if cut:
        report.warnings.append(f"{len(body):,} bytes: a crawl parses only the first {limit:,} "
                               "(politeness.max_body_bytes); so does this report")
    overruled: list[str] = []
    structure = PageStructure.of(adapter, chosen) if chosen else None
    verdict = classify(200, {}, html, adapter.detectors, generic=None if adapter.generic_detectors else (),
                       structure=structure, overruled=overruled)
    report.overruled = overruled
    if verdict is not None:
        report.detector = verdict.describe()
    _, parse_problem = load_html(html)
    if parse_problem:  # also when no page type matched: the lost content may be why
        report.warnings.append(parse_problem)
    if chosen is None:
        report.warnings.append(how)
        return report
    spec = adapter.pages[chosen]
    report.item = spec.item
    problems: list[str] = []
    items = parse_page(spec, html, url or adapter.url() + "/", problems)
    report.warnings += problems
    if spec.item != "none" and spec.fields and not items:
        report.warnings.append(f"rows selector {spec.rows!r} matched nothing")
    known = stored_fields(spec.item)
    for item in items:
        fields = []
        for name, value in item.items():
            fr = FieldReport(name, value)
            fspec = spec.fields[name]
            if _empty(value):
                source = fspec.css or fspec.xpath or (f"from_url {fspec.from_url}" if fspec.from_url else "value")
                if fspec.from_url and not url:
                    source += ": give the page's --url"  # the saved file has no URL to read it from
                fr.warnings.append(f"empty ({source})")
            if known is not None and name not in known:
                fr.warnings.append(f"not a data-model field of a {spec.item}: kept in its 'extra' map")
            fields.append(fr)
        report.items.append(fields)
    return report
