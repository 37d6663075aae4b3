"""Invalid-page classifier: is this response a DDoS queue, a captcha, a login wall, a ban or a rate limit?

``classify`` applies a site adapter's own detectors first, then the built-in generic set from
``crawler/sites/_generic_detectors.yaml`` (same schema, see that file for the rules and their order).
The first detector that fires wins; ``None`` means the page is a normal page and may be indexed.

It never raises on page content: broken HTML, binary bodies, bad encodings and huge bodies are fine.
Only the first ``max_bytes`` (256 KiB) of the body are inspected, after squeezing inline ``data:`` URIs
out of the first MiB (interstitials are small but often carry big inline images).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from lxml.cssselect import CSSSelector
from pydantic import TypeAdapter, ValidationError
from w3lib.encoding import html_to_unicode

from crawler.adapters import SITES_DIR, AdapterError, Detector, Matcher
from crawler.compiled import css_query, xpath_query
from crawler.textmatch import fold, may_match

GENERIC_DETECTORS_PATH = SITES_DIR / "_generic_detectors.yaml"
MAX_INSPECT_BYTES = 256 * 1024
_PRESCAN_BYTES = 1024 * 1024
_DATA_URI = re.compile(rb"data:[\w/+.-]{1,64};base64,[A-Za-z0-9+/=\s]{256,}")
_SNIPPET = 60

Headers = Mapping[Any, Any]  # str|bytes names -> str|bytes (or a list of them, as Scrapy's Headers)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a page is invalid and what the crawler should do about it."""

    kind: str  # ddos | captcha | login | ban | rate_limit
    reaction: str  # wait | render | stop | backoff | rotate
    source: str  # "adapter" or "generic"
    index: int  # index of the detector in its list (adapter.detectors or the generic file)
    matcher: int  # index of the matcher within the detector's `any`
    condition: str  # readable: which conditions held, with the matched text
    wait_seconds: float = 5.0
    max_retries: int = 5
    structural: bool = True  # False: only text/title conditions fired (words a seller can write)

    def describe(self) -> str:
        return f"{self.kind} -> {self.reaction} ({self.source} detector #{self.index}.{self.matcher}: {self.condition})"


def _guess_encoding(raw: bytes) -> str:
    try:
        raw[:-4].decode("utf-8")  # the cap may cut the last character in half
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _decode(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_decode(v) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return str(value)


class _Page:
    """One response, parsed lazily and at most once."""

    def __init__(self, status: int, headers: Headers | None, body: bytes | str, max_bytes: int,
                 tree: Any | None = None) -> None:
        self.status = status
        self.headers = {_decode(k).lower(): _decode(v) for k, v in (headers or {}).items()}
        self._body = body
        self._max_bytes = max_bytes
        self._css_hits: dict[str, bool] = {}
        # the spider's parse of this very body (crawler/page_tree.py), read without changing it
        self._tree = tree
        self._shared_text: str | None = None
        if tree is not None:
            pieces: list[str] = []
            if _visible_pieces(tree, pieces, 0):
                self._shared_text = " ".join(" ".join(pieces).split())
            else:  # deeper than the detectors' own parser goes: read the page the detectors' way
                self._tree = None

    @cached_property
    def html_bytes(self) -> bytes:
        head = self._body[:_PRESCAN_BYTES]
        raw = head.encode("utf-8", "replace") if isinstance(head, str) else bytes(head)
        raw = _DATA_URI.sub(b"data:,", raw)[: self._max_bytes]
        # Valid UTF-8 wins (non-ASCII bytes that decode as UTF-8 are almost never anything else, whatever the
        # page declares); otherwise BOM, Content-Type, <meta charset>, else cp1252. Never raises.
        if _guess_encoding(raw) == "utf-8":
            text = raw.decode("utf-8", "replace")
        else:
            _, text = html_to_unicode(self.headers.get("content-type"), raw, auto_detect_fun=_guess_encoding)
        # Re-encode as clean UTF-8 so the parser never trips over a bad or lying charset declaration.
        return text.replace("\x00", "").encode("utf-8", "replace")

    @cached_property
    def doc(self) -> Any | None:
        """The parsed tree with script/style/template removed (they are not visible), or None."""
        if not self.html_bytes.strip():
            return None
        parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
        try:
            root = etree.fromstring(self.html_bytes, parser=parser)
        except (etree.ParserError, etree.XMLSyntaxError, ValueError):
            return None
        if root is None:
            return None
        etree.strip_elements(root, "script", "style", "template", with_tail=False)
        return root

    @cached_property
    def text(self) -> str:
        """Visible text (the title included), whitespace collapsed to single spaces."""
        if self._shared_text is not None:
            return self._shared_text
        if self.doc is None:
            return ""
        return " ".join(" ".join(self.doc.itertext()).split())

    @cached_property
    def folded_text(self) -> str:
        """The text case-folded once, for every pattern's literal check (crawler/textmatch.py)."""
        return fold(self.text)

    @cached_property
    def title(self) -> str:
        if self._tree is not None:
            found = self._tree.find(".//title")
            return " ".join(_leading_text(found).split()) if found is not None else ""
        if self.doc is None:
            return ""
        return " ".join((self.doc.findtext(".//title") or "").split())

    @cached_property
    def _names(self) -> tuple[frozenset[str], frozenset[str]]:
        """The class tokens and ids on the page (a superset of those of its visible elements)."""
        root = self._tree if self._tree is not None else self.doc
        classes = frozenset(_XML_SPACE.split(" ".join(_CLASSES(root))))  # one split for the whole page
        return classes, frozenset(_IDS(root))

    def _may_have(self, selector: str) -> bool:
        """False when no element can match: every alternative needs a class, id or tag the page lacks."""
        needs = _css_needs(selector)
        if needs is None:
            return True
        root = self._tree if self._tree is not None else self.doc
        classes, ids = self._names
        return any((ident is None or ident in ids) and all(c in classes for c in wanted)
                   and (tag is None or next(root.iter(tag), None) is not None) for tag, ident, wanted in needs)

    def has(self, selector: str, compiled: Any = None) -> bool:
        if selector not in self._css_hits and (self._tree is not None or self.doc is not None) \
                and not self._may_have(selector):
            self._css_hits[selector] = False  # a normal page: no queue, captcha or login element at all
        if selector not in self._css_hits:
            query = compiled if compiled is not None else _css(selector)
            if self._tree is not None and not _POSITIONAL.search(selector):
                # script/style are not in the detectors' tree; with no sibling or position selectors,
                # leaving them out of the hits is the same as removing them
                hit = any(el.tag not in _INVISIBLE for el in query(self._tree))
            else:
                hit = self.doc is not None and bool(query(self.doc))
            self._css_hits[selector] = hit
        return self._css_hits[selector]

    def blocking(self, compiled: Any, max_other_text: int) -> str | None:
        """Why the first element ``compiled`` selects is the page's main content (a challenge page), or None
        when it is a small part of a normal page: the text outside its form (or itself, outside a form) is
        at most ``max_other_text`` characters, or that form holds at least half of the page's text."""
        if self.doc is None:
            return None
        total = len(self.text)
        for element in compiled(self.doc):
            form = next((a for a in element.iterancestors() if a.tag == "form"), None)
            scope = form if form is not None else element
            own = len(" ".join(" ".join(scope.itertext()).split()))
            other = max(0, total - own)
            if other <= max_other_text:
                return f"{other} characters of other text <= {max_other_text}"
            if form is not None and own * 2 >= total:
                return f"its form holds {own} of {total} characters"
        return None

    def normal_structure(self, structure: PageStructure) -> str | None:
        """What of the site's normal structure this page has (a logged-in marker, most of the page type's
        fields), or None."""
        if self.doc is None:
            return None
        for selector in structure.logged_in:
            if self.has(selector):
                return f"the logged-in marker {selector!r}"
        for name, match in structure.matches:
            if match.holds(self.doc, lambda: self.text):
                return f"the {name} page's content ({match.css or match.xpath!r})"
        if len(structure.fields) < MIN_STRUCTURE_FIELDS:
            return None
        found = [name for name, kind, query in structure.fields if _first_present(query, kind, self.doc)]
        if len(found) >= max(MIN_STRUCTURE_FIELDS, (len(structure.fields) + 1) // 2):
            return f"{len(found)} of {len(structure.fields)} {structure.page_type} fields ({', '.join(found[:6])})"
        return None


_INVISIBLE = frozenset({"script", "style", "template"})
_CLASSES = etree.XPath("//@class", smart_strings=False)
_IDS = etree.XPath("//@id", smart_strings=False)
_XML_SPACE = re.compile(r"[ \t\r\n]+")  # what XPath's normalize-space splits class lists on


@lru_cache(maxsize=1024)
def _css_needs(selector: str) -> tuple[tuple[str | None, str | None, tuple[str, ...]], ...] | None:
    """Per alternative of a CSS selector, the (tag, id, classes) its matched element must have; None when
    some alternative is not that simple (pseudo-classes, namespaces …: the selector is then always run)."""
    from cssselect import parse
    from cssselect.parser import Attrib, Class, CombinedSelector, Element, Hash, SelectorError

    try:
        parsed = parse(selector)
    except SelectorError:
        return None
    needs = []
    for alternative in parsed:
        if alternative.pseudo_element is not None:
            return None
        node, tag, ident, classes = alternative.parsed_tree, None, None, []
        while not isinstance(node, Element):
            if isinstance(node, CombinedSelector):
                node = node.subselector  # the element matched is the rightmost compound's
            elif isinstance(node, Class):
                classes.append(node.class_name)
                node = node.selector
            elif isinstance(node, Hash):
                ident = node.id
                node = node.selector
            elif isinstance(node, Attrib):
                node = node.selector  # attribute conditions are left to the query itself
            else:
                return None
        if node.namespace is not None:
            return None
        tag = node.element.lower() if node.element else None
        needs.append((tag, ident, tuple(classes)))
    return tuple(needs)
_POSITIONAL = re.compile(r"[+~]|:(nth|first|last|only|empty|root|contains|has)")


def _removed(node: Any) -> bool:
    """Not in the detectors' own tree: comments and processing instructions (dropped by their parser),
    script, style and template (stripped, their tails kept)."""
    return not isinstance(node.tag, str) or node.tag in _INVISIBLE


def _visible_pieces(element: Any, out: list[str], depth: int) -> bool:
    """The text pieces ``itertext`` would give on the detectors' tree, read from the full tree: the tail
    of a removed node joins the text before it, as it does when the node is dropped or stripped.
    False when the tree is deeper than the detectors' parser (no huge_tree) would keep."""
    if depth > 250:
        return False
    slot = element.text or ""
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _INVISIBLE:  # _removed(child), inlined: once per element
            slot += child.tail or ""
            continue
        if slot:
            out.append(slot)
        if not _visible_pieces(child, out, depth + 1):
            return False
        slot = child.tail or ""
    if slot:
        out.append(slot)
    return True


def _leading_text(element: Any) -> str:
    """``element.text`` as it reads once removed nodes are gone (findtext gives the text up to the first
    remaining child)."""
    text = element.text or ""
    for child in element:
        if not _removed(child):
            break
        text += child.tail or ""
    return text


# The logged-in marker when an adapter names none: a logout link or form (as in the generic login rules).
DEFAULT_LOGGED_IN = ("a[href*=logout], a[href*=signout], a[href*=sign_out], a[href*=log_out], form[action*=logout]",)
MIN_STRUCTURE_FIELDS = 2


@dataclass(frozen=True)
class PageStructure:
    """A site's normal page of one type: logged-in markers and the CSS/XPath of the fields it carries."""

    page_type: str
    logged_in: tuple[str, ...] = DEFAULT_LOGGED_IN
    fields: tuple[tuple[str, str, str], ...] = ()  # (field name, "css" | "xpath", selector)
    # (page type, its `match:`) with an element condition: a page recognised by content is the site's own
    matches: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, adapter: Any, page_type: str | None) -> PageStructure:
        markers = tuple(adapter.session.logged_in_css) or DEFAULT_LOGGED_IN
        spec = adapter.pages.get(page_type or "")
        fields: list[tuple[str, str, str]] = []
        if spec is not None:
            if spec.rows:
                fields.append(("rows", "css", spec.rows))
            else:
                fields += [(name, "css", f.css) if f.css else (name, "xpath", f.xpath or "")
                           for name, f in spec.fields.items() if f.css or f.xpath]
        # the URL may not say which page this is: any page type recognised by its elements counts
        matches = tuple((name, p.match) for name, p in adapter.pages.items()
                        if p.match is not None and (p.match.css or p.match.xpath))
        return cls(page_type or "", markers, tuple(fields), matches)


def _first_present(query: str, kind: str, doc: Any) -> bool:
    """Does the field's (compiled, cached) query give a first result that is an element or non-empty text?"""
    try:
        results = (css_query(query) if kind == "css" else xpath_query(query))(doc)
    except ValueError:
        return False
    return bool(results) and (not isinstance(results[0], str) or results[0] != "")


@lru_cache(maxsize=1024)
def _css(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


def _search(pattern: str, compiled: re.Pattern[str], text: str, folded: str) -> re.Match[str] | None:
    """``compiled.search(text)`` (``pattern`` compiled case-insensitively at load), skipped when none of the
    pattern's literals is in the folded text (then it cannot match): a normal page costs a few substring
    checks instead of every regex."""
    if not may_match(pattern, folded):
        return None
    return compiled.search(text)


def _snippet(match: re.Match[str]) -> str:
    found = match.group(0)
    return found if len(found) <= _SNIPPET else found[: _SNIPPET - 1] + "…"


def _structural(m: Matcher) -> bool:
    """Does the matcher look at the page's structure (status, headers, elements), not only at its words?"""
    return m.status is not None or bool(m.header) or m.css is not None


def _match(m: Matcher, page: _Page) -> str | None:
    """The readable condition if every condition of ``m`` holds, else None. Cheap checks come first."""
    parts: list[str] = []
    positive = False
    if m.status is not None:
        if page.status not in m.status:
            return None
        parts.append(f"status={page.status}")
        positive = True
    if m.header:
        for name in m.header:
            value = page.headers.get(name.lower())
            found = m.rx(f"header:{name.lower()}").search(value) if value is not None else None
            if found is None:
                return None
            parts.append(f"header {name}: {value[:_SNIPPET]!r}")
        positive = True
    if m.max_text_len is not None and len(page.text) > m.max_text_len:
        return None
    if m.title is not None:
        found = _search(m.title, m.rx("title"), page.title, fold(page.title))
        if found is None:
            return None
        parts.append(f"title ~ /{m.title}/ matched {_snippet(found)!r}")
        positive = True
    if m.css is not None:
        if not page.has(m.css, m.selector("css")):
            return None
        if m.blocking:
            blocking = page.blocking(m.selector("css"), m.max_other_text)
            if blocking is None:
                return None  # a small form on a normal page (a vendor's "send message" captcha)
            parts.append(f"css {m.css!r} is the page's main content ({blocking})")
        else:
            parts.append(f"css {m.css!r}")
        positive = True
    if m.text is not None:
        found = _search(m.text, m.rx("text"), page.text, page.folded_text)
        if found is None:
            return None
        parts.append(f"text matched {_snippet(found)!r}")
        positive = True
    if not positive:
        return None  # only negative conditions (or none): never fire on everything
    if m.not_css is not None:
        if page.has(m.not_css, m.selector("not_css")):
            return None
        parts.append(f"no {m.not_css!r}")
    if m.not_text is not None:
        if _search(m.not_text, m.rx("not_text"), page.text, page.folded_text):
            return None
        parts.append(f"text !~ /{m.not_text}/")
    if m.max_text_len is not None:
        parts.append(f"text length {len(page.text)} <= {m.max_text_len}")
    return "; ".join(parts)


def _first(detectors: Iterable[Detector], page: _Page, source: str, structure: PageStructure | None,
           overruled: list[str] | None) -> Verdict | None:
    for index, detector in enumerate(detectors):
        for mi, matcher in enumerate(detector.any):
            condition = _match(matcher, page)
            if condition is None:
                continue
            structural = _structural(matcher)
            if not structural and structure is not None:
                normal = page.normal_structure(structure)
                if normal is not None:
                    # words alone (a seller's "captcha", "please login") never beat the site's own structure
                    if overruled is not None:
                        overruled.append(f"{detector.kind} ({source} detector #{index}.{mi}: {condition}) "
                                         f"overruled: the page has {normal}")
                    continue
            return Verdict(
                kind=detector.kind,
                reaction=detector.effective_reaction,
                source=source,
                index=index,
                matcher=mi,
                condition=condition,
                wait_seconds=detector.wait_seconds,
                max_retries=detector.max_retries,
                structural=structural,
            )
    return None


def load_detectors(path: str | Path) -> list[Detector]:
    """A YAML list of Detector entries; AdapterError naming the file and field when malformed."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AdapterError(f"{path}: cannot load detectors: {exc}") from exc
    try:
        return TypeAdapter(list[Detector]).validate_python(raw)
    except ValidationError as exc:
        fields = "; ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors())
        raise AdapterError(f"{path}: invalid detectors: {fields}") from None


@cache
def generic_detectors() -> tuple[Detector, ...]:
    """The built-in generic set, loaded once."""
    return tuple(load_detectors(GENERIC_DETECTORS_PATH))


def classify(
    status: int,
    headers: Headers | None,
    body: bytes | str | None,
    detectors: Sequence[Detector] = (),
    *,
    generic: Sequence[Detector] | None = None,
    max_bytes: int = MAX_INSPECT_BYTES,
    structure: PageStructure | None = None,
    overruled: list[str] | None = None,
    tree: Any | None = None,
) -> Verdict | None:
    """Classify one response. ``detectors`` are the adapter's own (tried first); ``generic`` defaults to
    the built-in set (pass ``()`` to disable it). Returns None for a normal page.

    With ``structure`` (the site's normal page, see :class:`PageStructure`), a matcher that fired on words
    only (``text``/``title``) is ignored when the page has that structure; why is appended to ``overruled``.
    ``tree``: the spider's lxml parse of this same body (crawler/page_tree.py), so the page is parsed once."""
    page = _Page(status, headers, body or b"", max_bytes, tree)
    verdict = _first(detectors, page, "adapter", structure, overruled)
    if verdict is None:
        verdict = _first(generic_detectors() if generic is None else generic, page, "generic", structure, overruled)
    return verdict
