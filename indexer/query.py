"""User query parsing and filter normalisation shared by every backend.

The query language is deliberately small and can never fail to parse:

* words are ANDed: ``kokain stockholm``
* ``"double quoted phrases"`` match consecutive words
* a trailing ``*`` makes a prefix: ``tjack*``

Everything else (operators, ``col:val``, brackets, stray quotes) is treated as plain text: punctuation
splits words, exactly as the full-text tokenizers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from indexer.base import SearchFilters

_WORD = re.compile(r"\w+", re.UNICODE)
_PART = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Term:
    """One query clause: a word sequence (a phrase when several words), optionally a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


def parse_query(query: str | None) -> list[Term]:
    """Split a user query into terms. An empty list means 'no text condition'."""
    if not query:
        return []
    terms: list[Term] = []
    for match in _PART.finditer(query):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            words = tuple(w.lower() for w in _WORD.findall(quoted.replace("_", " ")))
            if words:
                terms.append(Term(words))
            continue
        prefix = bare.endswith("*")
        words = tuple(w.lower() for w in _WORD.findall(bare.replace("_", " ")))
        if words:
            # ``col:val`` or ``4-mmc`` become phrases of their parts, like the tokenizer would split them.
            terms.append(Term(words, prefix=prefix))
    return terms


def fts5_expression(terms: list[Term]) -> str:
    """An FTS5 MATCH expression in which every word is a quoted string: no keyword or column filter
    syntax can leak through."""
    parts = []
    for term in terms:
        phrase = '"' + " ".join(w.replace('"', '""') for w in term.words) + '"'
        parts.append(phrase + ("*" if term.prefix else ""))
    return " AND ".join(parts)


def query_string(terms: list[Term]) -> str:
    """The normalised query as text (for Elasticsearch ``simple_query_string`` and for logs)."""
    out = []
    for term in terms:
        text = " ".join(term.words)
        if term.is_phrase:
            text = f'"{text}"'
        out.append(text + ("*" if term.prefix else ""))
    return " ".join(out)


def date_bounds(filters: SearchFilters) -> tuple[str | None, str | None, str | None]:
    """``(gte, lt, lte)`` as ISO strings. A date-only ``date_to`` includes that whole day (``lt`` the
    next day); a ``date_to`` with a time is an inclusive ``lte``."""
    lt = lte = None
    if filters.date_to:
        if len(filters.date_to) == 10:
            lt = (date.fromisoformat(filters.date_to) + timedelta(days=1)).isoformat()
        else:
            lte = filters.date_to
    return filters.date_from or None, lt, lte


def check_interval(interval: str) -> str:
    if interval not in ("day", "week", "month"):
        raise ValueError(f"interval must be day, week or month, not {interval!r}")
    return interval
