"""Draft a YAML site adapter from saved pages of an unknown market (``sokhund adapter suggest``).

Heuristics, all on page structure (the zero-config extractor's vocabulary, ``extractors/data/page_labels.yaml``):

- a page is a *listing* when it has a labelled price and a labelled vendor or origin; a *list* (category or
  search page) when one link shape to listings repeats (≥ 5 times); a *vendor* page when it shows an
  armored PGP key or a labelled vendor name but no price;
- labelled values ("Ships from" + its value in a sibling cell, ``dt``/``dd``, ``label``/``span``, "Vendor:
  name") become XPath selectors anchored on the label's text, so they survive layout changes around them;
- the title is the ``*title*`` element or heading that repeats the page's ``<title>``; a price without a
  label is the first ``*price*`` element with a currency amount;
- follow rules: the repeated listing links, vendor links, and pagination (``rel=next`` or "Next"/"›");
  ``url_pattern`` per page type from the shapes of those links (ids replaced).

Each field keeps the selector that works on most of the given pages of its type. The draft always loads
with the adapter loader; it is a starting point for the author, not a finished adapter.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import yaml

from extractors.generic import label_pairs, labels
from extractors.normalise import find_prices

_SPACE = re.compile(r"\s+")
_NEXT_WORDS = ("next", "next page", "nästa", "›", "»", ">", "→", "weiter", "older")
_MIN_REPEAT = 5


def _text(el: Any) -> str:
    return _SPACE.sub(" ", el.text_content() if isinstance(el.tag, str) else "").strip()


def _own(el: Any) -> str:
    return _SPACE.sub(" ", el.text or "").strip()


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().strip(":：*").strip().lower()


def _lit(text: str) -> str:
    """An XPath string literal."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in text.split("'")) + ")"


def _css_of(el: Any, root: Any) -> str:
    """A CSS selector for ``el``: tag and classes, with ancestors added until it is unique on the page."""
    parts: list[str] = []
    node = el
    while node is not None and isinstance(node.tag, str) and node.tag not in ("html", "body"):
        classes = [c for c in (node.get("class") or "").split() if re.fullmatch(r"[A-Za-z_][\w-]*", c)]
        ident = node.get("id")
        step = f"{node.tag}#{ident}" if ident and re.fullmatch(r"[A-Za-z_][\w-]*", ident) else \
            node.tag + "".join(f".{c}" for c in classes[:2])
        parts.insert(0, step)
        css = " > ".join(parts)
        if len(root.cssselect(css)) == 1 or step.startswith(f"{node.tag}#"):
            return css
        node = node.getparent()
    return " > ".join(parts) or el.tag


def _label_of(field: str) -> set[str]:
    return {w for w, f in labels()["table"].items() if f == field}


def _anchored(value_el: Any, field: str) -> str | None:
    """An XPath for a labelled value, anchored on the label's text: the label as a preceding sibling
    (``th``/``td``, ``dt``/``dd``, ``label``/``span``), the label element itself followed by text
    (``<b>Vendor:</b> name``), or "Vendor: name" in one element."""
    words = _label_of(field)
    for sib in value_el.itersiblings(preceding=True):
        if isinstance(sib.tag, str) and _norm(_text(sib)) in words:
            return f"//{sib.tag}[normalize-space(.)={_lit(_text(sib))}]/following-sibling::{value_el.tag}[1]"
    own = _own(value_el)
    if _norm(own) in words and (value_el.tail or "").strip():
        return f"//{value_el.tag}[normalize-space(.)={_lit(_text(value_el))}]/following-sibling::text()[1]"
    m = re.match(r"^\s*([^:：]{2,30})[:：]", own)
    if m and _norm(m.group(1)) in words:
        return f"//{value_el.tag}[starts-with(normalize-space(.), {_lit(m.group(1).strip() + ':')})]"
    return None


@cache
def _name_labels() -> frozenset[str]:
    data = yaml.safe_load((Path(__file__).parent / "data" / "suggest_labels.yaml").read_text(encoding="utf-8"))
    return frozenset(_norm(w) for w in data["vendor_name"])


def _labelled(root: Any, words: frozenset[str]) -> str | None:
    """An XPath for the value after the first label in ``words``: the label's next sibling, or the next
    sibling of a cell that holds only the label (``<td><label>Username</label></td><td>name</td>``)."""
    for el in root.iter():
        if not isinstance(el.tag, str) or _norm(_own(el)) not in words or len(_own(el)) > 40:
            continue
        nxt = el.getnext()
        if nxt is not None and isinstance(nxt.tag, str) and _text(nxt):
            return f"//{el.tag}[normalize-space(.)={_lit(_text(el))}]/following-sibling::{nxt.tag}[1]"
        parent = el.getparent()
        if parent is not None and _norm(_text(parent)) == _norm(_own(el)):
            nxt = parent.getnext()
            if nxt is not None and isinstance(nxt.tag, str) and _text(nxt):
                return f"//{parent.tag}[normalize-space(.)={_lit(_text(parent))}]/following-sibling::{nxt.tag}[1]"
    return None


def _vendor_link(el: Any) -> Any | None:
    marks = labels()["vendor_links"]
    for a in el.iter("a"):
        if any(m in (a.get("href") or "").lower() for m in marks) and _text(a):
            return a
    return None


_NOT_A_NAME = re.compile(r"review|omdöm|feedback|rating|betyg|contact|kontakt|message|meddelande|profile|^\d+$", re.I)


def _byline_vendor(root: Any) -> Any | None:
    """The vendor link of an unlabelled by-line ("by <a class=vendor href=/u/name>"): outside navigation, a
    name-like text; links classed vendor/seller first."""
    marks = labels()["vendor_links"]
    links = [a for a in root.xpath("//body//a[not(ancestor::nav) and not(ancestor::header[parent::body])]")
             if any(m in (a.get("href") or "").lower() for m in marks)
             and 2 <= len(_text(a)) <= 40 and not _NOT_A_NAME.search(_text(a))]
    classed = [a for a in links if re.search(r"vendor|seller|saljare|säljare|user", a.get("class") or "", re.I)]
    return (classed or links or [None])[0]


_ID_AFTER = {"vendor", "vendors", "seller", "sellers", "u", "user", "users", "profile", "saljare", "shop", "store", "v",
             "listing", "listings", "product", "products", "item", "items", "offer", "annons", "produkt", "p"}


def _shape(href: str) -> str:
    """A link's shape: ids and slugs replaced by '#'; './x' and 'x' read as '/x'."""
    parts = urlsplit(href)
    path = "/" + parts.path.lstrip("./") if not parts.path.startswith("/") else parts.path
    segs = path.split("/")
    # the segment after a listing or vendor word is an id or a name: /vendor/Zloy3/ ~ /vendor/tramapro/
    segs = [("#" if i and segs[i - 1].lower() in _ID_AFTER and seg else seg) for i, seg in enumerate(segs)]
    path = re.sub(r"[0-9a-f]{16,}|\d+", "#", "/".join(segs))
    query = re.sub(r"=[^&]*", "=#", parts.query)
    return f"{path}?{query}" if query else path


def _pattern_of(shape: str) -> str:
    """url_pattern for a link shape: '/viewProduct?offer=#' -> '^/viewProduct\\?offer=[^&#]+'."""
    out = re.escape(shape).replace("\\#", "#").replace("#", "[^&/#]+")
    return "^" + out


def _link_prefix(shape: str) -> str:
    """The fixed part of a shape for ``a[href*='…']``: '/viewProduct?offer=#' -> 'viewProduct?offer='."""
    return shape.split("#", 1)[0].lstrip("/") or shape


def _links(root: Any, kind: str) -> Counter[str]:
    marks = labels()["listing_links" if kind == "listing" else "vendor_links"]
    return Counter(_shape(a.get("href") or "") for a in root.iter("a")
                   if any(m in (a.get("href") or "").lower() for m in marks))


def _title(root: Any) -> Any | None:
    head = _text(root.find(".//title")) if root.find(".//title") is not None else ""
    cands = [el for el in root.xpath("//body//*[contains(translate(@class,'TITLE','title'),'title') or self::h1 or self::h2]")
             if el.tag not in ("a", "title", "form", "input", "button") and 4 <= len(_text(el)) <= 240
             and _norm(_text(el)) not in labels()["table"]]
    for el in cands:
        if _text(el) and (_text(el) in head or head in _text(el)):
            return el
    return cands[0] if cands else None


def _pagination(root: Any) -> str | None:
    if root.xpath("//a[@rel='next']"):
        return "a[rel=next]::attr(href)"
    for a in root.iter("a"):
        if _norm(_text(a)) in _NEXT_WORDS and a.get("href"):
            return f"//a[normalize-space(.)={_lit(_text(a))}]/@href"
    numbered = Counter(m.group(1) for a in root.iter("a")
                       if (m := re.search(r"[?&]((?:page|sida|p|offset|pg)=)\d+", a.get("href") or "")))
    if numbered:  # numbered page links: follow them all (the dupe filter keeps each page once)
        return f"a[href*={_lit(numbered.most_common(1)[0][0])}]::attr(href)"
    return None


def analyse(html: str) -> dict[str, Any]:
    """What one page shows: its kind, a selector per field it found, and its link shapes."""
    root = lxml.html.document_fromstring(html or "<html></html>")
    fields: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for field, _value, el in label_pairs(root):
        if field in seen or el is None or el.tag == "th":  # a table's header row is not a value
            continue
        if el.tag == "a" and field != "vendor":
            continue  # a tab or menu link after a "Description" tab is navigation, not the value
        if any(isinstance(c.tag, str) and c.tag in ("form", "input", "select", "button") for c in el.iter()):
            continue  # "Quantity: <select>" is an order form, not a value
        seen.add(field)
        xpath = _anchored(el, field)
        if field == "vendor":
            a = _vendor_link(el)
            if a is not None:
                xpath = (xpath + "/descendant-or-self::a[1]") if xpath else None
                if xpath is None:
                    fields[field] = {"css": _css_of(a, root) + "::text"}
                    continue
        fields[field] = {"xpath": xpath} if xpath else {"css": _css_of(el, root)}
        if xpath and "starts-with(" in xpath:
            fields[field]["regex"] = r"[:：]\s*(.+)$"  # the value after "Label:"
        if field in ("quantity",):
            fields[field]["type"] = "text"
    title = _title(root)
    if title is not None:
        fields["title"] = {"css": _css_of(title, root), "type": "text"}
    if "price" not in fields:
        for el in root.xpath("//body//*[contains(translate(@class,'PRICE','price'),'price')]"):
            if find_prices(_text(el)):
                fields["price"] = {"css": _css_of(el, root), "type": "text"}
                break
    if "description" not in fields:  # the longest *description* block
        blocks = [el for el in root.xpath("//body//*[contains(translate(@class,'DESCRIPTION','description'),'desc')"
                                          " or contains(translate(@id,'DESCRIPTION','description'),'desc')]")
                  if el.tag not in ("a", "form", "input", "textarea", "select") and len(_text(el)) >= 40]
        if blocks:
            fields["description"] = {"css": _css_of(max(blocks, key=lambda el: len(_text(el))), root), "type": "text"}
    name = _labelled(root, _name_labels())
    if name:
        found = root.xpath(name)
        fields["name"] = {"xpath": name}
        if found and re.search(r"\S\s*\(", _text(found[0])):  # "JoyInc (680) (4.96)": the name before the counts
            fields["name"]["regex"] = r"^\s*([^\s(]+)"
    pgp = [el for el in root.xpath("//pre|//textarea") if "BEGIN PGP PUBLIC KEY BLOCK" in (el.text_content() or "")]
    if pgp:
        fields["pgp_key"] = {"css": _css_of(pgp[0], root), "type": "block"}
    listing_links = _links(root, "listing")
    repeated = [s for s, n in listing_links.items() if n >= _MIN_REPEAT]
    if "pgp_key" in fields:  # vendor profiles show the key (and often a list of the vendor's listings)
        kind = "vendor"
    elif repeated:
        kind = "category"
    elif "price" in fields and ("vendor" in fields or "ships_from" in fields):
        kind = "listing"
    elif "vendor" in fields:
        kind = "vendor"
    else:
        kind = "other"
    if kind == "listing" and "vendor" not in fields:
        link = _byline_vendor(root)
        if link is not None:
            fields["vendor"] = {"css": _css_of(link, root) + "::text"}
    lang = (root.get("lang") or "en").split("-")[0].lower()
    currency = None
    if "price" in fields:  # the currency the price field shows
        spec = fields["price"]
        found = root.xpath(spec["xpath"]) if "xpath" in spec else root.cssselect(spec["css"])
        prices = find_prices(_text(found[0])) if found and isinstance(found[0].tag, str) else []
        currency = getattr(prices[0], "currency", None) if prices else None
    return {"kind": kind, "fields": fields, "listing_links": listing_links, "vendor_links": _links(root, "vendor"),
            "next": _pagination(root), "lang": lang, "currency": currency}


def _majority(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per field, the selector most pages of a type agree on."""
    votes: dict[str, Counter[str]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for page in found:
        for name, spec in page["fields"].items():
            key = yaml.safe_dump(spec, sort_keys=True)
            votes.setdefault(name, Counter())[key] += 1
            specs[key] = spec
    return {name: dict(specs[c.most_common(1)[0][0]]) for name, c in votes.items()}


def suggest(pages: list[str], *, name: str = "draft", base_url: str = "http://change-me.invalid") -> str:
    """A YAML adapter drafted from the HTML of ``pages``; it loads with the adapter loader."""
    found = [analyse(html) for html in pages]
    listing_shapes: Counter[str] = sum((f["listing_links"] for f in found), Counter())
    vendor_shapes: Counter[str] = sum((f["vendor_links"] for f in found), Counter())
    listing_shape = listing_shapes.most_common(1)[0][0] if listing_shapes else None
    vendor_shape = vendor_shapes.most_common(1)[0][0] if vendor_shapes else None
    kinds = Counter(f["kind"] for f in found)
    page_specs: dict[str, Any] = {}
    if kinds["category"]:
        follow: list[dict[str, Any]] = []
        if listing_shape:
            follow.append({"css": f"a[href*={_lit(_link_prefix(listing_shape))}]::attr(href)",
                           "page_type": "listing", "priority": 1})
        nexts = Counter(f["next"] for f in found if f["kind"] == "category" and f["next"])
        if nexts:
            rule = nexts.most_common(1)[0][0]
            follow.append({("xpath" if rule.startswith("/") else "css"): rule, "page_type": "category"})
        page_specs["category"] = {"url_pattern": "^/CHANGE-ME-category", "item": "none", "follow": follow}
    for kind, item in (("listing", "listing"), ("vendor", "vendor")):
        mine = [f for f in found if f["kind"] == kind]
        if not mine:
            continue
        fields = _majority(mine)
        if item == "vendor":
            fields.pop("price", None)
            for alt in ("vendor", "title"):  # a labelled user name first, else a labelled vendor, else the heading
                if alt in fields and "name" not in fields:
                    fields["name"] = fields.pop(alt)
            fields.pop("title", None)  # a profile's heading is not a field of a vendor
            fields.pop("vendor", None)
        else:
            fields.pop("name", None)
        shape = listing_shape if kind == "listing" else vendor_shape
        spec: dict[str, Any] = {"url_pattern": _pattern_of(shape) if shape else f"^/CHANGE-ME-{kind}",
                                "item": item, "fields": fields}
        if kind == "listing" and vendor_shape:
            spec["follow"] = [{"css": f"a[href*={_lit(_link_prefix(vendor_shape))}]::attr(href)",
                               "page_type": "vendor", "priority": 2}]
        if kind == "vendor" and listing_shape:
            spec["follow"] = [{"css": f"a[href*={_lit(_link_prefix(listing_shape))}]::attr(href)",
                               "page_type": "listing", "priority": 1}]
        page_specs[kind] = spec
    # a follow rule's target type that no saved page showed gets a stub (its links' URL shape, no fields):
    # a rule naming a missing page type does not load
    shapes = {"listing": listing_shape, "vendor": vendor_shape, "category": None}
    for target in [r["page_type"] for spec in list(page_specs.values()) for r in spec.get("follow", [])]:
        if target not in page_specs:
            shape = shapes.get(target)
            page_specs[target] = {"url_pattern": _pattern_of(shape) if shape else f"^/CHANGE-ME-{target}",
                                  "item": target if target in ("listing", "vendor") else "none", "fields": {}}
    if not page_specs:
        page_specs["page"] = {"url_pattern": "^/", "item": "none"}
    currencies = Counter(f["currency"] for f in found if f["currency"])
    adapter = {
        "name": name, "kind": "market", "language": Counter(f["lang"] for f in found).most_common(1)[0][0],
        "network": "clearnet", "base_url": base_url,
        **({"currency": currencies.most_common(1)[0][0]} if currencies else {}),
        "start": ["/"], "politeness": {"concurrency": 1, "delay": 2.0, "page_budget": 500, "max_depth": 4},
        "pages": page_specs,
    }
    head = (f"# Drafted by `sokhund adapter suggest` from {len(pages)} saved page(s): "
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ".\n"
            "# Review every selector; set base_url (an .onion needs network: tor) and the CHANGE-ME url_patterns,\n"
            "# then check it with `sokhund adapter test FILE PAGE...`. A page type with `fields: {}` was only\n"
            "# linked to: save one of its pages and draft again with it.\n")
    return head + yaml.safe_dump(adapter, sort_keys=False, allow_unicode=True, width=120)
