"""User query parsing and filter normalisation shared by every backend.

The query language is deliberately small and can never fail to parse:

* words are ANDed: ``kokain stockholm``
* ``"double quoted phrases"`` match consecutive words
* a trailing ``*`` makes a prefix: ``tjack*``
* a word (or a run of up to four words) that names a substance in the extractor's taxonomy stands for
  all its names, Swedish and English, or the canonical ``substance`` field: ``koks`` finds "Cocaine
  90%" and "Kokain 1g" (see :mod:`indexer.synonyms` for what is never expanded). A quoted word is
  literal: ``"koks"`` finds only texts with that word. Phrases and prefixes are never expanded.

Everything else (operators, ``col:val``, brackets, stray quotes) is treated as plain text: punctuation
splits words, exactly as the full-text tokenizers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import product

from indexer.base import SearchFilters
from indexer.synonyms import MAX_ALIAS_WORDS, fold, synonyms, words_of

_WORD = re.compile(r"\w+", re.UNICODE)
_PART = re.compile(r'"([^"]*)"|(\S+)')
# Invisible format characters (soft hyphen, zero-width space/joiners, BOM, word joiner, bidi marks) come
# along when a title is copied from a page; inside a word they would split it.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class Term:
    """One query clause: a word sequence (a phrase when several words), optionally a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    quoted: bool = False  # written in double quotes: literal, never expanded

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


@dataclass(frozen=True)
class Clause:
    """One AND-ed condition of an expanded query: any of ``texts`` is in the document's text, or one of
    ``fields`` (``(name, values)``) holds one of its values. A plain term is one text and no field."""

    texts: tuple[Term, ...]
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    substance: str | None = None  # the canonical substance the clause was expanded from
    excluded: tuple[Term, ...] = ()  # texts that do not count as a text match ("pink cocaine" for cocaine)

    @property
    def expanded(self) -> bool:
        return len(self.texts) > 1 or bool(self.fields)


# Above this many ways of satisfying an expanded query's clauses through fields, the SQLite backend keeps
# only the text alternatives (a query would need 2**k sub-queries for k expanded clauses).
MAX_FIELD_COMBINATIONS = 32


def parse_query(query: str | None) -> list[Term]:
    """Split a user query into terms. An empty list means 'no text condition'."""
    if not query:
        return []
    terms: list[Term] = []
    for match in _PART.finditer(_INVISIBLE.sub("", query)):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            words = tuple(w.lower() for w in _WORD.findall(quoted.replace("_", " ")))
            if words:
                terms.append(Term(words, quoted=True))
            continue
        prefix = bare.endswith("*")
        words = tuple(w.lower() for w in _WORD.findall(bare.replace("_", " ")))
        if words:
            # ``col:val`` or ``4-mmc`` become phrases of their parts, like the tokenizer would split them.
            terms.append(Term(words, prefix=prefix))
    return terms


VendorNames = Callable[[Term], Sequence[str]]


def expand_terms(terms: list[Term], fields: Collection[str] = (), vendor_names: VendorNames | None = None
                 ) -> list[Clause]:
    """Turn terms into clauses. Runs of bare terms that name a substance (longest first, up to
    ``MAX_ALIAS_WORDS`` words) become one clause: every synonym as text, or ``substance`` equal to the
    canonical name when the kind has that field (``fields``: the kind's field names). In a kind with a
    ``vendor`` field, a term that is (part of) a vendor's name also matches that vendor's documents:
    ``vendor_names(term)`` gives the names (each backend looks them up in its vendor index)."""
    clauses: list[Clause] = []
    for clause in _substance_clauses(terms, fields):
        if "vendor" in fields and vendor_names is not None and not clause.expanded:
            term = clause.texts[0]
            names = tuple(sorted({n for n in vendor_names(term) if name_has(n, term)}))
            if names:
                clause = Clause(clause.texts, (("vendor", names),))
        if clause not in clauses:  # "kokain koks" is "kokain"
            clauses.append(clause)
    return clauses


def name_has(name: str, term: Term) -> bool:
    """Whether ``term``'s words occur in ``name`` as consecutive words (the last one as a prefix for a
    prefix term), folded as the full-text index folds them."""
    words, want = words_of(name), tuple(fold(w) for w in term.words)
    for start in range(len(words) - len(want) + 1):
        got = words[start : start + len(want)]
        if got[:-1] == want[:-1] and (got[-1].startswith(want[-1]) if term.prefix else got[-1] == want[-1]):
            return True
    return False


def _substance_clauses(terms: list[Term], fields: Collection[str]) -> list[Clause]:
    table = synonyms()
    clauses: list[Clause] = []
    i = 0
    while i < len(terms):
        found = None
        # a run of more than MAX_ALIAS_WORDS terms has more words than any alias (a 10 kB query stays linear)
        for j in range(min(len(terms), i + MAX_ALIAS_WORDS), i, -1):
            run = terms[i:j]
            if any(t.quoted or t.prefix for t in run):
                continue
            words = tuple(w for t in run for w in t.words)
            if len(words) > MAX_ALIAS_WORDS:
                continue
            name = table.substance(words)
            if name is not None:
                found = (j, name)
                break
        if found is None:
            clauses.append(Clause((terms[i],)))
            i += 1
            continue
        j, name = found
        texts = tuple(Term(w) for w in table.aliases.get(name, ()))
        own = tuple(w for t in terms[i:j] for w in t.words)
        if not any(t.words == tuple(map(fold, own)) for t in texts):
            texts = (Term(own), *texts)  # a canonical name that is not itself an alias still matches as text
        substance = (("substance", (name,)),) if "substance" in fields else ()
        excluded = tuple(Term(w) for w in table.excluded.get(name, ()))
        clauses.append(Clause(texts, substance, name, excluded))
        i = j
    return clauses


def expand_query(query: str | None, fields: Collection[str] = (), vendor_names: VendorNames | None = None
                 ) -> list[Clause]:
    return expand_terms(parse_query(query), fields, vendor_names)


def with_field_values(filters: SearchFilters | None, values: dict[str, tuple[str, ...]]) -> SearchFilters | None:
    """``filters`` plus "field in values" (intersected with the same field in ``extra``); None when
    nothing can match."""
    base = replace(filters) if filters is not None else SearchFilters()
    extra = dict(base.extra or {})
    for name, allowed in values.items():
        if name in extra:
            have = extra[name]
            have = list(have) if isinstance(have, list | tuple | set | frozenset) else [have]
            allowed = tuple(v for v in allowed if v in have)
            if not allowed:
                return None
        extra[name] = list(allowed)
    base.extra = extra
    return base


def _fts5_term(term: Term) -> str:
    phrase = '"' + " ".join(w.replace('"', '""') for w in term.words) + '"'
    return phrase + ("*" if term.prefix else "")


def fts5_expression(terms: list[Term] | list[Clause]) -> str:
    """An FTS5 MATCH expression in which every word is a quoted string: no keyword or column filter
    syntax can leak through. Clauses with several texts become ``("a" OR "b c")`` groups."""
    parts = []
    for item in terms:
        texts = item.texts if isinstance(item, Clause) else (item,)
        inner = " OR ".join(_fts5_term(t) for t in texts)
        inner = f"({inner})" if len(texts) > 1 else inner
        if isinstance(item, Clause) and item.excluded:
            inner = f"({inner} NOT ({' OR '.join(_fts5_term(t) for t in item.excluded)}))"
        parts.append(inner)
    return " AND ".join(parts)


def field_alternatives(clauses: list[Clause]) -> list[tuple[dict[str, tuple[str, ...]], list[Clause]]]:
    """The ways to satisfy ``clauses`` with at least one of them matched through a field rather than
    text: ``(field -> allowed values, clauses still to match as text)``. Together with "all clauses as
    text" they are exactly "every clause matches by text or by field" (values of one field intersect:
    a listing has one substance). Empty past ``MAX_FIELD_COMBINATIONS``."""
    options = [[None, *c.fields] for c in clauses]
    out: list[tuple[dict[str, tuple[str, ...]], list[Clause]]] = []
    count = 1
    for o in options:
        count *= len(o)
    if count - 1 > MAX_FIELD_COMBINATIONS:
        return []
    for combo in product(*options):
        if all(choice is None for choice in combo):
            continue
        values: dict[str, tuple[str, ...]] = {}
        ok = True
        for choice in combo:
            if choice is None:
                continue
            name, allowed = choice
            merged = tuple(v for v in values.get(name, allowed) if v in allowed)
            if not merged:
                ok = False
                break
            values[name] = merged
        if ok:
            rest = [c for c, choice in zip(clauses, combo, strict=True) if choice is None]
            out.append((values, rest))
    return out


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


def iso_date(text: str) -> str:
    """An ISO date or date-time from the command line (``2024-03-01``, ``2024-03-01T12:00:00Z``), as
    given; ValueError naming the value otherwise (a wrong ``--since`` must not silently match nothing)."""
    value = text.strip()
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (use e.g. 2024-03-01 or 2024-03-01T12:00:00Z)") from None
    return value


def check_interval(interval: str) -> str:
    if interval not in ("day", "week", "month"):
        raise ValueError(f"interval must be day, week or month, not {interval!r}")
    return interval
