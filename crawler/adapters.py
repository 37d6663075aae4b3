"""Site adapters: one YAML file per site under ``crawler/sites/``. Markets are configuration, not code.

A malformed adapter raises :class:`AdapterError` naming the file and the field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from crawler.compiled import Query, css_query, regex, xpath_query
from crawler.yamlconfig import format_validation_error, read_mapping
from tor.onion import OnionAddressError, is_onion_host, parse_onion

SITES_DIR = Path(__file__).parent / "sites"

InvalidKind = Literal["ddos", "captcha", "login", "ban", "rate_limit"]
Reaction = Literal["wait", "render", "stop", "backoff", "rotate"]

# Default reaction per invalid-page kind (DESIGN.md): DDoS queue -> wait/retry (or render with Playwright),
# login wall / captcha -> stop the site and alert the analyst, 429 -> back off, ban -> rotate the circuit.
DEFAULT_REACTIONS: dict[str, str] = {
    "ddos": "wait",
    "captcha": "stop",
    "login": "stop",
    "ban": "rotate",
    "rate_limit": "backoff",
}


class AdapterError(ValueError):
    """An adapter file is malformed; the message names the file and the field."""


def check_css(value: str | None) -> str | None:
    """A CSS selector as the parser applies it (parsel: ``::text`` and ``::attr()`` allowed), compiled now."""
    if value is not None:
        css_query(value)
    return value


def check_xpath(value: str | None) -> str | None:
    if value is not None:
        xpath_query(value)
    return value


def check_regex(value: str | None, flags: int = 0) -> str | None:
    if value is not None:
        regex(value, flags)
    return value


def check_date_format(value: str) -> None:
    """A strptime format with an unknown directive (``%Q``) or a stray ``%`` fails on every page: refuse it."""
    from datetime import datetime

    try:
        datetime.strptime("", value)
    except ValueError as exc:
        if "directive" in str(exc) or "stray" in str(exc):
            raise ValueError(f"bad date_format {value!r}: {exc}") from None


def query_of(css: str | None, xpath: str | None) -> Query | None:
    """The compiled query of a css/xpath pair (at most one is given; validated before)."""
    return css_query(css) if css else xpath_query(xpath) if xpath else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """A field ready to run on pages: its compiled query and regexes and its options as plain attributes
    (what per-page extraction reads, without going through the pydantic model)."""

    query: Query | None
    pattern: re.Pattern[str] | None
    splitter: re.Pattern[str] | None
    type: str
    is_list: bool
    join: str | None
    default: Any
    from_url: str | None
    from_item: str | None
    constant: Any  # `value:` without another source
    date_format: str | None


class FieldSpec(_Strict):
    """How to pull one field out of a page (or out of one row of a page). Selectors and regexes are
    compiled when the adapter loads (``query``, ``pattern``)."""

    css: str | None = None
    xpath: str | None = None
    from_url: str | None = None  # a named group of the page's url_pattern
    from_item: str | None = None  # (items: entries) a field of the page's main item, e.g. the vendor's name
    value: Any = None  # a constant
    all: bool = False  # collect every match as a list (one entry per match, None where a match gave nothing)
    regex: str | None = None  # keep group 1 (or the whole match)
    split: str | None = None  # regex: split each matched text into several list entries ("AT, BE, FI")
    join: str | None = None  # join all matches with this separator
    # text: visible text, whitespace collapsed; block: visible text keeping line breaks (PGP key blocks);
    # date: an ISO date (or date and time) from absolute or relative dates, see crawler/dates.py
    type: Literal["str", "int", "float", "number", "list", "date", "text", "block"] = "str"
    date_format: str | None = None  # strptime format for `type: date` when the site's own is ambiguous
    default: Any = None  # when nothing matched, or the value does not convert to the type

    _query: Query | None = PrivateAttr(default=None)
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)
    _split: re.Pattern[str] | None = PrivateAttr(default=None)
    _plan: FieldPlan | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [s for s in (self.css, self.xpath, self.from_url, self.from_item) if s]
        if len(sources) > 1:
            raise ValueError("give only one of css, xpath, from_url, from_item")
        if not sources and self.value is None:
            raise ValueError("needs one of css, xpath, from_url, from_item or value")
        return self

    _css_ok = field_validator("css")(classmethod(lambda cls, v: check_css(v)))
    _xpath_ok = field_validator("xpath")(classmethod(lambda cls, v: check_xpath(v)))
    _regex_ok = field_validator("regex")(classmethod(lambda cls, v: check_regex(v, re.I | re.S)))
    _split_ok = field_validator("split")(classmethod(lambda cls, v: check_regex(v)))

    @field_validator("date_format")
    @classmethod
    def _date_format_ok(cls, value: str | None) -> str | None:
        if value is not None:
            check_date_format(value)
        return value

    def model_post_init(self, context: Any) -> None:
        self._query = query_of(self.css, self.xpath)
        self._pattern = regex(self.regex, re.I | re.S) if self.regex else None
        self._split = regex(self.split) if self.split else None
        if self.type == "date":
            from crawler.dates import preload

            preload()  # the date words and patterns load with the adapter, not on the first page
        sourced = bool(self.css or self.xpath or self.from_url or self.from_item)
        self._plan = FieldPlan(self._query, self._pattern, self._split, self.type, self.is_list, self.join,
                               self.default, self.from_url, self.from_item, None if sourced else self.value,
                               self.date_format)

    @property
    def plan(self) -> FieldPlan:
        assert self._plan is not None
        return self._plan

    @property
    def query(self) -> Query | None:
        return self._query

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern

    @property
    def splitter(self) -> re.Pattern[str] | None:
        return self._split

    @property
    def is_list(self) -> bool:
        return self.all or self.type == "list" or self.split is not None


class LinkRule(_Strict):
    """Links to follow from a page: a CSS/XPath selector that yields hrefs (an element gives its href)."""

    css: str | None = None
    xpath: str | None = None
    page_type: str | None = None  # expected type of the target (else decided by url_pattern)
    priority: int = 0

    _query: Query | None = PrivateAttr(default=None)

    _css_ok = field_validator("css")(classmethod(lambda cls, v: check_css(v)))
    _xpath_ok = field_validator("xpath")(classmethod(lambda cls, v: check_xpath(v)))

    @model_validator(mode="after")
    def _one_source(self) -> LinkRule:
        if bool(self.css) == bool(self.xpath):
            raise ValueError("give exactly one of css or xpath")
        return self

    def model_post_init(self, context: Any) -> None:
        self._query = query_of(self.css, self.xpath)

    @property
    def query(self) -> Query:
        query = self.__pydantic_private__["_query"]  # per page and rule
        assert query is not None
        return query


class PageMatch(_Strict):
    """Page type by content: every given condition must hold on the parsed page."""

    css: str | None = None  # an element exists
    xpath: str | None = None  # the XPath selects something
    text: str | None = None  # case-insensitive regex on the visible text (whitespace collapsed)
    not_css: str | None = None  # no element matches
    not_text: str | None = None

    _queries: tuple[Query | None, Query | None, Query | None] = PrivateAttr(default=(None, None, None))
    _texts: tuple[re.Pattern[str] | None, re.Pattern[str] | None] = PrivateAttr(default=(None, None))

    _css_ok = field_validator("css", "not_css")(classmethod(lambda cls, v: check_css(v)))
    _xpath_ok = field_validator("xpath")(classmethod(lambda cls, v: check_xpath(v)))
    _regex_ok = field_validator("text", "not_text")(classmethod(lambda cls, v: check_regex(v, re.I)))

    @model_validator(mode="after")
    def _something(self) -> PageMatch:
        if not (self.css or self.xpath or self.text):
            raise ValueError("needs css, xpath or text (not_css/not_text alone would match every page)")
        return self

    def model_post_init(self, context: Any) -> None:
        self._queries = (query_of(self.css, None), query_of(None, self.xpath), query_of(self.not_css, None))
        self._texts = (regex(self.text, re.I) if self.text else None,
                       regex(self.not_text, re.I) if self.not_text else None)

    def holds(self, root: Any, text: Any) -> bool:
        """``root``: the page's lxml root; ``text()``: its visible text (computed only when needed)."""
        css, xpath, not_css = self._queries
        if css is not None and not css(root):
            return False
        if xpath is not None and not xpath(root):
            return False
        if not_css is not None and not_css(root):
            return False
        rx, not_rx = self._texts
        if rx is not None and not rx.search(text()):
            return False
        return not (not_rx is not None and not_rx.search(text()))


ItemKind = Literal["listing", "vendor", "feedback", "post", "product", "none"]


class ItemSpec(_Strict):
    """A further item kind on the same page (a vendor page's feedback rows, a search page's listing rows)."""

    item: ItemKind
    rows: str | None = None  # CSS selector: one item per row; without it, one item from the whole page
    fields: dict[str, FieldSpec] = Field(default_factory=dict)

    _rows: Query | None = PrivateAttr(default=None)
    _plans: tuple[tuple[str, FieldPlan], ...] = PrivateAttr(default=())
    _css_ok = field_validator("rows")(classmethod(lambda cls, v: check_css(v)))

    def model_post_init(self, context: Any) -> None:
        self._rows = css_query(self.rows) if self.rows else None
        self._plans = tuple((name, f.plan) for name, f in self.fields.items())

    @property
    def rows_query(self) -> Query | None:
        return self.__pydantic_private__["_rows"]

    @property
    def field_plans(self) -> tuple[tuple[str, FieldPlan], ...]:
        return self.__pydantic_private__["_plans"]  # per page: not through pydantic's __getattr__


class PageSpec(_Strict):
    """One page type: how to recognise it (URL and/or content), what to extract and where to go next."""

    url_pattern: str | None = None
    match: PageMatch | None = None  # content the page must show (page type by content)
    item: ItemKind = "none"
    rows: str | None = None  # CSS selector: one item per row (feedback lists, thread posts)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    items: list[ItemSpec] = Field(default_factory=list)  # more item kinds on the same page
    follow: list[LinkRule] = Field(default_factory=list)
    render: bool = False  # needs a browser (Playwright) to show its content
    wait_for: str | None = None  # CSS selector to wait for after rendering (client-rendered content)

    _url_rx: re.Pattern[str] | None = PrivateAttr(default=None)
    _rows: Query | None = PrivateAttr(default=None)
    _plans: tuple[tuple[str, FieldPlan], ...] = PrivateAttr(default=())

    _css_ok = field_validator("rows", "wait_for")(classmethod(lambda cls, v: check_css(v)))
    _pattern_ok = field_validator("url_pattern")(classmethod(lambda cls, v: check_regex(v)))

    @model_validator(mode="after")
    def _recognisable(self) -> PageSpec:
        if self.url_pattern is None and self.match is None:
            raise ValueError("needs a url_pattern or a match (or both)")
        return self

    @model_validator(mode="after")
    def _references_exist(self) -> PageSpec:
        """``from_url`` names a group of this page's url_pattern, ``from_item`` a field of its own item:
        a typo would give an empty field on every page, silently."""
        groups = set(re.compile(self.url_pattern).groupindex) if self.url_pattern else set()
        specs = [(f"fields.{n}", f) for n, f in self.fields.items()]
        specs += [(f"items.{i}.fields.{n}", f) for i, it in enumerate(self.items) for n, f in it.fields.items()]
        for where, f in specs:
            if f.from_url and f.from_url not in groups:
                known = ", ".join(sorted(groups)) or "none: no url_pattern with (?P<name>...)"
                raise ValueError(f"{where}.from_url: no group {f.from_url!r} in url_pattern (groups: {known})")
            if f.from_item and (not where.startswith("items.") or f.from_item not in self.fields):
                raise ValueError(f"{where}.from_item: {f.from_item!r} is not a field of this page's item "
                                 f"(fields: {', '.join(self.fields) or 'none'})")
        return self

    def model_post_init(self, context: Any) -> None:
        self._url_rx = regex(self.url_pattern) if self.url_pattern is not None else None
        self._rows = css_query(self.rows) if self.rows else None
        self._plans = tuple((name, f.plan) for name, f in self.fields.items())

    @property
    def field_plans(self) -> tuple[tuple[str, FieldPlan], ...]:
        return self.__pydantic_private__["_plans"]  # per page: not through pydantic's __getattr__

    @property
    def url_rx(self) -> re.Pattern[str] | None:
        return self.__pydantic_private__["_url_rx"]

    @property
    def rows_query(self) -> Query | None:
        return self.__pydantic_private__["_rows"]

    def url_matches(self, path: str) -> bool:
        url_rx = self.__pydantic_private__["_url_rx"]
        return url_rx is None or url_rx.search(path) is not None


class Matcher(_Strict):
    """One condition of a detector. All given conditions of one matcher must hold.

    A matcher with no condition other than ``max_text_len`` never fires (see crawler/detectors.py).
    """

    status: list[int] | None = None
    css: str | None = None  # an element exists
    text: str | None = None  # case-insensitive regex on the visible text (whitespace collapsed)
    title: str | None = None  # case-insensitive regex on <title>
    header: dict[str, str] | None = None  # header name -> regex
    max_text_len: int | None = None  # only short pages (interstitials are small)
    not_css: str | None = None  # no element matches (e.g. no logout link: the session is logged out)
    not_text: str | None = None  # the visible text does not match this regex
    # css: the element must be the page's main content (a challenge page), not a small form on a normal
    # page: the text outside its <form> (or outside the element) is at most `max_other_text` characters,
    # or the form holds at least half of the page's text.
    blocking: bool = False
    max_other_text: int = Field(default=1500, ge=0)

    _rx: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)
    _sel: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("text", "title", "not_text")
    @classmethod
    def _matcher_regex_compiles(cls, value: str | None) -> str | None:
        return check_regex(value, re.I)

    @field_validator("header")
    @classmethod
    def _header_regex_compiles(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, pattern in (value or {}).items():
            try:
                regex(pattern, re.I)
            except ValueError as exc:
                raise ValueError(f"bad regex for header {name!r}: {exc}") from None
        return value

    @field_validator("css", "not_css")
    @classmethod
    def _css_parses(cls, value: str | None) -> str | None:
        if value is not None:
            _detector_css(value)
        return value

    @model_validator(mode="after")
    def _blocking_needs_css(self) -> Matcher:
        if self.blocking and self.css is None:
            raise ValueError("blocking needs css (the element that must be the page's main content)")
        return self

    def model_post_init(self, context: Any) -> None:
        self._rx = {k: regex(v, re.I) for k, v in (("text", self.text), ("title", self.title),
                                                     ("not_text", self.not_text)) if v is not None}
        self._rx.update({f"header:{name.lower()}": regex(p, re.I) for name, p in (self.header or {}).items()})
        self._sel = {k: _detector_css(v) for k, v in (("css", self.css), ("not_css", self.not_css)) if v is not None}

    def rx(self, name: str) -> re.Pattern[str]:
        """The compiled regex of ``text``, ``title``, ``not_text`` or ``header:<name>``."""
        return self.__pydantic_private__["_rx"][name]  # per page and matcher: the direct way

    def selector(self, name: str) -> Any:
        """The compiled lxml CSSSelector of ``css`` or ``not_css``."""
        return self.__pydantic_private__["_sel"][name]


def _detector_css(value: str) -> Any:
    """Detectors match elements with lxml's CSSSelector (HTML rules: case-insensitive names)."""
    return _css_selector(value)


@lru_cache(maxsize=1024)
def _css_selector(value: str) -> Any:
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    try:
        return CSSSelector(value, translator="html")
    except SelectorError as exc:
        raise ValueError(f"bad CSS selector {value!r}: {exc}") from None


class Detector(_Strict):
    """An invalid-page detector: fires when any matcher matches. ``name`` lets an adapter switch off one
    generic detector (``detectors: {disable: [captcha]}``)."""

    name: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    kind: InvalidKind
    any: list[Matcher]
    reaction: Reaction | None = None
    wait_seconds: float = 5.0
    max_retries: int = 5

    @property
    def effective_reaction(self) -> str:
        return self.reaction or DEFAULT_REACTIONS[self.kind]



class SessionSpec(_Strict):
    cookies: dict[str, str] = Field(default_factory=dict)
    cookie_env: str | None = None  # env var holding "name=value; name2=value2"
    headers: dict[str, str] = Field(default_factory=dict)
    # CSS selectors only a logged-in page has (account menu, balance); default: a logout link or form.
    # A text-only detector (a seller writing "captcha") never fires on a page that has one.
    logged_in_css: list[str] = Field(default_factory=list)

    @field_validator("logged_in_css")
    @classmethod
    def _markers_parse(cls, value: list[str]) -> list[str]:
        for selector in value:
            check_css(selector)
        return value


class Politeness(_Strict):
    concurrency: int = Field(default=4, ge=1, le=64)
    delay: float = Field(default=0.0, ge=0)
    autothrottle: bool = True
    page_budget: int = Field(default=20000, ge=1)
    max_depth: int = Field(default=20, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)


class SiteAdapter(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["market", "forum", "shop"]
    language: str = "en"
    network: Literal["clearnet", "tor"] = "clearnet"
    base_url: str
    mirrors: list[str] = Field(default_factory=list)
    currency: str | None = None  # default currency of bare prices
    start: list[str] = Field(default_factory=lambda: ["/"])
    politeness: Politeness = Field(default_factory=Politeness)
    session: SessionSpec = Field(default_factory=SessionSpec)
    # The site's own detectors (a list), or {rules: [...], disable: [name or kind, ...]} to also switch off
    # single generic detectors (crawler/sites/_generic_detectors.yaml) by name or by kind.
    detectors: list[Detector] = Field(default_factory=list)
    generic_disable: list[str] = Field(default_factory=list)
    generic_detectors: bool = True  # also apply crawler/sites/_generic_detectors.yaml after the site's own
    # An example of a real market's pages (parsed from saved pages in tests), never crawled: `sokhund crawl`
    # refuses it, and campaigns and the demo never pick it up.
    reference: bool = False
    pages: dict[str, PageSpec]
    source_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _detector_mapping(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("detectors"), dict):
            raw = dict(raw)
            spec = dict(raw.pop("detectors"))
            unknown = set(spec) - {"rules", "disable"}
            if unknown:
                raise ValueError(f"detectors: unknown key(s) {sorted(unknown)}; use 'rules' and 'disable'")
            raw["detectors"] = spec.get("rules") or []
            raw["generic_disable"] = spec.get("disable") or []
        return raw

    @model_validator(mode="after")
    def _follow_targets_exist(self) -> SiteAdapter:
        for name, spec in self.pages.items():
            for n, rule in enumerate(spec.follow):
                if rule.page_type is not None and rule.page_type not in self.pages:
                    raise ValueError(f"pages.{name}.follow.{n}.page_type: no page type {rule.page_type!r} "
                                     f"(page types: {', '.join(self.pages)})")
        return self

    @model_validator(mode="after")
    def _disable_names_exist(self) -> SiteAdapter:
        if self.generic_disable:
            from crawler.detectors import generic_detectors

            known = {d.name for d in generic_detectors() if d.name} | {d.kind for d in generic_detectors()}
            unknown = [n for n in self.generic_disable if n not in known]
            if unknown:
                raise ValueError(f"detectors.disable: no generic detector named {unknown}; "
                                 f"known: {', '.join(sorted(known))}")
        return self

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _onion_needs_tor(self) -> SiteAdapter:
        for url in [self.base_url, *self.mirrors]:
            host = _host(url)
            if is_onion_host(host):  # x.onion. (trailing dot) is an onion name too
                if self.network != "tor":
                    raise ValueError(f"{url} is an onion address: network must be 'tor' (fail closed)")
                try:
                    parse_onion(host)  # v2 (dead since 2021) or a bad checksum (typo, phishing copy)
                except OnionAddressError as exc:
                    raise ValueError(str(exc)) from None
        return self

    def url(self) -> str:
        """Base URL, overridable per run by SOKHUND_SITE_<NAME>_URL (the testbed's ports, an onion …)."""
        return (os.environ.get(f"SOKHUND_SITE_{self.name.upper()}_URL") or self.base_url).rstrip("/")

    def page_type(self, url: str) -> str | None:
        """The page type the URL announces (before fetching): the first page whose url_pattern matches.
        Pages recognised by content only (no url_pattern) are decided by :meth:`page_type_for`."""
        path = _path_of(url)
        for name, spec in self.pages.items():
            if spec.url_rx is not None and spec.url_rx.search(path):
                return name
        return None

    def page_type_for(self, url: str, root: Any, hint: str | None = None) -> str | None:
        """The page type of a fetched page (``root``: its lxml root): the hinted type (a follow rule's
        ``page_type``) when its ``match`` holds or it has none, else the first page type, in file order,
        whose url_pattern (if any) and match (if any) both hold."""
        path = _path_of(url)
        text_cache: list[str] = []

        def text() -> str:
            if not text_cache:
                text_cache.append(visible_text(root))
            return text_cache[0]

        hinted = self.pages.get(hint or "")
        if hinted is not None and (hinted.match is None or hinted.match.holds(root, text)):
            return hint
        for name, spec in self.pages.items():
            if name == hint or spec.url_pattern is None and spec.match is None:
                continue
            if spec.url_matches(path) and (spec.match is None or spec.match.holds(root, text)):
                return name
        return None

    @property
    def content_typed(self) -> bool:
        """Some page type is recognised by content (``match:``): a URL no url_pattern knows may be one."""
        return any(spec.match is not None for spec in self.pages.values())

    def generic_enabled(self, detectors: Any) -> tuple[Detector, ...]:
        """The generic detectors this site applies (none with ``generic_detectors: false``; without the
        ones named in ``detectors.disable``)."""
        if not self.generic_detectors:
            return ()
        off = set(self.generic_disable)
        return tuple(d for d in detectors if d.kind not in off and (d.name is None or d.name not in off))


@lru_cache(maxsize=1)
def _visible_text_nodes() -> Any:
    from lxml import etree

    return etree.XPath("//text()[not(ancestor::script or ancestor::style or ancestor::template)]",
                       smart_strings=False)


def visible_text(root: Any) -> str:
    """The page's text without script/style, whitespace collapsed (what page matchers' ``text`` sees)."""
    if root is None:
        return ""
    return " ".join(" ".join(_visible_text_nodes()(root)).split())


def _host(url: str) -> str:
    match = re.match(r"^[a-z]+://([^/:]+)", url)
    return match.group(1).lower() if match else ""


def _path_of(url: str) -> str:
    match = re.match(r"^[a-z]+://[^/]+(.*)$", url)
    return (match.group(1) if match else url) or "/"


def load_adapter_file(path: str | Path) -> SiteAdapter:
    path = Path(path)
    raw = read_mapping(path, "adapter", AdapterError)
    raw.setdefault("source_file", str(path))
    try:
        return SiteAdapter.model_validate(raw)
    except ValidationError as exc:
        raise AdapterError(format_validation_error(path, "site adapter", exc)) from None


def adapter_paths(directory: Path = SITES_DIR) -> dict[str, Path]:
    """Site adapters by name. Files starting with ``_`` are shared data (e.g. ``_generic_detectors.yaml``)."""
    return {p.stem: p for p in sorted(directory.glob("*.yaml")) if not p.name.startswith("_")}


def load_adapter(name_or_path: str) -> SiteAdapter:
    """Load by site name (``crawler/sites/NAME.yaml``) or by path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return load_adapter_file(candidate)
    paths = adapter_paths()
    if name_or_path not in paths:
        known = ", ".join(paths) or "(none)"
        raise AdapterError(f"no site adapter named {name_or_path!r}; known sites: {known}")
    return load_adapter_file(paths[name_or_path])


def load_all(include_reference: bool = False) -> dict[str, SiteAdapter]:
    """Every adapter under ``crawler/sites/``; reference adapters (real markets, never crawled) only on
    request."""
    adapters = {name: load_adapter_file(path) for name, path in adapter_paths().items()}
    return {n: a for n, a in adapters.items() if include_reference or not a.reference}
