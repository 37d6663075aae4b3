"""Substance synonyms for search, read from the extractor's own taxonomy (``extractors/data``).

A query word that names a substance ("kokain", "koks", "cocaine", "coke") stands for every name the
extractor knows for it, in Swedish and English, plus the canonical ``substance`` field; so one query finds
the Swedish and the English listings alike. What the taxonomy marks as uncertain is never expanded:

* *weak* street words (``street_names.yaml``: "vitt", "ice", "häst", "Tesla" …) name a drug only in a
  listing context, so as a query they are just words, and they are never added as synonyms;
* an alias listed under more than one substance ("adderall": itself and amphetamine; "mephedrone":
  itself and the cathinone family) is ambiguous, unless it is a canonical name: that always means
  itself ("mephedrone" is mephedrone, not every cathinone);
* names of other substances that hold a synonym ("pink cocaine" is 2C-B, "crack cocaine" is crack)
  do not count as a text match (a cocaine listing that says so still matches through its substance);
* function words ("det" is also TripSit's alias for DET) and aliases shorter than three characters
  without a digit are neither expanded nor added (``k2`` and ``n2o`` are kept).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_ALIAS_WORDS = 4


def fold(text: str) -> str:
    """Lowercase without diacritics (what both backends' analyzers do to indexed text)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> tuple[str, ...]:
    """The words of ``text`` as the query parser and the full-text tokenizers split them, folded."""
    return tuple(fold(w) for w in _WORD.findall(text.replace("_", " ")))


@dataclass(frozen=True)
class Synonyms:
    """alias words -> canonical substance; canonical substance -> the aliases' words."""

    canonical: dict[tuple[str, ...], str]
    aliases: dict[str, tuple[tuple[str, ...], ...]]
    # Names of other substances that contain one of a substance's synonyms: "pink cocaine" (2C-B) and
    # "crack cocaine" hold "cocaine"; as text they do not mean cocaine.
    excluded: dict[str, tuple[tuple[str, ...], ...]]

    def substance(self, words: tuple[str, ...]) -> str | None:
        return self.canonical.get(tuple(fold(w) for w in words))


def _usable(words: tuple[str, ...], common: frozenset[str]) -> bool:
    if not words:
        return False
    if len(words) == 1:
        word = words[0]
        if word in common or (len(word) < 3 and not any(c.isdigit() for c in word)):
            return False
    return True


@lru_cache(maxsize=1)
def synonyms() -> Synonyms:
    from extractors.matching import load_substances, load_words, street_names

    common = frozenset(fold(w) for w in load_words() if isinstance(w, str))
    weak = {words_of(str(w["word"])) for w in street_names().get("weak", [])}
    meanings: dict[tuple[str, ...], set[str]] = {}
    names_of: dict[tuple[str, ...], str] = {}  # a canonical name always means itself
    for entry in load_substances():
        names_of[words_of(entry["name"])] = entry["name"]
        for alias in [entry["name"], *entry.get("en", []), *entry.get("sv", [])]:
            words = words_of(str(alias))
            if words and len(words) <= MAX_ALIAS_WORDS:
                meanings.setdefault(words, set()).add(entry["name"])
    canonical: dict[tuple[str, ...], str] = {}
    for words, names in meanings.items():
        if words in weak or not _usable(words, common):
            continue
        if words in names_of:
            canonical[words] = names_of[words]
        elif len(names) == 1:
            canonical[words] = next(iter(names))
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for words, name in canonical.items():
        grouped.setdefault(name, []).append(words)
    # A phrase holding a one-word synonym adds no match ("cocaine hcl" next to "cocaine"): left out of the
    # OR-group, which keeps the query small.
    texts = {name: tuple(sorted(w for w in ws if len(w) == 1 or not any((x,) in ws for x in w)))
             for name, ws in grouped.items()}
    excluded: dict[str, tuple[tuple[str, ...], ...]] = {}
    for name, ws in texts.items():
        singles = {w[0] for w in ws if len(w) == 1}
        excluded[name] = tuple(sorted(
            other for other, meant in meanings.items()
            if len(other) > 1 and name not in meant and not singles.isdisjoint(other) and other not in weak
        ))
    return Synonyms(canonical, texts, excluded)


@lru_cache(maxsize=1)
def taxonomy_names() -> tuple[frozenset[str], frozenset[str]]:
    """(canonical substance names, substance classes) of the extractor's taxonomy."""
    from extractors.matching import load_substances

    entries = load_substances()
    return frozenset(e["name"] for e in entries), frozenset(e["class"] for e in entries)


def canonical_substance(text: str) -> str:
    """``--substance`` as the analyst writes it ("kokain", "Cocaine", "koks") -> the canonical name;
    ValueError with a hint for a name the taxonomy does not know."""
    names, _ = taxonomy_names()
    if text in names:
        return text
    found = synonyms().substance(words_of(text)) or next((n for n in names if fold(n) == fold(text)), None)
    if found is None:
        aliases = frozenset(" ".join(w) for w in synonyms().canonical) | names
        raise ValueError(f"unknown substance {text!r}{_hint(text, aliases)}")
    return found


def canonical_class(text: str) -> str:
    """``--class`` -> a class of the taxonomy (``stimulant``, ``cannabis`` …); ValueError with a hint."""
    _, classes = taxonomy_names()
    key = fold(text).replace(" ", "_").replace("-", "_")
    if key in classes:
        return key
    if key.endswith("s") and key[:-1] in classes:  # "stimulants"
        return key[:-1]
    raise ValueError(f"unknown substance class {text!r}{_hint(text, classes)}; classes: {', '.join(sorted(classes))}")


def _hint(text: str, choices: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(fold(text), sorted(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
