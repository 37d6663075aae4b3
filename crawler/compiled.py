"""Selectors, XPaths and regexes of an adapter, compiled once when the adapter loads.

A CSS selector (parsel's dialect: ``::text`` and ``::attr(name)`` allowed) is translated to XPath and
compiled with lxml once; every page then runs the compiled object. Compiling includes one dry run on a
tiny document, so what lxml only reports when evaluating (an undefined namespace prefix, an unknown XPath
function) fails at load time too, with the adapter's file and field, never later per page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

# parsel's EXSLT prefixes (``re:test(...)``, ``set:difference(...)``); importing parsel also registers its
# ``has-class()`` XPath function globally in lxml.
XPATH_NAMESPACES = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}
_PROBE = etree.fromstring("<html><head><title>t</title></head><body><p class='c'>x</p></body></html>",
                          etree.HTMLParser())
TEXT_NODES = etree.XPath(".//text()", smart_strings=False)


@dataclass(frozen=True, slots=True)
class Query:
    """A compiled CSS or XPath query: ``query(node)`` gives lxml results (elements or strings)."""

    source: str  # as the adapter wrote it
    kind: str  # "css" or "xpath"
    xpath: str
    compiled: etree.XPath

    @property
    def absolute(self) -> bool:
        """Does it ignore the node it runs on (``//h1/a``: the whole document)? Then every row of a page gets
        the same result, and it runs once per page."""
        return self.xpath.lstrip().startswith("/") and "|" not in self.xpath

    def __call__(self, node: Any) -> list[Any]:
        result = self.compiled(node)
        if isinstance(result, list):
            return result
        if isinstance(result, bool):  # boolean(), contains(): a match or nothing
            return ["true"] if result else []
        if isinstance(result, float):  # count(), sum()
            return [f"{result:g}"]
        return [str(result)] if result is not None else []


# XPath 1.0's functions and node tests; prefixed names (re:test, set:distinct) and parsel's has-class are
# checked by lxml's dry run or listed here. lxml reports an unknown function only when a page reaches it.
_XPATH_FUNCTIONS = frozenset(
    "last position count id local-name namespace-uri name string concat starts-with contains substring-before "
    "substring-after substring string-length normalize-space translate boolean not true false lang number sum "
    "floor ceiling round node text comment processing-instruction has-class and or div mod".split())
_CALL = re.compile(r"(?<![\w@$:.-])([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*\(")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")


def _unknown_functions(xpath: str) -> list[str]:
    code = _STRING.sub("''", xpath)
    return [name for name in _CALL.findall(code) if ":" not in name and name not in _XPATH_FUNCTIONS]


def _compile(source: str, kind: str, xpath: str) -> Query:
    unknown = _unknown_functions(xpath) if kind == "xpath" else []
    if unknown:
        raise ValueError(f"bad XPath {source!r}: Unregistered function {unknown[0]}()")
    try:
        compiled = etree.XPath(xpath, namespaces=XPATH_NAMESPACES, smart_strings=False)
        compiled(_PROBE)
    except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
        what = "CSS selector" if kind == "css" else "XPath"
        raise ValueError(f"bad {what} {source!r}: {exc}") from None
    return Query(source, kind, xpath, compiled)


@lru_cache(maxsize=4096)
def css_query(selector: str) -> Query:
    """A parsel-style CSS selector compiled to XPath; ValueError naming the selector when it is malformed."""
    import parsel  # noqa: F401  (registers has-class())
    from cssselect import SelectorError
    from parsel.csstranslator import HTMLTranslator

    if not selector.strip():
        raise ValueError("empty CSS selector")
    try:
        xpath = HTMLTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"bad CSS selector {selector!r}: {exc}") from None
    return _compile(selector, "css", xpath)


@lru_cache(maxsize=4096)
def xpath_query(xpath: str) -> Query:
    import parsel  # noqa: F401  (registers has-class())

    if not xpath.strip():
        raise ValueError("empty XPath")
    return _compile(xpath, "xpath", xpath)


@lru_cache(maxsize=4096)
def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None


def text_of(node: Any) -> str:
    """The text of an lxml result: a string as it is, an element's text nodes joined with spaces."""
    if isinstance(node, str):
        return node
    return " ".join(TEXT_NODES(node))
