"""Zero-config extraction: listings from a market or shop page that has no adapter (issue 11).

    from extractors.generic import extract_page
    page = extract_page(html, url)   # {"page_type", "items": [{"type", "url", "fields"}], "evidence"}

Page structure first, NLP second:

1. **Label pairs.** Markets print fields as "label: value" in table cells (``<td>Ships From</td><td>US</td>``),
   ``dt``/``dd``, ``label``/``span``, ``<b>Origin Country</b>`` + cell, or "Vendor: name" in one text.
   The label words per field live in ``data/page_labels.yaml``. Form controls (search sidebars with
   "Origin country:" next to a ``select``) are never values.
2. **Cards.** A page with several links of one listing-like pattern (``/product/…``, ``/listing/…``,
   ``product.php?id=``) is a category or search page: each card (the largest block around one such link
   that holds no other) yields a row with its title (the link text), price, vendor link and labelled
   origin.
3. **A listing page** has one title (a ``*title*`` element, else ``h1``/``h2``, else ``<title>`` without the
   site name), a price (labelled, else a ``*price*`` element, else the first price in the page's
   main text), a vendor (labelled, else a vendor/profile link), ships from/to (labelled), quantity,
   category (breadcrumb or label) and the description (labelled block, else the largest text block).
4. The NLP pipeline fills what structure left open (ships-from from "Ships from Sweden" in the text),
   and reads substance, quantity and per-unit price (``extractors.listing``) from title + description.

Returned ``fields`` use the adapter field names (title, price, currency, vendor, ships_from, ships_to,
quantity, category, description), so items flow through the same crawl pipeline as adapter items.
"""

from __future__ import annotations

import re
from collections import Counter
from copy import deepcopy
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html

from extractors.matching import DATA, load_yaml
from extractors.normalise import country_code, find_prices

_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head"}
_FORM_TAGS = {"select", "option", "input", "button", "textarea", "form", "optgroup"}
_SPACE = re.compile(r"\s+")
_TITLE_SEP = re.compile(r"\s+(?:[-|–—:»]|::)\s+")
_MIN_TITLE, _MAX_TITLE = 4, 240
_PER = re.compile(r"\s*(?:/|per)\s*(g|gr|gram|st|pcs|pc|piece|item|unit|pill|tab)\b", re.I)
_NAME = re.compile(r"@?[\w.\-]{2,40}(?: [\w.\-]{2,20})?")


@lru_cache(maxsize=1)
def labels() -> dict[str, Any]:
    data = load_yaml(DATA / "page_labels.yaml")
    table: dict[str, str] = {}
    rank: dict[str, int] = {}
    for field, words in data["labels"].items():
        for i, w in enumerate(words):
            table.setdefault(_norm_label(str(w)), field)
            rank.setdefault(_norm_label(str(w)), i)
    return {"table": table, "rank": rank, "vendor_links": [s.lower() for s in data["vendor_links"]],
            "listing_links": [s.lower() for s in data["listing_links"]]}


def _norm_label(text: str) -> str:
    return _SPACE.sub(" ", text).strip().strip(":：*").strip().lower()


def _text(el: Any) -> str:
    if el is None:
        return ""
    parts = []
    for node in el.iter():
        if node is not el and (not isinstance(node.tag, str) or node.tag in _SKIP_TAGS | _FORM_TAGS):
            continue
        if isinstance(node.tag, str) and node.text and node.tag not in _SKIP_TAGS | _FORM_TAGS:
            parts.append(node.text)
        if node is not el and node.tail:
            parts.append(node.tail)
    return _SPACE.sub(" ", " ".join(parts)).strip()


def _own_text(el: Any) -> str:
    return _SPACE.sub(" ", el.text or "").strip()


def _is_form(el: Any) -> bool:
    return isinstance(el.tag, str) and (el.tag in _FORM_TAGS or any(c.tag in _FORM_TAGS for c in el.iter() if isinstance(c.tag, str)))


# ------------------------------------------------------------------ label pairs


def label_pairs(root: Any) -> list[tuple[str, str, Any]]:
    """(field, value text, value element) for every labelled value under ``root``: in document order,
    except that a more specific label of a field comes first (see data/page_labels.yaml)."""
    table, rank = labels()["table"], labels()["rank"]
    ranked: list[tuple[int, int, tuple[str, str, Any]]] = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP_TAGS | _FORM_TAGS:
            continue
        own = _own_text(el)
        if not own or len(own) > 60:
            continue
        field = table.get(_norm_label(own))
        if field is None:
            m = re.match(r"^\s*([^:：]{2,30})[:：]\s*(\S.{0,200})$", own)
            if m and table.get(_norm_label(m.group(1))):  # "Vendor: name" in one text
                key = _norm_label(m.group(1))
                ranked.append((rank[key], len(ranked), (table[key], m.group(2).strip(), el)))
            continue
        value, vel = _value_after(el)
        if value:
            ranked.append((rank[_norm_label(own)], len(ranked), (field, value, vel)))
    return [pair for _, _, pair in sorted(ranked, key=lambda t: (t[0], t[1]))]


def _value_after(el: Any) -> tuple[str, Any]:
    """The value printed after a label element: the rest of its parent's text after it, its next
    non-empty sibling, or the next sibling of its parent (table cells, dt/dd, label/span)."""
    inner = _text(el)
    own = _own_text(el)
    if len(el) and inner.startswith(own):  # <p>Sold by <b>-</b> <a>name</a></p>
        rest = inner[len(own):].strip(" :：-–")
        if re.search(r"\w", rest):
            return rest, el
    tail = _SPACE.sub(" ", el.tail or "").strip(" :：-–")
    if tail:
        return tail, el
    for sib in el.itersiblings():
        if not isinstance(sib.tag, str) or sib.tag in _SKIP_TAGS:
            continue
        if _is_form(sib):
            return "", None
        t = _text(sib)
        if re.search(r"\w", t):
            return t, sib
        if sib.tail and sib.tail.strip():
            return sib.tail.strip(), sib
    for sib in el.itersiblings(preceding=True):  # <dd class="order-first"> printed before its <dt>
        if isinstance(sib.tag, str) and sib.tag == "dd" and el.tag == "dt":
            return _text(sib), sib
    parent = el.getparent()
    if parent is not None and _norm_label(_text(parent)) == _norm_label(_own_text(el)):
        for sib in parent.itersiblings():
            if not isinstance(sib.tag, str) or sib.tag in _SKIP_TAGS:
                continue
            if _is_form(sib):
                return "", None
            t = _text(sib)
            if t:
                return t, sib
            break
    return "", None


# ------------------------------------------------------------------ links


def _link_kind(href: str) -> str | None:
    low = href.lower()
    data = labels()
    if any(s in low for s in data["listing_links"]):
        return "listing"
    if any(s in low for s in data["vendor_links"]):
        return "vendor"
    return None


def _vendor_name(a: Any) -> str | None:
    text = _text(a)
    href = a.get("href") or ""
    m = re.search(r"(?:/@|/u/|/vendor/|/seller/|/user/|/users/|/profile/|/saljare/|/store/|/shop/|/v/)([\w.\-]{2,40})", href, re.I) \
        or re.search(r"(?:login|member|user|vendor|seller)=([\w.\-]{2,40})", href, re.I)
    if text and 2 <= len(text) <= 40 and not re.search(r"\s{2,}|contact|message|profile|send|view|favorite", text, re.I):
        return text.lstrip("@")
    name = m.group(1) if m else None
    return None if name is None or re.search(r"\.(?:php|html?|aspx?)$", name, re.I) else name


_LISTING_WORDS = {"product", "products", "listing", "listings", "item", "items", "offer", "offers", "annons", "produkt", "p"}


def _pattern(href: str) -> str:
    """A link's shape: path with ids replaced, so /product/35791/105/186765 and /product/1/2/3 agree."""
    parts = urlsplit(href)
    segs = parts.path.lower().split("/")
    # ids and slugs after a listing word or after the first segment: /product/alina ~ /product/ak-47-blueprints
    keyed = len(segs) > 2 and segs[1] in _LISTING_WORDS
    segs = [s if i < 2 or not (keyed or re.search(r"\d|-|_|.{13,}", s)) else "#" for i, s in enumerate(segs)]
    path = re.sub(r"[0-9a-f]{16,}|\d+", "#", "/".join(segs))
    query = re.sub(r"=[^&]*", "=#", parts.query.lower())
    return f"{path}?{query}" if query else path


# ------------------------------------------------------------------ pages


def extract_page(html: str | bytes, url: str = "") -> dict[str, Any]:
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    try:
        doc = lxml.html.fromstring(html or "<html></html>")
    except (ValueError, lxml.etree.ParserError):  # type: ignore[attr-defined]
        return {"page_type": "other", "items": [], "evidence": ["unparseable"]}
    head_title = _SPACE.sub(" ", " ".join(doc.xpath("//title//text()"))).strip()
    for bad in doc.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    body = doc.find("body") if doc.find("body") is not None else doc
    if body.xpath(".//input[@type='password']") and not find_prices(_text(body)[:5000]):
        return {"page_type": "login", "items": [], "evidence": ["password field"]}
    cards = _cards(body, url)
    # a listing page may show the vendor's other listings as cards: read it without them
    rest = _without(body, [c.pop("_path") for c in cards]) if len(cards) >= 3 else body
    for c in cards:
        c.pop("_path", None)
    buy = _buy_cue(rest)
    listing = _listing(rest, url, head_title, need_buy=not buy)
    titles = {c["fields"].get("title") for c in cards}
    if listing is not None and (buy or listing["fields"].get("title") not in titles):
        return {"page_type": "listing", "items": [listing], "evidence": [*listing.pop("_evidence"), *buy]}
    if len(cards) >= 3:
        return {"page_type": "category", "items": cards, "evidence": [f"{len(cards)} listing cards"]}
    return {"page_type": "other", "items": [], "evidence": []}


_BUY = re.compile(r"^\s*(?:buy(?: now| it now)?|add to (?:cart|basket)|purchase|order(?: now)?|köp(?: nu)?|lägg i (?:varukorgen|kundvagnen)|"
                  r"beställ(?: nu)?|in den warenkorb|jetzt kaufen|kaufen)\s*!?\s*$", re.I)
_QTY_LABEL = re.compile(r"^\s*(?:qty|quantity|antal|mängd|purchase price)\s*[:*]?\s*$", re.I)


def _buy_cue(body: Any) -> list[str]:
    """Evidence that a page sells one item: one buy / add-to-cart control (a category page has one per
    card) or a quantity field."""
    buttons = [t for t in ((_text(el) if el.tag != "input" else (el.get("value") or "")) for el in body.iter("button", "input", "a"))
               if t and _BUY.match(t)]
    if len(buttons) > 2:
        return []
    if buttons:
        return [f"buy:{buttons[0].strip()[:30]}"]
    for el in body.iter("label", "b", "strong", "form", "span", "td", "dt"):
        if _QTY_LABEL.match(_own_text(el) or ""):
            return [f"buy:{_own_text(el)[:30]}"]
    return []


def _cards(body: Any, url: str) -> list[dict[str, Any]]:
    links = [a for a in body.iter("a") if a.get("href") and _link_kind(a.get("href")) == "listing"]
    by_shape = Counter(_pattern(a.get("href")) for a in links)
    best: list[dict[str, Any]] = []
    for shape, n in by_shape.most_common(4):
        hrefs = {a.get("href") for a in links if _pattern(a.get("href")) == shape}
        if n < 3 or len(hrefs) < 3:
            continue
        rows = _cards_of(links, shape, url)
        priced = [r for r in rows if r["fields"].get("price") is not None]
        if len(priced) >= 3 and len(priced) > len([r for r in best if r["fields"].get("price") is not None]):
            best = rows
    return best


def _cards_of(links: list[Any], shape: str, url: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for href in dict.fromkeys(a.get("href") for a in links if _pattern(a.get("href")) == shape):
        anchors = [a for a in links if a.get("href") == href]
        card = anchors[0]
        while card.getparent() is not None:  # grow while the block holds no other listing link
            parent = card.getparent()
            other = {a.get("href") for a in parent.iter("a") if a.get("href") and _pattern(a.get("href")) == shape}
            if other - {href}:
                break
            card = parent
        path = card.getroottree().getpath(card)  # (id() of lxml proxies is reused)
        if path in seen:
            continue
        seen.add(path)
        title = _card_title(anchors)
        if len(title) < 2:
            continue
        fields: dict[str, Any] = {"title": title[:_MAX_TITLE], "listing_url": urljoin(url, href)}
        pairs = label_pairs(card)
        _apply_pairs(fields, pairs)
        if "price_text" not in fields:
            price = _price_element(card, None) or _first_price(_text(card).replace(title, " "))
            if price:
                fields["price_text"] = price
        vendor = next((v for v in (_vendor_name(a) for a in card.iter("a") if a.get("href") and _link_kind(a.get("href")) == "vendor") if v), None)
        if vendor and "vendor" not in fields:
            fields["vendor"] = vendor
        _finish(fields)
        rows.append({"type": "listing", "url": fields["listing_url"], "fields": fields, "_path": path})
    return rows


def _without(body: Any, paths: list[str]) -> Any:
    """A copy of ``body`` without the elements at ``paths`` (the cards)."""
    tree = body.getroottree()
    copy = deepcopy(tree.getroot())
    copied = copy.getroottree()
    found = [el for path in paths for el in copied.xpath(path)[:1]]  # resolve all before dropping any
    for el in found:
        if el.getparent() is not None:
            el.drop_tree()
    return copy.find("body") if copy.find("body") is not None else copy


def _card_title(anchors: list[Any]) -> str:
    """A card's title: a heading or ``*title*`` element inside its links, else the longest link text."""
    for a in anchors:
        for el in a.iter():
            if isinstance(el.tag, str) and (el.tag in ("h1", "h2", "h3", "h4", "h5") or "title" in (el.get("class") or "").lower()):
                t = _text(el)
                if len(t) >= 2:
                    return t
    return max((_text(a) for a in anchors), key=len, default="")


def _listing(body: Any, url: str, head_title: str, need_buy: bool = False) -> dict[str, Any] | None:
    evidence: list[str] = []
    pairs = label_pairs(body)
    fields: dict[str, Any] = {}
    title = _title(body, head_title)
    if title:
        fields["title"] = title
    _apply_pairs(fields, pairs)
    evidence += sorted({f"label:{f}" for f, _, _ in pairs})
    if "price_text" not in fields:
        price = _price_element(body, title) or _first_price(_main_text(body, title))
        if price:
            fields["price_text"] = price
            evidence.append("price:text")
    if "vendor" not in fields:
        vendor = _vendor_link(body, title)
        if vendor:
            fields["vendor"] = vendor
            evidence.append("vendor:link")
    if "description" not in fields:
        desc = _largest_block(body, title)
        if desc:
            fields["description"] = desc
    if "category" not in fields:
        crumb = body.xpath(".//*[contains(translate(@class,'BREADCRUMB','breadcrumb'),'breadcrumb') or contains(@class,'brodsmulor')]")
        if crumb:
            fields["category"] = _text(crumb[0])[:200]
    _finish(fields)
    if not fields.get("title") or not fields.get("price"):  # a 0.00 price is an empty cart, not a listing
        return None
    if need_buy and not (fields.get("ships_from") and fields.get("vendor")):
        return None
    fields["_evidence"] = evidence
    return {"type": "listing", "url": url, "fields": fields, "_evidence": evidence}


def _apply_pairs(fields: dict[str, Any], pairs: list[tuple[str, str, Any]]) -> None:
    for field, value, el in pairs:
        if field in fields or (field + "_text") in fields:
            continue
        if field == "price":
            price = _first_price(value) or (_first_price(value + " " + _text(el.getparent())) if el is not None and el.getparent() is not None else None)
            if price:
                fields["price_text"] = price
        elif field == "vendor":
            links = [el] if el is not None and el.tag == "a" else (el.findall(".//a") if el is not None else [])
            a = next((x for x in links if x.get("href") and _link_kind(x.get("href")) == "vendor"), None)
            if (a is None and links) or len(links) >= 3:  # a menu of links ("Sales Reviews Items") names no vendor
                continue
            name = _vendor_name(a) if a is not None else None
            value = name or value.split("(")[0].strip()
            if value and (name or _NAME.fullmatch(value)):  # a name, not "Sales Reviews Items" of a menu
                fields["vendor"] = value
        elif field in ("ships_from", "ships_to"):
            if field == "ships_from" and country_code(value) is None and not _looks_place(value):
                continue
            fields[field] = value[:200]
        elif field == "description":
            if len(value) >= 20:
                fields["description"] = value[:20000]
        else:
            fields[field] = value[:200]


def _looks_place(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-zÀ-ÿ .,'()\-]{2,40}", value)) and country_code(value.split(",")[0]) is not None


def _finish(fields: dict[str, Any]) -> None:
    text = fields.pop("price_text", None)
    if text:
        found = find_prices(text)
        if found:
            fields["price"] = found[0].amount
            fields["currency"] = found[0].currency
            fields["price_raw"] = text
            per = _PER.match(text, found[0].end)
            if per:  # "195.00 USD / g": the page's own price per gram (or per unit)
                fields["price_per"] = "g" if per.group(1).lower().startswith("g") else "unit"


def _first_price(text: str) -> str | None:
    found = find_prices(text or "")
    if not found:
        return None
    p = found[0]
    return text[p.start : min(len(text), p.end + 6)]


def _title(body: Any, head_title: str) -> str | None:
    cands: list[str] = []
    for el in body.xpath(".//*[contains(translate(@class,'TITLE','title'),'title') or contains(translate(@id,'TITLE','title'),'title')"
                         " or contains(@class,'produktnamn') or contains(@class,'annons-titel')]"):
        if el.tag in ("a", "title") or _is_form(el):
            continue
        t = _text(el)
        if _MIN_TITLE <= len(t) <= _MAX_TITLE and _norm_label(t) not in labels()["table"]:
            cands.append(t)
    headings = []
    for tag in ("h1", "h2", "h3"):
        for el in body.iter(tag):
            t = _text(el)
            if _MIN_TITLE <= len(t) <= _MAX_TITLE and _norm_label(t) not in labels()["table"] and not _is_form(el):
                headings.append(t)
    parts = [p.strip() for p in _TITLE_SEP.split(head_title) if p.strip()]
    for part in parts if len(parts) > 1 else []:  # the <title> part a heading repeats is the page's own
        for c in [*cands, *headings]:
            if c.strip() == part:
                return c
    site = _site_name(head_title)
    cands += [h for h in headings if h.lower() != (site or "").lower()]
    page = _page_part(head_title, site)
    if page:
        for c in cands:  # the heading that repeats the <title>'s page part
            if c.strip() == page or (len(page) > 8 and page in c):
                return c
    if cands:
        return cands[0]
    return page


_SITE_WORDS = re.compile(r"market|shop|store|marknad|bazaar|forum|butik", re.I)


def _site_name(head_title: str) -> str | None:
    """The site's part of "<page> :: HANSA Market" / "Nexus Market - LSD": the end part that names a
    market or shop, else the shorter end part."""
    parts = [p.strip() for p in _TITLE_SEP.split(head_title) if p.strip()]
    if len(parts) < 2:
        return None
    ends = [parts[0], parts[-1]]
    named = [p for p in ends if _SITE_WORDS.search(p)]
    return named[0] if named else min(ends, key=len)


def _page_part(head_title: str, site: str | None) -> str | None:
    parts = [p.strip() for p in _TITLE_SEP.split(head_title) if p.strip()]
    if len(parts) > 1:
        rest = [p for p in parts if p != site]
        return " - ".join(rest) if rest else None
    return None


def _price_element(body: Any, title: str | None) -> str | None:
    """The first ``*price*`` element after the title (a cart total in the header comes before it)."""
    after = _after_title(body, title)
    for el in body.xpath(".//*[contains(translate(@class,'PRICE','price'),'price') or contains(@class,'pris')]"):
        if _is_form(el) or (after is not None and el not in after):
            continue
        p = _first_price(_text(el))
        if p:
            return p
    return None


def _after_title(body: Any, title: str | None) -> set[Any] | None:
    """The elements after the first one that shows the title, or None when no element shows it."""
    if not title:
        return None
    out: set[Any] = set()
    started = False
    for el in body.iter():
        if started:
            out.add(el)
        elif isinstance(el.tag, str) and title in _own_text(el):
            started = True
    return out if started else None


def _main_text(body: Any, title: str | None) -> str:
    text = _text(body)
    if title and title in text:
        text = text[text.index(title) + len(title):]
    return text[:4000]


def _vendor_link(body: Any, title: str | None) -> str | None:
    started = title is None
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if not started and title and title in _own_text(el):
            started = True
            continue
        if started and el.tag == "a" and el.get("href") and _link_kind(el.get("href")) == "vendor":
            name = _vendor_name(el)
            if name:
                return name
    return None


def _largest_block(body: Any, title: str | None) -> str | None:
    best, best_len = None, 0
    for el in body.xpath(".//p|.//pre|.//div[not(.//div)]|.//td[not(.//table)]"):
        if _is_form(el):
            continue
        t = _text(el)
        links = sum(len(_text(a)) for a in el.iter("a"))
        if len(t) > best_len and links < 0.3 * max(len(t), 1) and (not title or t != title):
            best, best_len = t, len(t)
    return best if best and best_len >= 40 else None


def ships_code(value: str | None) -> str | None:
    """'United States' -> US, 'World Wide' -> WW, 'Germany, Austria' -> DE (the first place)."""
    if not value:
        return None
    code = country_code(value)
    if code:
        return code
    first = re.split(r"[,;/|]| and | och ", value)[0]
    return country_code(first)


def link_priority(href: str) -> int:
    """Crawl order for the generic spider: listing links first, then other pages, vendor profiles last."""
    kind = _link_kind(href)
    return 2 if kind == "listing" else 0 if kind == "vendor" else 1
