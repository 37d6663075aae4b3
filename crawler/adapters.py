"""Site adapters: one YAML file per site under ``crawler/sites/``. Markets are configuration, not code.

A malformed adapter raises :class:`AdapterError` naming the file and the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    """A CSS selector as the parser applies it (parsel: ``::text`` and ``::attr()`` allowed)."""
    if value is not None:
        from cssselect import SelectorError
        from parsel.csstranslator import HTMLTranslator

        try:
            HTMLTranslator().css_to_xpath(value)
        except SelectorError as exc:
            raise ValueError(f"bad CSS selector {value!r}: {exc}") from exc
    return value


def check_xpath(value: str | None) -> str | None:
    if value is not None:
        from lxml import etree

        try:
            etree.XPath(value)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"bad XPath {value!r}: {exc}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    """How to pull one field out of a page (or out of one row of a page)."""

    css: str | None = None
    xpath: str | None = None
    from_url: str | None = None  # a named group of the page's url_pattern
    value: Any = None  # a constant
    all: bool = False  # collect every match as a list
    regex: str | None = None  # keep group 1 (or the whole match)
    join: str | None = None  # join all matches with this separator
    # text: visible text, whitespace collapsed; block: visible text keeping line breaks (PGP key blocks)
    type: Literal["str", "int", "float", "number", "list", "date", "text", "block"] = "str"
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [s for s in (self.css, self.xpath, self.from_url) if s]
        if len(sources) > 1:
            raise ValueError("give only one of css, xpath, from_url")
        if not sources and self.value is None:
            raise ValueError("needs one of css, xpath, from_url or value")
        return self

    _css_ok = field_validator("css")(classmethod(lambda cls, v: check_css(v)))
    _xpath_ok = field_validator("xpath")(classmethod(lambda cls, v: check_xpath(v)))

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value


class LinkRule(_Strict):
    """Links to follow from a page: a CSS/XPath selector that yields hrefs."""

    css: str | None = None
    xpath: str | None = None
    page_type: str | None = None  # expected type of the target (else decided by url_pattern)
    priority: int = 0

    _css_ok = field_validator("css")(classmethod(lambda cls, v: check_css(v)))
    _xpath_ok = field_validator("xpath")(classmethod(lambda cls, v: check_xpath(v)))

    @model_validator(mode="after")
    def _one_source(self) -> LinkRule:
        if bool(self.css) == bool(self.xpath):
            raise ValueError("give exactly one of css or xpath")
        return self


class PageSpec(_Strict):
    """One page type: how to recognise it, what to extract and where to go next."""

    url_pattern: str
    item: Literal["listing", "vendor", "feedback", "post", "product", "none"] = "none"
    rows: str | None = None  # CSS selector: one item per row (feedback lists, thread posts)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    follow: list[LinkRule] = Field(default_factory=list)
    render: bool = False  # needs a browser (Playwright) to show its content
    wait_for: str | None = None  # CSS selector to wait for after rendering (client-rendered content)

    _css_ok = field_validator("rows", "wait_for")(classmethod(lambda cls, v: check_css(v)))

    @field_validator("url_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value


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

    @field_validator("text", "title", "not_text")
    @classmethod
    def _matcher_regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value

    @field_validator("header")
    @classmethod
    def _header_regex_compiles(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, pattern in (value or {}).items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex for header {name!r}: {pattern!r}: {exc}") from exc
        return value

    @field_validator("css", "not_css")
    @classmethod
    def _css_parses(cls, value: str | None) -> str | None:
        if value is not None:
            from cssselect import GenericTranslator, SelectorError

            try:
                GenericTranslator().css_to_xpath(value)
            except SelectorError as exc:
                raise ValueError(f"bad CSS selector {value!r}: {exc}") from exc
        return value


class Detector(_Strict):
    """An invalid-page detector: fires when any matcher matches."""

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
    detectors: list[Detector] = Field(default_factory=list)
    generic_detectors: bool = True  # also apply crawler/sites/_generic_detectors.yaml after the site's own
    # An example of a real market's pages (parsed from saved pages in tests), never crawled: `sokhund crawl`
    # refuses it, and campaigns and the demo never pick it up.
    reference: bool = False
    pages: dict[str, PageSpec]
    source_file: str | None = None

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
        path = _path_of(url)
        for name, spec in self.pages.items():
            if re.search(spec.url_pattern, path):
                return name
        return None


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
